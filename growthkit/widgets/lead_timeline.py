"""The lead profile's Timeline tab: events (🔵) and credit operations (💰) in one list with
time-gap indicators, filters by kind and range, paging on scroll, and a time axis with the
two kinds on separate lanes (zoom, hover details, a click selects the row).

Rows are built from `GET /leads/{fp}/timeline` pages. A gap row goes before an item that
comes at least GAP_MIN_SECONDS after the item shown before it, and a day row before the
first item of each day (in the profile's zone; items show only their time). A credit
operation of amount 0 (a ledger opened with no initial credits) is not shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.chart_theme import palette_changed, style_plot
from growthkit.widgets.table_model import Column, RowsModel
from growthkit.widgets.times import DATE_FORMAT, epoch_seconds, gap_label, local, parse, zone_name

EVENT_ICON, CREDIT_ICON = "🔵", "💰"
GAP_MIN_SECONDS = 5
KINDS = {"Events and credits": None, "Events only": "event", "Credits only": "credit"}
EVENT_LANE, CREDIT_LANE = 1, 0
PAGE_SIZE = 200
EVENT_BRUSH, CREDIT_BRUSH = pg.mkBrush("#3b7dd8"), pg.mkBrush("#d9a400")
DAY_FONT = QFont()
DAY_FONT.setBold(True)


def credit_text(amount: int) -> str:
    n = abs(amount)
    unit = "credit" if n == 1 else "credits"
    return f"({n} {unit} {'spent' if amount < 0 else 'earned'})"


def _props(properties: dict[str, Any]) -> str:
    if not properties:
        return ""
    parts = [f"{k}: {v}" for k, v in list(properties.items())[:3]]
    more = ", …" if len(properties) > 3 else ""
    return f" ({', '.join(parts)}{more})"


def item_line(item: dict, tz: ZoneInfo | None) -> str:
    """`10:32:46 - 💰 create-project (5 credits spent)`; events: `10:32:40 - 🔵 page_viewed`."""
    when = local(item["timestamp"], tz, "%H:%M:%S")
    details = item.get("details") or {}
    if item["kind"] == "credit":
        return f"{when} - {CREDIT_ICON} {item['name']} {credit_text(details.get('amount', 0))}"
    return f"{when} - {EVENT_ICON} {item['name']}{_props(details.get('properties') or {})}"


def shown(item: dict) -> bool:
    return not (item["kind"] == "credit" and (item.get("details") or {}).get("amount") == 0)


def day_label(t: float, tz: ZoneInfo | None) -> str:
    """`2026-11-28 · Saturday`: the date of an epoch-seconds time in `tz` (default: local)."""
    when = dt.datetime.fromtimestamp(t, tz) if tz else dt.datetime.fromtimestamp(t).astimezone()
    return when.strftime("%Y-%m-%d · %A")


def timeline_rows(items: list[dict], tz: ZoneInfo | None,
                  previous: float | None = None) -> tuple[list[dict], float | None]:
    """Rows for a page of items: `{kind: event|credit|gap|day, text, item?}`, and the time
    (epoch s) of the last item shown, to continue the gaps and days on the next page."""
    rows: list[dict] = []
    for item in items:
        if not shown(item):
            continue
        t = epoch_seconds(item["timestamp"])
        if previous is not None and abs(t - previous) >= GAP_MIN_SECONDS:
            rows.append({"kind": "gap", "text": gap_label(abs(t - previous)), "t": t})
        day = day_label(t, tz)
        if previous is None or day != day_label(previous, tz):
            rows.append({"kind": "day", "text": day, "t": t})
        rows.append({"kind": item["kind"], "text": item_line(item, tz), "t": t, "item": item})
        previous = t
    return rows, previous


def _tooltip(row: dict) -> str | None:
    item = row.get("item")
    if not item:
        return None
    details = item.get("details") or {}
    lines = [f"{item['kind']}: {item['name']}", item["timestamp"]]
    lines += [f"{k}: {v}" for k, v in details.items() if k != "properties"]
    lines += [f"  {k}: {v}" for k, v in (details.get("properties") or {}).items()]
    return "\n".join(lines)


class TimelineModel(RowsModel):
    def __init__(self, parent=None) -> None:
        super().__init__([Column("Timeline", lambda r: r["text"], tooltip=_tooltip)], parent)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        kind = self.rows[index.row()]["kind"] if index.isValid() else None
        if kind == "gap":
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor("#888888"))
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignCenter)
        if kind == "day" and role == Qt.ItemDataRole.FontRole:
            return DAY_FONT
        return super().data(index, role)


class TimelineTab(QWidget):
    """`timeline_requested({kind, start, end, cursor})` asks for a page; the console answers
    with `show_page(page, append=bool(cursor))`."""

    timeline_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tz: ZoneInfo | None = None
        self.next_cursor: str | None = None
        self.loading = False
        self.last_t: float | None = None
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.ranged = QCheckBox("From")
        today = QDate.currentDate()
        self.start = QDateEdit(today.addDays(-30), calendarPopup=True)
        self.end = QDateEdit(today, calendarPopup=True)
        for edit in (self.start, self.end):
            edit.setDisplayFormat(DATE_FORMAT)
        self.zone = QLabel()
        self.model = TimelineModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().hide()
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setMinimumHeight(110)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.getAxis("left").setTicks([[(EVENT_LANE, "events"), (CREDIT_LANE, "credits")]])
        self.plot.setYRange(-0.6, 1.6, padding=0)
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen(None), hoverable=True,
                                          hoverSize=13, tip=self._tip)
        self.plot.addItem(self.scatter)
        self.scatter.sigClicked.connect(self._point_clicked)

        bar = QHBoxLayout()
        bar.addWidget(self.kind)
        bar.addWidget(self.ranged)
        bar.addWidget(self.start)
        bar.addWidget(QLabel("to"))
        bar.addWidget(self.end)
        bar.addStretch(1)
        bar.addWidget(self.zone)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.setSizes([140, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.kind.currentIndexChanged.connect(lambda _i: self.reload())
        self.ranged.toggled.connect(lambda _on: self.reload())
        self.start.dateChanged.connect(lambda _d: self.ranged.isChecked() and self.reload())
        self.end.dateChanged.connect(lambda _d: self.ranged.isChecked() and self.reload())
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.set_time_zone(None)
        self._style_plots()


    def _style_plots(self) -> None:
        for plot in (self.plot,):
            style_plot(plot, self.palette())

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if palette_changed(event):
            self._style_plots()

    def set_time_zone(self, tz: ZoneInfo | None) -> None:
        self.tz = tz
        self.zone.setText(f"times in {zone_name(tz)}")

    def reset_filters(self) -> None:
        """Both kinds, any time (as a lead's first page is loaded), asking for nothing."""
        for box in (self.kind, self.ranged):
            box.blockSignals(True)
        self.kind.setCurrentIndex(0)
        self.ranged.setChecked(False)
        for box in (self.kind, self.ranged):
            box.blockSignals(False)

    # --- requests ----------------------------------------------------------------------
    def request(self, cursor: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": KINDS[self.kind.currentText()], "limit": PAGE_SIZE}
        if self.ranged.isChecked():
            out["start"] = self._day_start(self.start.date())
            out["end"] = self._day_start(self.end.date().addDays(1))
        if cursor:
            out["cursor"] = cursor
        return out

    def _day_start(self, day: QDate) -> str:
        tz = self.tz or dt.datetime.now().astimezone().tzinfo
        moment = dt.datetime(day.year(), day.month(), day.day(), tzinfo=tz)
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

    def reload(self) -> None:
        self.loading = True
        self.timeline_requested.emit(self.request())

    def _scrolled(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        if self.next_cursor and not self.loading and value >= bar.maximum() - 2:
            self.load_more()

    def load_more(self) -> None:
        if self.next_cursor and not self.loading:
            self.loading = True
            self.timeline_requested.emit(self.request(self.next_cursor))

    # --- answers -----------------------------------------------------------------------
    def show_page(self, page: dict, append: bool = False) -> None:
        self.loading = False
        rows, last = timeline_rows(page.get("data", []), self.tz,
                                   self.last_t if append else None)
        self.last_t = last if rows else (self.last_t if append else None)
        if append:
            self.model.append_rows(rows)
        else:
            self.model.set_rows(rows)
        self.next_cursor = page.get("nextCursor")
        self._plot()

    def lines(self) -> list[str]:
        return [r["text"] for r in self.model.rows]

    def _plot(self) -> None:
        items = [(i, r) for i, r in enumerate(self.model.rows) if r.get("item")]
        xs = np.array([r["t"] for _, r in items], dtype=np.float64)
        lanes = np.array([EVENT_LANE if r["kind"] == "event" else CREDIT_LANE
                          for _, r in items], dtype=np.float64)
        brushes = [EVENT_BRUSH if lane == EVENT_LANE else CREDIT_BRUSH for lane in lanes]
        self.scatter.setData(x=xs, y=lanes, brush=brushes, data=[i for i, _ in items])
        if len(xs):
            pad = max((xs.max() - xs.min()) * 0.03, 30.0)
            self.plot.setXRange(xs.min() - pad, xs.max() + pad, padding=0)

    def _tip(self, x: float, y: float, data: Any) -> str:
        row = self.model.rows[data] if isinstance(data, int) else None
        if not row:
            return ""
        when = local(row["item"]["timestamp"], self.tz)
        return f"{when}\n{row['text'].split(' - ', 1)[-1]}"

    def _point_clicked(self, _item, points, _event=None) -> None:
        if len(points):
            self.select_row(int(points[0].data()))

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def first_time(self) -> dt.datetime | None:
        for row in self.model.rows:
            if row.get("item"):
                return parse(row["item"]["timestamp"])
        return None
