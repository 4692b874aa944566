"""The filters dock (event names with counts, date range, property conditions, search) and
the chips bar that shows the active filter and removes parts of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

# The rolling date presets: the filter holds the key, the console works out `start` at each
# load (so "last hour" keeps moving while the console stays open).
PRESETS = {"1h": ("Last hour", dt.timedelta(hours=1)),
           "24h": ("Last 24 hours", dt.timedelta(hours=24)),
           "7d": ("Last 7 days", dt.timedelta(days=7)),
           "30d": ("Last 30 days", dt.timedelta(days=30)),
           "90d": ("Last 90 days", dt.timedelta(days=90))}
OPS = ("eq", "ne", "contains", "exists", "not_exists")
NAME_ROLE = Qt.ItemDataRole.UserRole


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def describe(flt: dict) -> list[tuple[str, str, Any]]:
    """The filter as chips: (text, key, the value removed by that chip)."""
    chips: list[tuple[str, str, Any]] = []
    for name in flt.get("event") or []:
        chips.append((f"event: {name}", "event", name))
    if flt.get("preset") in PRESETS:
        chips.append((PRESETS[flt["preset"]][0], "preset", None))
    for key, label in (("start", "from"), ("end", "to")):
        when = _as_datetime(flt.get(key))
        if when is not None:
            chips.append((f"{label} {when.astimezone().strftime('%Y-%m-%d %H:%M')}", key, None))
    for cond in flt.get("where") or []:
        chips.append((f"where {cond}", "where", cond))
    if flt.get("search"):
        chips.append((f"search: {flt['search']}", "search", None))
    if flt.get("fingerprint"):
        chips.append((f"lead: {flt['fingerprint']}", "fingerprint", None))
    return chips


def without(flt: dict, key: str, value: Any) -> dict:
    out = dict(flt)
    if key in ("event", "where"):
        rest = [v for v in out.get(key) or [] if v != value]
        if rest:
            out[key] = rest
        else:
            out.pop(key, None)
    else:
        out.pop(key, None)
    return out


class FilterChips(QWidget):
    """The active filter as removable chips; always visible above the docks."""

    filter_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterChips")
        self.filter: dict = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 2, 4, 2)
        self._layout.setSpacing(4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.set_filter({})

    def chip_texts(self) -> list[str]:
        return [b.text().removesuffix("  ✕") for b in self.chips]

    def chip(self, text: str) -> QToolButton:
        return next(b for b in self.chips if b.text().removesuffix("  ✕") == text)

    def set_filter(self, flt: dict) -> None:
        self.filter = dict(flt)
        self.chips: list[QToolButton] = []
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        chips = describe(flt)
        label = QLabel("Filter:" if chips else "No filter: every event, each dock's "
                       "default range", self)
        label.setTextFormat(Qt.TextFormat.PlainText)
        self._layout.addWidget(label)
        for text, key, value in chips:
            chip = QToolButton(self)
            chip.setObjectName("chip")
            chip.setText(f"{text}  ✕")  # QToolButton text is never rich text
            chip.setToolTip("Remove this condition")
            chip.clicked.connect(lambda _=False, k=key, v=value: self._remove(k, v))
            self._layout.addWidget(chip)
            self.chips.append(chip)
        if chips:
            clear = QToolButton(self)
            clear.setObjectName("clearFilter")
            clear.setText("Clear all")
            clear.clicked.connect(lambda: self.filter_changed.emit({}))
            self._layout.addWidget(clear)
        self._layout.addStretch(1)

    def _remove(self, key: str, value: Any) -> None:
        self.filter_changed.emit(without(self.filter, key, value))


class FiltersWidget(QWidget):
    """Builds the shared filter. `show_data` takes an event-frequency answer (the names of
    the range with their counts); every edit emits the whole new filter."""

    title = "Filters"
    filter_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filters")
        self.filter: dict = {}
        self._quiet = False

        self.names = QListWidget(self)
        self.names.setObjectName("eventNames")
        self.names.itemChanged.connect(self._names_changed)
        self.name_search = QLineEdit(self, placeholderText="Find an event name…")
        self.name_search.textChanged.connect(self._hide_names)

        self.range = QComboBox(self)
        self.range.setObjectName("range")
        self.range.addItem("Each dock's default range", "")
        for key, (label, _span) in PRESETS.items():
            self.range.addItem(label, key)
        self.range.addItem("Custom range", "custom")
        self.range.currentIndexChanged.connect(self._range_changed)
        now = QDateTime.currentDateTime()
        self.start_edit = QDateTimeEdit(now.addDays(-7), self, calendarPopup=True)
        self.end_edit = QDateTimeEdit(now, self, calendarPopup=True)
        for edit in (self.start_edit, self.end_edit):
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setEnabled(False)
            edit.dateTimeChanged.connect(self._custom_changed)

        self.path = QLineEdit(self, placeholderText="property (e.g. plan or utm.source)")
        self.op = QComboBox(self)
        self.op.addItems(OPS)
        self.value = QLineEdit(self, placeholderText="value")
        self.op.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        add = QPushButton("Add", self)
        add.setToolTip("Add this property condition to the filter")
        add.clicked.connect(self._add_condition)
        self.value.returnPressed.connect(self._add_condition)

        self.search = QLineEdit(self, placeholderText="Search event names and properties")
        self.search.setObjectName("search")
        self.search.setClearButtonEnabled(True)
        self._search_delay = QTimer(self, singleShot=True, interval=350)
        self._search_delay.timeout.connect(self._search_changed)
        self.search.textChanged.connect(lambda _: self._search_delay.start())

        form = QFormLayout()
        form.addRow("Search", self.search)
        form.addRow("Range", self.range)
        form.addRow("From", self.start_edit)
        form.addRow("To", self.end_edit)
        # Two rows, so the condition stays readable in a narrow dock.
        form.addRow("Where", self.path)
        cond = QHBoxLayout()
        cond.addWidget(self.op)
        cond.addWidget(self.value, 1)
        cond.addWidget(add)
        form.addRow("", cond)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Events (count in range):", self))
        layout.addWidget(self.name_search)
        layout.addWidget(self.names, 1)

    # -- data in
    def show_data(self, data: dict) -> None:
        """Refill the names with counts, keeping what is checked and the scroll position."""
        counts = {e["eventName"]: int(e.get("count") or 0) for e in data.get("events") or []}
        chosen = set(self.filter.get("event") or [])
        for name in chosen:
            counts.setdefault(name, 0)
        scroll = self.names.verticalScrollBar().value()
        self._quiet = True
        self.names.setUpdatesEnabled(False)
        existing = {self.names.item(i).data(NAME_ROLE): self.names.item(i)
                    for i in range(self.names.count())}
        ordered = sorted(counts, key=lambda n: (-counts[n], n))
        for name in set(existing) - set(counts):
            self.names.takeItem(self.names.row(existing.pop(name)))
        for row, name in enumerate(ordered):
            item = existing.get(name)
            if item is None:
                item = QListWidgetItem()
                item.setData(NAME_ROLE, name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                self.names.insertItem(row, item)
            elif self.names.row(item) != row:
                self.names.insertItem(row, self.names.takeItem(self.names.row(item)))
            item.setText(f"{name}  ({counts[name]:,})")
            item.setCheckState(Qt.CheckState.Checked if name in chosen
                               else Qt.CheckState.Unchecked)
        self.names.setUpdatesEnabled(True)
        self.names.verticalScrollBar().setValue(scroll)
        self._quiet = False
        self._hide_names(self.name_search.text())

    def event_names(self) -> list[str]:
        return [self.names.item(i).data(NAME_ROLE) for i in range(self.names.count())]

    def set_filter(self, flt: dict) -> None:
        """Show a filter set elsewhere (a chip removed, a bar clicked) without re-emitting."""
        self.filter = dict(flt)
        self._quiet = True
        chosen = set(flt.get("event") or [])
        for i in range(self.names.count()):
            item = self.names.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(NAME_ROLE) in chosen
                               else Qt.CheckState.Unchecked)
        if self.search.text() != (flt.get("search") or ""):
            self.search.setText(flt.get("search") or "")
            self._search_delay.stop()
        preset = flt.get("preset") or ("custom" if flt.get("start") or flt.get("end") else "")
        self.range.setCurrentIndex(max(0, self.range.findData(preset)))
        self._quiet = False

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- edits out
    def _emit(self, changes: dict) -> None:
        if self._quiet:
            return
        flt = {**self.filter, **changes}
        self.filter = {k: v for k, v in flt.items() if v not in (None, [], "")}
        self.filter_changed.emit(dict(self.filter))

    def _names_changed(self, _item: QListWidgetItem) -> None:
        chosen = [self.names.item(i).data(NAME_ROLE) for i in range(self.names.count())
                  if self.names.item(i).checkState() == Qt.CheckState.Checked]
        self._emit({"event": chosen})

    def _hide_names(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.names.count()):
            item = self.names.item(i)
            item.setHidden(bool(needle) and needle not in item.data(NAME_ROLE).lower())

    def _range_changed(self, _index: int) -> None:
        key = self.range.currentData()
        custom = key == "custom"
        self.start_edit.setEnabled(custom)
        self.end_edit.setEnabled(custom)
        if custom:
            self._custom_changed()
        else:
            self._emit({"preset": key or None, "start": None, "end": None})

    def _custom_changed(self, *_: Any) -> None:
        if self.range.currentData() != "custom":
            return
        start = self.start_edit.dateTime().toPython().astimezone(dt.UTC)
        end = self.end_edit.dateTime().toPython().astimezone(dt.UTC)
        if start >= end:
            self.start_edit.setToolTip("From must be before To")
            return
        self._emit({"preset": None, "start": start, "end": end})

    def _add_condition(self) -> None:
        path = self.path.text().strip()
        if not path:
            self.path.setFocus()
            return
        op = self.op.currentText()
        cond = f"{path}:{op}" if op in ("exists", "not_exists") else \
            f"{path}:{op}:{self.value.text()}"
        where = [*(self.filter.get("where") or []), cond]
        self.path.clear()
        self.value.clear()
        self._emit({"where": where})

    def _search_changed(self) -> None:
        self._emit({"search": self.search.text().strip() or None})
