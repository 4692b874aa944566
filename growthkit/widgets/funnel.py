"""Funnel dock: build 2-10 steps (event + optional property condition) and a window, see each
step's users, conversion, drop-off and median time to convert, a time-to-convert histogram,
and drill into a step's converted or dropped leads; funnels are saved by name.

Intents leave as signals with API bodies: `funnel_requested(body)` (POST
/analytics/funnel), `step_leads_requested(body + step, outcome, cursor?)` (POST
/analytics/funnel/leads), `time_to_convert_requested(body + step)`, `lead_requested(fp)`
and `segment_saved(segment)` (after the list was saved as a live segment, see saved.py).
Drill-downs reuse the exact body of the funnel shown, so their numbers agree with it.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.chart_theme import palette_changed, style_plot
from growthkit.widgets.lead_sessions import table
from growthkit.widgets.saved import SavedItems, saved_funnels, saved_segments
from growthkit.widgets.table_model import ROW_ROLE, Column, RowsModel, key
from growthkit.widgets.times import duration, local

MIN_STEPS, MAX_STEPS = 2, 10
UNITS = {"minutes": 60, "hours": 3600, "days": 86_400}
RANGES = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
OPS = ("eq", "ne", "contains", "exists", "not_exists")


def parse_condition(text: str) -> dict[str, Any] | None:
    """`plan:eq:pro` or `coupon:exists` as a body condition; None for an empty text."""
    text = text.strip()
    if not text:
        return None
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or parts[1] not in OPS:
        raise ValueError(f"condition {text!r}: write key:op:value with op one of "
                         f"{', '.join(OPS)} (e.g. plan:eq:pro, coupon:exists)")
    cond: dict[str, Any] = {"key": parts[0], "op": parts[1]}
    if len(parts) == 3:
        cond["value"] = parts[2]
    elif parts[1] not in ("exists", "not_exists"):
        raise ValueError(f"condition {text!r}: {parts[1]} needs a value (key:{parts[1]}:value)")
    return cond


def condition_text(conds: list[dict]) -> str:
    if not conds:
        return ""
    c = conds[0]
    return ":".join(str(x) for x in (c["key"], c["op"], c.get("value")) if x is not None)


class StepRow(QWidget):
    removed = Signal(object)

    def __init__(self, names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number = QLabel()
        self.event_box = QComboBox()
        self.event_box.setEditable(True)
        self.event_box.addItems(names)
        self.event_box.setCurrentText("")
        self.event_box.lineEdit().setPlaceholderText("event name")
        self.condition = QLineEdit(placeholderText="optional condition, e.g. plan:eq:pro")
        self.remove = QPushButton("✕")
        self.remove.setFixedWidth(28)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.number)
        row.addWidget(self.event_box, 2)
        row.addWidget(self.condition, 2)
        row.addWidget(self.remove)
        self.remove.clicked.connect(lambda: self.removed.emit(self))

    def step(self) -> dict[str, Any]:
        name = self.event_box.currentText().strip()
        if not name:
            raise ValueError(f"step {self.number.text().rstrip('.')}: choose an event")
        cond = parse_condition(self.condition.text())
        return {"eventName": name, **({"where": [cond]} if cond else {})}


class FunnelWidget(QWidget):
    title = "Funnel"

    funnel_requested = Signal(dict)
    step_leads_requested = Signal(dict)
    time_to_convert_requested = Signal(dict)
    lead_requested = Signal(str)
    segment_saved = Signal(dict)

    def __init__(self, parent: QWidget | None = None, funnels: SavedItems | None = None,
                 segments: SavedItems | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("funnel")
        self.funnels = funnels or saved_funnels()
        self.segments = segments or saved_segments()
        self.names: list[str] = []
        self.rows: list[StepRow] = []
        self.body: dict | None = None  # the body of the funnel shown
        self.answer: dict | None = None
        self.step: int | None = None
        self.drill: dict | None = None  # the last drill-down request
        self.more_cursor: str | None = None
        self.saved = QComboBox()
        self.saved.setPlaceholderText("Saved funnels")
        self.save_btn, self.rename_btn, self.delete_btn = (QPushButton(t) for t in
                                                           ("Save…", "Rename…", "Delete"))
        self.steps_box = QVBoxLayout()
        self.add_btn = QPushButton("+ Step")
        self.window_box = QSpinBox(minimum=1, maximum=366 * 24, value=1)
        self.unit = QComboBox()
        self.unit.addItems(list(UNITS))
        self.unit.setCurrentText("days")
        self.range = QComboBox()
        self.range.addItems(list(RANGES))
        self.range.setCurrentText("Last 30 days")
        self.run_btn = QPushButton("Run")
        self.message = QLabel()
        self.message.setStyleSheet("color: #b00020")
        self.chart = pg.PlotWidget(title="Users per step")
        self.chart.setMouseEnabled(x=False, y=False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#3b7dd8")
        self.chart.addItem(self.bars)
        self.chart.scene().sigMouseClicked.connect(self._chart_clicked)
        self.step_model = RowsModel([
            Column("Step", key("step")), Column("Event", key("eventName")),
            Column("Users", key("users"), align_right=True),
            Column("From start", lambda r: f"{r['conversionFromStart']:.1%}",
                   key("conversionFromStart"), align_right=True),
            Column("From previous", lambda r: f"{r['conversionFromPrevious']:.1%}",
                   key("conversionFromPrevious"), align_right=True),
            Column("Drop-off", key("dropOff"), align_right=True),
            Column("Median time", lambda r: duration(r["medianSecondsToConvert"]),
                   key("medianSecondsToConvert"), align_right=True),
        ], self)
        self.step_table = table(self.step_model, self, sortable=False)
        self.converted_btn = QPushButton("Converted leads")
        self.dropped_btn = QPushButton("Dropped leads")
        self.histogram = pg.PlotWidget(title="Time to convert")
        self.histogram.setMouseEnabled(x=False, y=False)
        self.histogram.setLabel("bottom", "seconds from the previous step")
        self.hist_bars = pg.BarGraphItem(x=[], height=[], width=1, brush="#6aa84f")
        self.histogram.addItem(self.hist_bars)
        self.lead_caption = QLabel("Select a step, then its converted or dropped leads")
        self.lead_model = RowsModel([
            Column("Fingerprint", key("fingerprint")), Column("Email", key("email")),
            Column("Name", key("name")),
            Column("Entered", lambda r: local(r["enteredAt"]), key("enteredAt")),
            Column("Furthest step", key("lastStep"), align_right=True),
            Column("Time to convert", lambda r: duration(r.get("secondsToConvert")),
                   key("secondsToConvert"), align_right=True),
            Column("Events", key("events"), align_right=True),
        ], self)
        self.lead_table = table(self.lead_model, self)
        self.more_btn = QPushButton("More")
        self.more_btn.hide()
        self.segment_btn = QPushButton("Save list as segment…")
        self.segment_btn.setEnabled(False)
        self._layout()
        self._connect()
        self._reload_saved()
        self._style_plots()
        for _ in range(MIN_STEPS):
            self.add_step()


    def _style_plots(self) -> None:
        for plot in (self.chart, self.histogram,):
            style_plot(plot, self.palette())

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if palette_changed(event):
            self._style_plots()

    def _layout(self) -> None:
        saved = QHBoxLayout()
        for w in (self.saved, self.save_btn, self.rename_btn, self.delete_btn):
            saved.addWidget(w)
        options = QHBoxLayout()
        for w in (self.add_btn, QLabel("Window"), self.window_box, self.unit, self.range,
                  self.run_btn):
            options.addWidget(w)
        options.addStretch(1)
        editor = QVBoxLayout()
        editor.addLayout(saved)
        editor.addLayout(self.steps_box)
        editor.addLayout(options)
        editor.addWidget(self.message)
        drill = QHBoxLayout()
        drill.addWidget(self.converted_btn)
        drill.addWidget(self.dropped_btn)
        drill.addStretch(1)
        results = QWidget()
        box = QVBoxLayout(results)
        box.setContentsMargins(0, 0, 0, 0)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.chart)
        top.addWidget(self.histogram)
        box.addWidget(top, 2)
        box.addWidget(self.step_table, 1)
        box.addLayout(drill)
        leads = QWidget()
        lbox = QVBoxLayout(leads)
        lbox.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.lead_caption, 1)
        head.addWidget(self.more_btn)
        head.addWidget(self.segment_btn)
        lbox.addLayout(head)
        lbox.addWidget(self.lead_table)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(results)
        split.addWidget(leads)
        split.setSizes([420, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(editor)
        layout.addWidget(split, 1)

    def _connect(self) -> None:
        self.add_btn.clicked.connect(lambda: self.add_step())
        self.run_btn.clicked.connect(self.run)
        self.save_btn.clicked.connect(self._ask_save)
        self.rename_btn.clicked.connect(self._ask_rename)
        self.delete_btn.clicked.connect(self._delete)
        self.saved.activated.connect(lambda _i: self.open_funnel(self.saved.currentText()))
        self.step_table.selectionModel().selectionChanged.connect(self._step_selected)
        self.converted_btn.clicked.connect(lambda: self.request_leads("converted"))
        self.dropped_btn.clicked.connect(lambda: self.request_leads("dropped"))
        self.more_btn.clicked.connect(self._more)
        self.lead_table.doubleClicked.connect(self._open_lead)
        self.segment_btn.clicked.connect(self._ask_segment)
        self.funnels.changed.connect(self._reload_saved)

    def use_stores(self, funnels: SavedItems, segments: SavedItems) -> None:
        """Keep saved funnels and segments in these stores (the console's settings file)."""
        self.funnels.changed.disconnect(self._reload_saved)
        self.funnels, self.segments = funnels, segments
        self.funnels.changed.connect(self._reload_saved)
        self._reload_saved()

    # --- the editor --------------------------------------------------------------------
    def set_event_names(self, names: list[str]) -> None:
        """Names offered in the step boxes (e.g. from the stats' top events)."""
        self.names = list(names)
        for row in self.rows:
            text = row.event_box.currentText()
            row.event_box.clear()
            row.event_box.addItems(self.names)
            row.event_box.setCurrentText(text)

    def add_step(self, event: str = "", condition: str = "") -> StepRow | None:
        if len(self.rows) >= MAX_STEPS:
            return None
        row = StepRow(self.names, self)
        row.event_box.setCurrentText(event)
        row.condition.setText(condition)
        row.removed.connect(self._remove_step)
        self.rows.append(row)
        self.steps_box.addWidget(row)
        self._renumber()
        return row

    def _remove_step(self, row: StepRow) -> None:
        if len(self.rows) <= MIN_STEPS:
            return
        self.rows.remove(row)
        row.deleteLater()
        self._renumber()

    def _renumber(self) -> None:
        for i, row in enumerate(self.rows, 1):
            row.number.setText(f"{i}.")
            row.remove.setEnabled(len(self.rows) > MIN_STEPS)
        self.add_btn.setEnabled(len(self.rows) < MAX_STEPS)

    def set_steps(self, steps: list[dict]) -> None:
        while len(self.rows) > len(steps) and len(self.rows) > MIN_STEPS:
            self._remove_step(self.rows[-1])
        while len(self.rows) < len(steps):
            self.add_step()
        for row, step in zip(self.rows, steps, strict=False):
            row.event_box.setCurrentText(step["eventName"])
            row.condition.setText(condition_text(step.get("where", [])))

    def definition(self) -> dict[str, Any]:
        """What a saved funnel keeps: steps, window and range (not absolute times)."""
        return {"steps": [row.step() for row in self.rows],
                "windowSeconds": self.window_box.value() * UNITS[self.unit.currentText()],
                "rangeDays": RANGES[self.range.currentText()]}

    def current_body(self, now: dt.datetime | None = None) -> dict[str, Any]:
        d = self.definition()
        end = now or dt.datetime.now(dt.UTC)
        start = end - dt.timedelta(days=d.pop("rangeDays"))
        iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
        return {**d, "from": iso(start), "to": iso(end)}

    def run(self) -> None:
        try:
            body = self.current_body()
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("")
        self.body = body
        self.funnel_requested.emit(copy.deepcopy(body))

    # --- saved funnels -----------------------------------------------------------------
    def _reload_saved(self) -> None:
        current = self.saved.currentText()
        self.saved.clear()
        self.saved.addItems(self.funnels.names())
        if current:
            self.saved.setCurrentText(current)

    def save_funnel(self, name: str) -> None:
        self.funnels.put(name, self.definition())
        self.saved.setCurrentText(name.strip())

    def open_funnel(self, name: str) -> None:
        d = self.funnels.get(name)
        self.set_steps(d["steps"])
        seconds = d["windowSeconds"]
        unit = next((u for u in ("days", "hours", "minutes") if seconds % UNITS[u] == 0),
                    "minutes")
        self.unit.setCurrentText(unit)
        self.window_box.setValue(max(1, seconds // UNITS[unit]))
        days = d.get("rangeDays", 30)
        self.range.setCurrentText(next((k for k, v in RANGES.items() if v == days),
                                       "Last 30 days"))
        self.saved.setCurrentText(name)
        self.run()

    def rename_funnel(self, old: str, new: str) -> None:
        self.funnels.rename(old, new)
        self.saved.setCurrentText(new.strip())

    def _ask_save(self) -> None:
        name, ok = QInputDialog.getText(self, "Save funnel", "Name",
                                        text=self.saved.currentText())
        if ok and name.strip():
            try:
                self.save_funnel(name)
            except ValueError as exc:
                self.message.setText(str(exc))

    def _ask_rename(self) -> None:
        old = self.saved.currentText()
        if not old:
            return
        new, ok = QInputDialog.getText(self, "Rename funnel", "New name", text=old)
        if ok and new.strip():
            try:
                self.rename_funnel(old, new)
            except ValueError as exc:
                self.message.setText(str(exc))

    def _delete(self) -> None:
        if self.saved.currentText():
            self.funnels.remove(self.saved.currentText())

    # --- answers -----------------------------------------------------------------------
    def show_data(self, data: dict) -> None:
        """A `POST /analytics/funnel` answer."""
        self.answer = data
        steps = data.get("steps", [])
        self.step_model.set_rows([{"step": i, **s} for i, s in enumerate(steps, 1)])
        self.step_table.resizeColumnsToContents()
        users = np.array([s["users"] for s in steps], dtype=np.float64)
        self.bars.setOpts(x=np.arange(1, len(steps) + 1), height=users, width=0.6)
        self.chart.getAxis("bottom").setTicks([[(i, f"{i}. {s['eventName']}")
                                                for i, s in enumerate(steps, 1)]])
        for item in [i for i in self.chart.items() if isinstance(i, pg.TextItem)]:
            self.chart.removeItem(item)
        for i, s in enumerate(steps, 1):
            label = pg.TextItem(f"{s['users']}\n{s['conversionFromStart']:.0%}",
                                anchor=(0.5, 1), color="#333")
            label.setPos(i, s["users"])
            self.chart.addItem(label)
        self.chart.setXRange(0.4, len(steps) + 0.6, padding=0)
        self.chart.setYRange(0, max(users.max() if len(users) else 1, 1) * 1.25, padding=0)
        self.step = None
        self.lead_model.set_rows([])
        self.hist_bars.setOpts(x=[], height=[])
        self._update_buttons()

    def _chart_clicked(self, event) -> None:
        pos = self.chart.plotItem.vb.mapSceneToView(event.scenePos())
        step = int(round(pos.x()))
        if self.answer and 1 <= step <= len(self.answer["steps"]):
            self.select_step(step)

    def select_step(self, step: int) -> None:
        self.step_table.selectRow(step - 1)

    def _step_selected(self) -> None:
        rows = self.step_table.selectionModel().selectedRows()
        if not rows or self.body is None:
            return
        self.step = self.step_table.model().data(rows[0], ROW_ROLE)["step"]
        self._update_buttons()
        if self.step >= 2:
            self.time_to_convert_requested.emit({**copy.deepcopy(self.body), "step": self.step})

    def _update_buttons(self) -> None:
        self.converted_btn.setEnabled(self.step is not None)
        self.dropped_btn.setEnabled(self.step is not None and self.step >= 2)

    def request_leads(self, outcome: str, cursor: str | None = None) -> None:
        if self.body is None or self.step is None:
            return
        self.drill = {**copy.deepcopy(self.body), "step": self.step, "outcome": outcome}
        self.step_leads_requested.emit({**self.drill, **({"cursor": cursor} if cursor else {})})

    def _more(self) -> None:
        if self.drill and self.more_cursor:
            self.request_leads(self.drill["outcome"], self.more_cursor)

    def show_step_leads(self, data: dict, append: bool = False) -> None:
        """A `POST /analytics/funnel/leads` answer."""
        rows = data.get("data", [])
        if append:
            self.lead_model.append_rows(rows)
        else:
            self.lead_model.set_rows(rows)
        self.more_cursor = data.get("nextCursor")
        if not append:
            self.lead_table.resizeColumnsToContents()
        self.more_btn.setVisible(bool(self.more_cursor))
        self.lead_caption.setText(f"Step {data['step']} ({data['eventName']}): "
                                  f"{data['count']} {data['outcome']} leads")
        self.segment_btn.setEnabled(True)

    def show_time_to_convert(self, data: dict) -> None:
        """A `POST /analytics/funnel/time-to-convert` answer."""
        bins = data.get("bins", [])
        top = bins[-1]["toSeconds"] if bins else 0
        unit, scale = next(((u, s) for u, s in (("days", 86_400), ("hours", 3600),
                                                ("minutes", 60)) if top >= 2 * s),
                           ("seconds", 1))
        x = np.array([(b["fromSeconds"] + b["toSeconds"]) / 2 / scale for b in bins],
                     dtype=np.float64)
        h = np.array([b["users"] for b in bins], dtype=np.float64)
        width = (bins[0]["toSeconds"] - bins[0]["fromSeconds"]) / scale * 0.9 if bins else 1
        self.hist_bars.setOpts(x=x, height=h, width=width)
        self.histogram.setLabel("bottom", f"{unit} from the previous step")
        median = duration(data.get("medianSeconds"))
        self.histogram.setTitle(f"Time to convert to step {data['step']} "
                                f"({data['eventName']}): median {median or '—'}")

    def leads_shown(self) -> list[str]:
        return [r["fingerprint"] for r in self.lead_model.rows]

    def _open_lead(self, index: QModelIndex) -> None:
        row = self.lead_table.model().data(index, ROW_ROLE)
        if row:
            self.lead_requested.emit(row["fingerprint"])

    # --- a drill-down as a segment -----------------------------------------------------
    def save_as_segment(self, name: str) -> dict:
        """The shown drill-down as a live segment (evaluated again whenever opened)."""
        assert self.drill is not None
        segment = {"name": name.strip(), "kind": "funnel",
                   "funnel": {k: v for k, v in self.drill.items()
                              if k not in ("step", "outcome")},
                   "step": self.drill["step"], "outcome": self.drill["outcome"]}
        self.segments.put(name, segment)
        self.segment_saved.emit(segment)
        return segment

    def _ask_segment(self) -> None:
        if not self.drill:
            return
        default = f"{self.drill['outcome'].capitalize()} at step {self.drill['step']}"
        name, ok = QInputDialog.getText(self, "Save as segment", "Segment name", text=default)
        if ok and name.strip():
            self.save_as_segment(name)
