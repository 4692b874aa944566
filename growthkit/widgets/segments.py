"""Segments dock: the built-in segments and the saved custom ones with their counts, a small
form for custom rules ("did X at least N times in D days", "did X but not Y"), and opening a
segment's members in the Leads dock.

`show_data` takes `GET /analytics/segments`. Custom segments live in saved.py's store;
their counts are asked for with `count_requested(segment)` and come back through
`show_count(name, count)`. `members_requested(segment)` asks the console to list a
segment's members in the Leads dock: `{"name", "kind": "builtin", "id"}`, a saved rule or a
saved funnel step (see saved.py).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.lead_sessions import table
from growthkit.widgets.saved import SavedItems, saved_segments
from growthkit.widgets.table_model import ROW_ROLE, Column, RowsModel, key

KIND_NAMES = {"builtin": "built-in", "rule": "custom rule", "funnel": "funnel step"}


def describe(segment: dict) -> str:
    """A custom segment in words."""
    if segment["kind"] == "funnel":
        steps = segment["funnel"]["steps"]
        k = segment["step"]
        return (f"{segment['outcome']} at step {k} ({steps[k - 1]['eventName']}) of "
                + " → ".join(s["eventName"] for s in steps))
    rule = segment["rule"]
    did, did_not = [], []
    for d in rule.get("did", []):
        times = f" at least {d['atLeast']} times" if d.get("atLeast", 1) > 1 else ""
        days = f" in {d['days']} days" if d.get("days") else ""
        did.append(f"did {d['eventName']}{times}{days}")
    for d in rule.get("didNot", []):
        days = f" in {d['days']} days" if d.get("days") else ""
        did_not.append(f"{d['eventName']}{days}")
    text = " and ".join(did) or "all leads"
    return text + (f" but not {' or '.join(did_not)}" if did_not else "")


class RuleForm(QGroupBox):
    """did [event] at least [N] times in [D] days, but not [event] in [D] days."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Custom rule", parent)
        self.name = QLineEdit(placeholderText="segment name")
        self.did = QComboBox()
        self.did.setEditable(True)
        self.at_least = QSpinBox(minimum=1, maximum=1_000_000, value=1)
        self.days = QSpinBox(minimum=0, maximum=3660, value=0, specialValueText="ever")
        self.use_not = QCheckBox("but not")
        self.did_not = QComboBox()
        self.did_not.setEditable(True)
        self.not_days = QSpinBox(minimum=0, maximum=3660, value=0, specialValueText="ever")
        self.save = QPushButton("Save rule")
        self.delete = QPushButton("Delete")
        did = QHBoxLayout()
        for w in (QLabel("did"), self.did, QLabel("at least"), self.at_least,
                  QLabel("times in (days)"), self.days):
            did.addWidget(w)
        didnot = QHBoxLayout()
        for w in (self.use_not, self.did_not, QLabel("in (days)"), self.not_days):
            didnot.addWidget(w)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.delete)
        buttons.addWidget(self.save)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow(did)
        form.addRow(didnot)
        form.addRow(buttons)

    def set_event_names(self, names: list[str]) -> None:
        for box in (self.did, self.did_not):
            text = box.currentText()
            box.clear()
            box.addItems(names)
            box.setCurrentText(text)

    def rule(self) -> dict[str, Any]:
        event = self.did.currentText().strip()
        if not event:
            raise ValueError("did: choose the event leads did")
        did: dict[str, Any] = {"eventName": event}
        if self.at_least.value() > 1:
            did["atLeast"] = self.at_least.value()
        if self.days.value():
            did["days"] = self.days.value()
        rule: dict[str, Any] = {"did": [did], "didNot": []}
        if self.use_not.isChecked():
            other = self.did_not.currentText().strip()
            if not other:
                raise ValueError("but not: choose the event leads did not do")
            d: dict[str, Any] = {"eventName": other}
            if self.not_days.value():
                d["days"] = self.not_days.value()
            rule["didNot"] = [d]
        return rule

    def load(self, segment: dict) -> None:
        self.name.setText(segment["name"])
        did = (segment["rule"].get("did") or [{}])[0]
        self.did.setCurrentText(did.get("eventName", ""))
        self.at_least.setValue(did.get("atLeast", 1))
        self.days.setValue(did.get("days") or 0)
        nots = segment["rule"].get("didNot") or []
        self.use_not.setChecked(bool(nots))
        self.did_not.setCurrentText(nots[0]["eventName"] if nots else "")
        self.not_days.setValue((nots[0].get("days") or 0) if nots else 0)


class SegmentsWidget(QWidget):
    title = "Segments"

    count_requested = Signal(dict)
    members_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None, store: SavedItems | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("segments")
        self.store = store or saved_segments()
        self.builtins: list[dict] = []
        self.counts: dict[str, int] = {}
        self.model = RowsModel([
            Column("Segment", key("name")),
            Column("Kind", lambda r: KIND_NAMES[r["kind"]]),
            Column("Count", lambda r: "…" if r.get("count") is None else f"{r['count']:,}",
                   key("count"), align_right=True),
            Column("Members", key("description")),
        ], self)
        self.table = table(self.model, self)
        self.open_btn = QPushButton("Open in Leads")
        self.form = RuleForm(self)
        self.message = QLabel()
        self.message.setStyleSheet("color: #b00020")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.form)
        layout.addWidget(self.message)
        self.table.doubleClicked.connect(self._open_index)
        self.open_btn.clicked.connect(self._open_selected)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.form.save.clicked.connect(self.save_rule)
        self.form.delete.clicked.connect(self._delete)
        self.store.changed.connect(self.refresh_custom)
        self._rebuild()

    def set_event_names(self, names: list[str]) -> None:
        self.form.set_event_names(names)

    def use_store(self, store: SavedItems) -> None:
        """Keep custom segments in this store (the console's settings file)."""
        self.store.changed.disconnect(self.refresh_custom)
        self.store = store
        self.store.changed.connect(self.refresh_custom)
        self._rebuild()

    # --- the table ---------------------------------------------------------------------
    def show_data(self, data: dict) -> None:
        """A `GET /analytics/segments` answer."""
        self.builtins = [{"name": s["name"], "kind": "builtin", "id": s["id"],
                          "count": s["count"], "description": s["description"],
                          **({"event": s["event"]} if s.get("event") else {})}
                         for s in data.get("data", [])]
        self._rebuild()
        self.refresh_custom()

    def custom(self) -> list[dict]:
        return [{**seg, "name": name} for name, seg in self.store.items().items()]

    def refresh_custom(self) -> None:
        """Rebuild the rows and ask for every custom segment's count again."""
        self._rebuild()
        for seg in self.custom():
            self.count_requested.emit(seg)

    def _rebuild(self) -> None:
        rows = list(self.builtins)
        for seg in self.custom():
            rows.append({**seg, "count": self.counts.get(seg["name"]),
                         "description": describe(seg)})
        self.model.set_rows(rows)

    def show_count(self, name: str, count: int) -> None:
        self.counts[name] = count
        for i, row in enumerate(self.model.rows):
            if row["kind"] != "builtin" and row["name"] == name:
                row["count"] = count
                self.model.dataChanged.emit(self.model.index(i, 2), self.model.index(i, 2))

    def count_of(self, name: str) -> int | None:
        return next((r.get("count") for r in self.model.rows if r["name"] == name), None)

    # --- opening -----------------------------------------------------------------------
    def open_segment(self, name: str) -> None:
        row = next(r for r in self.model.rows if r["name"] == name)
        self.members_requested.emit({k: v for k, v in row.items()
                                     if k not in ("count", "description")})

    def _open_index(self, index: QModelIndex) -> None:
        row = self.table.model().data(index, ROW_ROLE)
        if row:
            self.open_segment(row["name"])

    def _open_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self._open_index(rows[0])

    def _selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        row = self.table.model().data(rows[0], ROW_ROLE) if rows else None
        if row and row["kind"] == "rule":
            self.form.load(row)

    # --- the rule form -----------------------------------------------------------------
    def save_rule(self) -> dict | None:
        name = self.form.name.text().strip()
        try:
            if not name:
                raise ValueError("name: give the segment a name")
            if any(b["name"] == name for b in self.builtins):
                raise ValueError(f"name: {name!r} is a built-in segment")
            segment = {"name": name, "kind": "rule", "rule": self.form.rule()}
        except ValueError as exc:
            self.message.setText(str(exc))
            return None
        self.message.setText("")
        self.counts.pop(name, None)
        self.store.put(name, segment)  # `changed` rebuilds and asks for the counts
        return segment

    def _delete(self) -> None:
        name = self.form.name.text().strip()
        if name in self.store.items():
            self.store.remove(name)

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.model().data(rows[0], ROW_ROLE)["name"] if rows else None

    def select(self, name: str) -> None:
        proxy = self.table.model()
        for i in range(proxy.rowCount()):
            if proxy.data(proxy.index(i, 0), ROW_ROLE)["name"] == name:
                self.table.selectRow(i)
                return
        raise KeyError(name)

