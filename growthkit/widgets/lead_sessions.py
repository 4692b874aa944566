"""The lead profile's Sessions tab: the lead's sessions, and the events of the chosen one."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.table_model import ROW_ROLE, Column, RowsModel, key, sorted_proxy
from growthkit.widgets.times import duration, local


def table(model: RowsModel, parent: QWidget, sortable: bool = True) -> QTableView:
    """A read-only, row-selecting table over `model` (sorted through a proxy)."""
    view = QTableView(parent)
    view.setModel(sorted_proxy(model, view))
    view.setSortingEnabled(sortable)
    if sortable:  # in the answer's order until the user picks a column
        view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    view.verticalHeader().hide()
    view.setWordWrap(False)  # long cells are elided; the tooltip holds the whole text
    return view


def _props(row: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in (row.get("properties") or {}).items())


class SessionsTab(QWidget):
    """`session_requested(session_id)` asks for a session's events; the console answers
    with `show_session_events(page)` (`GET /leads/{fp}/activities?sessionId=&order=asc`)."""

    session_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tz: ZoneInfo | None = None
        tz = lambda: self.tz  # noqa: E731 (columns read the zone at paint time)
        self.sessions = RowsModel([
            Column("Start", lambda r: local(r["start"], tz()), key("start")),
            Column("Duration", lambda r: duration(r["durationSeconds"]),
                   key("durationSeconds"), align_right=True),
            Column("Entry page", key("entryPage")),
            Column("Exit page", key("exitPage")),
            Column("Page views", key("pageViews"), align_right=True),
            Column("Events", key("events"), align_right=True),
            Column("Browser", key("browser")),
            Column("OS", key("os")),
            Column("Device", key("device")),
        ], self)
        self.events = RowsModel([
            Column("Time", lambda r: local(r["timestamp"], tz(), "%H:%M:%S"), key("timestamp")),
            Column("Event", key("eventName")),
            Column("Page", lambda r: (r.get("context") or {}).get("url")),
            Column("Properties", _props),
        ], self)
        self.session_table = table(self.sessions, self)
        self.session_table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.event_table = table(self.events, self, sortable=False)
        self.caption = QLabel("Select a session to see its events in order")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.session_table)
        lower = QWidget()
        box = QVBoxLayout(lower)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.caption)
        box.addWidget(self.event_table)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.session_table.selectionModel().selectionChanged.connect(self._selected)

    def show_sessions(self, page: dict) -> None:
        self.sessions.set_rows(page.get("data", []))
        self.events.set_rows([])

    def _selected(self) -> None:
        rows = self.session_table.selectionModel().selectedRows()
        if not rows:
            return
        session = self.session_table.model().data(rows[0], ROW_ROLE)
        self.caption.setText(f"Session {session['sessionId']}: {session['events']} events, "
                             f"{duration(session['durationSeconds'])}")
        self.session_requested.emit(session["sessionId"])

    def select_session(self, session_id: str) -> None:
        proxy = self.session_table.model()
        for i in range(proxy.rowCount()):
            if proxy.data(proxy.index(i, 0), ROW_ROLE)["sessionId"] == session_id:
                self.session_table.selectRow(i)
                return
        raise KeyError(session_id)

    def show_session_events(self, page: dict) -> None:
        self.events.set_rows(page.get("data", []))
