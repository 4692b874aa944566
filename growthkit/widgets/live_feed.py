"""The live feed dock: events as they arrive, newest first, with counters and details."""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.feed_model import ACTIVITY_ROLE, CAPACITY, FeedFilter, FeedModel, Row

ROWS_MS, COUNTERS_MS = 25, 1000  # repaint cadence: rows, then the text counters
LIVE_WINDOW_S = 300  # "live now": distinct leads in the last five minutes


def fill_tree(parent: QTreeWidgetItem, value: Any) -> None:
    """Nested JSON as tree items; every value is set as plain text."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = QTreeWidgetItem(parent, [str(key), "" if isinstance(item, (dict, list))
                                             else json.dumps(item, ensure_ascii=False)])
            fill_tree(child, item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            child = QTreeWidgetItem(parent, [f"[{i}]", "" if isinstance(item, (dict, list))
                                             else json.dumps(item, ensure_ascii=False)])
            fill_tree(child, item)


class LiveFeedWidget(QWidget):
    """`show_data({"data": [StoredActivity…]})` seeds the feed (newest first);
    `add_events([...])` queues live ones, painted in batches every 25 ms. While the user
    is scrolled away from the top or has paused, new events wait behind an "N new events"
    button instead of moving what they are reading."""

    title = "Live feed"
    lead_requested = Signal(str)
    columns_changed = Signal(list)

    def __init__(self, parent: QWidget | None = None, capacity: int = CAPACITY) -> None:
        super().__init__(parent)
        self.setObjectName("liveFeed")
        self.model = FeedModel(capacity, self)
        self.proxy = FeedFilter(self)
        self.proxy.setSourceModel(self.model)
        self.pending: deque[dict] = deque(maxlen=capacity)
        self.paused = False
        self._recent: deque[tuple[float, str]] = deque()  # (arrival, lead) for the counters
        self._leads: Counter[str] = Counter()
        self._arrivals: deque[float] = deque()

        self.table = QTableView(self)
        self.table.setObjectName("feedTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for col, width in enumerate((72, 170, 200, 150)):
            header.resizeSection(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._show_details)
        self.table.doubleClicked.connect(self._open_lead)
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)

        self.live_now = QLabel("live now: –", self)
        self.live_now.setObjectName("liveNow")
        self.rate = QLabel("events/min: –", self)
        self.rate.setObjectName("eventsPerMinute")
        self.new_button = QPushButton(self)
        self.new_button.setObjectName("newEvents")
        self.new_button.setVisible(False)
        self.new_button.clicked.connect(self.jump_to_top)
        self.pause_button = QToolButton(self, text="Pause", checkable=True)
        self.pause_button.setObjectName("pause")
        self.pause_button.setToolTip("Pause or resume the feed (Space)")
        self.pause_button.toggled.connect(self.set_paused)
        self.event_box = QLineEdit(self, placeholderText="event…")
        self.event_box.setObjectName("feedEvent")
        self.lead_box = QLineEdit(self, placeholderText="lead…")
        self.lead_box.setObjectName("feedLead")
        for box in (self.event_box, self.lead_box):
            box.setClearButtonEnabled(True)
            box.setMaximumWidth(160)
            box.textChanged.connect(self._quick_filter)
        self.columns_button = QToolButton(self, text="Columns")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_menu = QMenu(self)
        self.columns_menu.aboutToShow.connect(self._fill_columns_menu)
        self.columns_button.setMenu(self.columns_menu)
        self.offline_banner = QLabel(self)
        self.offline_banner.setObjectName("feedOffline")
        self.offline_banner.setTextFormat(Qt.TextFormat.PlainText)
        self.offline_banner.setVisible(False)

        self.tree = QTreeWidget(self)
        self.tree.setObjectName("feedDetailsTree")
        self.tree.setHeaderLabels(["Field", "Value"])
        self.tree.header().resizeSection(0, 180)
        self.raw = QPlainTextEdit(self)  # plain text: a property holding HTML stays text
        self.raw.setObjectName("feedDetailsJson")
        self.raw.setReadOnly(True)
        details = QTabWidget(self)
        details.addTab(self.tree, "Properties and context")
        details.addTab(self.raw, "Raw JSON")

        top = QHBoxLayout()
        top.setContentsMargins(4, 4, 4, 0)
        for w in (self.pause_button, self.live_now, self.rate):
            top.addWidget(w)
        top.addStretch(1)
        for w in (self.new_button, self.event_box, self.lead_box, self.columns_button):
            top.addWidget(w)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(details)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 110])  # the rows first; the details pane can be dragged up
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.offline_banner)
        layout.addWidget(split, 1)

        self._rows_timer = QTimer(self, interval=ROWS_MS)
        self._rows_timer.timeout.connect(self.flush)
        self._rows_timer.start()
        self._counter_timer = QTimer(self, interval=COUNTERS_MS)
        self._counter_timer.timeout.connect(self.update_counters)
        self._counter_timer.start()

    # -- data in
    def show_data(self, data: dict) -> None:
        """The latest events (newest first); on a reload only unseen ones are added."""
        items = [a for a in data.get("data") or [] if isinstance(a, dict)]
        if self.model.rowCount() == 0 and not self.pending:
            self.model.set_rows(items)
            for a in reversed(items):
                self._count(a, seeded=True)
        else:
            self.add_events([a for a in reversed(items) if not self.model.knows(a.get("id"))])
        self.update_counters()

    def add_events(self, events: list[dict]) -> None:
        """Queue live events (oldest first); the next 25 ms tick paints them together."""
        for a in events:
            if isinstance(a, dict):
                self.pending.append(a)
                self._count(a)

    def at_top(self) -> bool:
        return self.table.verticalScrollBar().value() == 0

    def flush(self) -> None:
        """Paint queued events, unless paused or scrolled away (then count them)."""
        if not self.pending:
            return
        if self.paused or not self.at_top():
            self._show_waiting()
            return
        batch = list(self.pending)
        self.pending.clear()
        self.model.prepend(batch)
        self._show_waiting()

    def jump_to_top(self) -> None:
        self.table.verticalScrollBar().setValue(0)
        if self.paused:
            self.pause_button.setChecked(False)
        was_paused, self.paused = self.paused, False
        self.flush()
        self.paused = was_paused and self.paused

    def _scrolled(self, value: int) -> None:
        if value == 0:
            self.flush()

    def _show_waiting(self) -> None:
        n = len(self.pending)
        self.new_button.setVisible(n > 0)
        if n:
            self.new_button.setText(f"↑ {n:,} new event{'s' if n != 1 else ''}")

    # -- pause
    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if not paused:
            self.flush()

    def toggle_pause(self) -> None:
        self.set_paused(not self.paused)

    def set_offline(self, offline: bool) -> None:
        self.offline_banner.setText("Server unreachable: showing the events received so far; "
                                    "reconnecting…" if offline else "")
        self.offline_banner.setVisible(offline)

    # -- counters
    def _count(self, activity: dict, seeded: bool = False) -> None:
        lead = activity.get("fingerprintId")
        now = time.time()
        when = Row.of(activity).when if seeded else now
        if when < now - LIVE_WINDOW_S or not isinstance(lead, str):
            return
        self._recent.append((when, lead))
        self._leads[lead] += 1
        self._arrivals.append(when)

    def update_counters(self) -> None:
        now = time.time()
        while self._recent and self._recent[0][0] < now - LIVE_WINDOW_S:
            _, lead = self._recent.popleft()
            self._leads[lead] -= 1
            if self._leads[lead] <= 0:
                del self._leads[lead]
        while self._arrivals and self._arrivals[0] < now - 60:
            self._arrivals.popleft()
        self.live_now.setText(f"live now: {len(self._leads):,}")
        self.live_now.setToolTip("distinct leads with an event in the last 5 minutes")
        self.rate.setText(f"events/min: {len(self._arrivals):,}")

    def live_count(self) -> int:
        return len(self._leads)

    def events_per_minute(self) -> int:
        return len(self._arrivals)

    # -- filters
    def set_filter(self, flt: dict) -> None:
        """Follow the shared filter's event names, lead and search (in the rows held)."""
        self.proxy.set_conditions(events=set(flt.get("event") or []),
                                  fingerprint=flt.get("fingerprint") or "",
                                  search=(flt.get("search") or "").lower())

    def _quick_filter(self) -> None:
        self.proxy.set_conditions(quick_event=self.event_box.text().strip().lower(),
                                  quick_lead=self.lead_box.text().strip().lower())

    # -- property columns
    def set_property_columns(self, columns: list[str]) -> None:
        self.model.set_property_columns(columns)

    def _fill_columns_menu(self) -> None:
        self.columns_menu.clear()
        chosen = self.model.property_columns
        for key in sorted(set(self.model.property_keys()) | set(chosen)):
            action = QAction(key, self.columns_menu, checkable=True, checked=key in chosen)
            action.toggled.connect(lambda on, k=key: self._toggle_column(k, on))
            self.columns_menu.addAction(action)
        self.columns_menu.addSeparator()
        self.columns_menu.addAction("Other property…", self._ask_column)

    def _toggle_column(self, key: str, on: bool) -> None:
        columns = [c for c in self.model.property_columns if c != key] + ([key] if on else [])
        self.model.set_property_columns(columns)
        self.columns_changed.emit(self.model.property_columns)

    def _ask_column(self) -> None:
        key, ok = QInputDialog.getText(self, "Property column", "Property (dots for nested):")
        if ok and key.strip():
            self._toggle_column(key.strip(), True)

    # -- details
    def selected_activity(self) -> dict | None:
        index = self.table.currentIndex()
        return index.data(ACTIVITY_ROLE) if index.isValid() else None

    def select_row(self, row: int) -> None:
        index = self.proxy.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)

    def _show_details(self, current: QModelIndex, _previous: QModelIndex) -> None:
        activity = current.data(ACTIVITY_ROLE) if current.isValid() else None
        self.tree.clear()
        if not activity:
            self.raw.setPlainText("")
            return
        for section in ("properties", "context"):
            top = QTreeWidgetItem(self.tree, [section, ""])
            fill_tree(top, activity.get(section) or {})
            top.setExpanded(True)
        meta = QTreeWidgetItem(self.tree, ["event", ""])
        for key in ("eventName", "fingerprintId", "sessionId", "timestamp", "receivedAt",
                    "id", "seq"):
            QTreeWidgetItem(meta, [key, str(activity.get(key, ""))])
        self.raw.setPlainText(json.dumps(activity, indent=2, ensure_ascii=False))

    def _open_lead(self, index: QModelIndex) -> None:
        activity = index.data(ACTIVITY_ROLE)
        if activity and activity.get("fingerprintId"):
            self.lead_requested.emit(activity["fingerprintId"])

    def show_event(self, activity_id: str) -> bool:
        """Scroll to and select an event (a tray notification was clicked)."""
        self.jump_to_top()
        for r in range(self.proxy.rowCount()):
            if (self.proxy.index(r, 0).data(ACTIVITY_ROLE) or {}).get("id") == activity_id:
                self.select_row(r)
                self.table.scrollTo(self.proxy.index(r, 0))
                return True
        return False
