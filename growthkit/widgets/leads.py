"""Leads dock: find a lead by fingerprint prefix, email or name as you type, and open it.

Typing is debounced; every search leaves as `search_requested({"search", "sort", "seq"})`
with a rising sequence number, and the console hands the answer back to `show_data` with the
same `seq`. An answer older than the newest search asked for is dropped, so a slow answer
to an old keystroke never replaces a newer one. A segment's members can be shown here too
(`show_members`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.formatting import counted
from growthkit.widgets.table_model import ROW_ROLE, Column, RowsModel, key, sorted_proxy
from growthkit.widgets.times import local

DEBOUNCE_MS = 250
SORTS = {"Last seen": "lastSeen", "Events": "events", "First seen": "firstSeen"}
FIRST_SEEN, LAST_SEEN, EVENTS = 3, 4, 5
COLUMNS = [
    Column("Fingerprint", key("fingerprint")),
    Column("Email", key("email")),
    Column("Name", key("name")),
    Column("First seen", lambda r: local(r.get("firstSeen")), key("firstSeen")),
    Column("Last seen", lambda r: local(r.get("lastSeen")), key("lastSeen")),
    Column("Events", key("events"), align_right=True),
]


class LeadTable(QTableView):
    """A sortable table of leads: Enter or a double-click opens the current lead."""

    opened = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = RowsModel(COLUMNS, self)
        self.proxy = sorted_proxy(self.model_, self)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # Columns as wide as their contents: a stretched last column (Events, right-aligned)
        # put its numbers past the edge of a narrow dock.
        self.verticalHeader().hide()
        self.doubleClicked.connect(self._open)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._open(self.currentIndex())
            return
        super().keyPressEvent(event)

    def _open(self, index: QModelIndex) -> None:
        row = self.proxy.data(index, ROW_ROLE)
        if row:
            self.opened.emit(row["fingerprint"])

    def fingerprints(self) -> list[str]:
        """The listed fingerprints in the order shown."""
        return [self.proxy.data(self.proxy.index(i, 0)) for i in range(self.proxy.rowCount())]


class LeadsWidget(QWidget):
    title = "Leads"

    search_requested = Signal(dict)
    lead_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("leads")
        self.seq = 0
        self.shown_seq = -1
        self.query = QLineEdit(placeholderText="Search by fingerprint prefix, email or name")
        self.query.setClearButtonEnabled(True)
        self.sort = QComboBox()
        self.sort.addItems(list(SORTS))
        self.jump = QLineEdit(placeholderText="Fingerprint (Ctrl+L), Enter opens it")
        self.banner = QLabel()
        self.banner.hide()
        self.clear_banner = QPushButton("Back to search")
        self.clear_banner.hide()
        self.count = QLabel()
        self.table = LeadTable(self)
        self.table.sortByColumn(LAST_SEEN, Qt.SortOrder.DescendingOrder)
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)

        top = QHBoxLayout()
        top.addWidget(self.query, 3)
        top.addWidget(QLabel("Sort"))
        top.addWidget(self.sort)
        top.addWidget(self.jump, 2)
        strip = QHBoxLayout()
        strip.addWidget(self.banner, 1)
        strip.addWidget(self.clear_banner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(strip)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count)

        self.query.textChanged.connect(lambda _text: self.timer.start())
        self.query.returnPressed.connect(self.search_now)
        self.timer.timeout.connect(self.search_now)
        self.sort.currentIndexChanged.connect(self._sort_changed)
        self.jump.returnPressed.connect(self._jump)
        self.table.opened.connect(self.lead_requested)
        self.clear_banner.clicked.connect(self.search_now)
        shortcut = QShortcut(QKeySequence("Ctrl+L"), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(self.focus_jump)

    def _sort_changed(self) -> None:
        column = {"events": EVENTS, "firstSeen": FIRST_SEEN}.get(self.request()["sort"], LAST_SEEN)
        self.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
        self.search_now()

    # --- requests ----------------------------------------------------------------------
    def request(self) -> dict[str, Any]:
        """The search the dock shows now (what the console loads on a refresh)."""
        sort = SORTS[self.sort.currentText()]
        return {"search": self.query.text().strip(), "sort": sort, "seq": self.seq}

    def search_now(self) -> None:
        self.timer.stop()
        self.seq += 1
        self.search_requested.emit(self.request())

    def focus_jump(self) -> None:
        self.jump.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.jump.selectAll()

    def _jump(self) -> None:
        fp = self.jump.text().strip()
        if fp:
            self.lead_requested.emit(fp)

    # --- answers -----------------------------------------------------------------------
    def show_data(self, data: dict) -> None:
        """A `GET /leads` answer; with `seq`, only if no newer search was asked for since."""
        seq = data.get("seq")
        if seq is not None and (seq < self.seq or seq <= self.shown_seq):
            return
        if seq is not None:
            self.shown_seq = seq
        self.banner.hide()
        self.clear_banner.hide()
        self._fill(data.get("data", []), data.get("nextCursor") is not None)

    def show_members(self, title: str, data: dict) -> None:
        """A segment's (or a funnel step's) members: `{data: [lead], count?}`."""
        rows = data.get("data", [])
        total = data.get("count", len(rows))
        self.banner.setText(f"{title}: {counted(total, 'lead')}")
        self.banner.show()
        self.clear_banner.show()
        self._fill(rows, total > len(rows))

    def _fill(self, rows: list[dict], more: bool) -> None:
        self.table.model_.set_rows(rows)
        self.table.resizeColumnsToContents()
        more_text = " (first page; refine the search)" if more else ""
        self.count.setText(counted(len(rows), "lead") + more_text)
