"""The lead profile's Activity tab: the complete history, paged, in any date range (jump to a
date), with per-day event bars above it and the lead's patterns (top events, hour of day,
weekday) beside it.

`history_requested({start, end, order, cursor?})` asks for a page; the console answers with
`show_history({"activities": page, "days": event frequency by day}, append=bool(cursor))`
(`days` only for a first page). The patterns come from the lead's details
(`show_patterns`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.chart_theme import palette_changed, style_plot
from growthkit.widgets.formatting import counted
from growthkit.widgets.lead_sessions import table
from growthkit.widgets.table_model import Column, RowsModel, key
from growthkit.widgets.times import DATE_FORMAT, epoch_seconds, local

PAGE_SIZE = 200
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _bars(title: str, labels: list[str] | None = None) -> pg.PlotWidget:
    plot = pg.PlotWidget(title=title)
    plot.setMouseEnabled(x=False, y=False)
    plot.setMinimumHeight(90)
    if labels:
        plot.getAxis("bottom").setTicks([list(enumerate(labels))])
    return plot


class HistoryTab(QWidget):
    history_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tz: ZoneInfo | None = None
        self.next_cursor: str | None = None
        self.loading = False
        today = QDate.currentDate()
        self.start = QDateEdit(today.addDays(-90), calendarPopup=True)
        self.end = QDateEdit(today, calendarPopup=True)
        self.order = QComboBox()
        self.order.addItems(["Newest first", "Oldest first"])
        self.go = QPushButton("Show")
        self.jump = QDateEdit(today, calendarPopup=True)
        for edit in (self.start, self.end, self.jump):
            edit.setDisplayFormat(DATE_FORMAT)
        self.jump_go = QPushButton("Jump to date")
        self.count = QLabel()
        self.model = RowsModel([
            Column("Time", lambda r: local(r["timestamp"], self.tz), key("timestamp")),
            Column("Event", key("eventName")),
            Column("Session", key("sessionId")),
            Column("Page", lambda r: (r.get("context") or {}).get("url")),
            Column("Properties", lambda r: ", ".join(
                f"{k}: {v}" for k, v in (r.get("properties") or {}).items())),
        ], self)
        self.table = table(self.model, self, sortable=False)
        self.daily = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()},
                                   title="Events per day")
        self.daily.setMouseEnabled(x=True, y=False)
        self.daily.setMinimumHeight(110)
        self.day_bars = pg.BarGraphItem(x=[], height=[], width=1, brush="#3b7dd8")
        self.daily.addItem(self.day_bars)
        self.top = QListWidget()
        self.hours = _bars("Hour of day", [str(h) if h % 3 == 0 else "" for h in range(24)])
        self.weekdays = _bars("Weekday", WEEKDAYS)

        bar = QHBoxLayout()
        for w in (QLabel("From"), self.start, QLabel("to"), self.end, self.order, self.go,
                  self.jump, self.jump_go):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.count)
        patterns = QWidget()
        side = QVBoxLayout(patterns)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(QLabel("Top events"))
        side.addWidget(self.top, 1)
        side.addWidget(self.hours, 1)
        side.addWidget(self.weekdays, 1)
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(self.daily)
        main.addWidget(self.table)
        main.setSizes([140, 500])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(main)
        split.addWidget(patterns)
        split.setSizes([700, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.go.clicked.connect(self.reload)
        self.jump_go.clicked.connect(self.jump_to_date)
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)
        self._style_plots()


    def _style_plots(self) -> None:
        for plot in (self.daily, self.hours, self.weekdays,):
            style_plot(plot, self.palette())

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if palette_changed(event):
            self._style_plots()

    def _day_start(self, day: QDate) -> str:
        tz = self.tz or dt.datetime.now().astimezone().tzinfo
        moment = dt.datetime(day.year(), day.month(), day.day(), tzinfo=tz)
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

    def request(self, cursor: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self._day_start(self.start.date()),
                               "end": self._day_start(self.end.date().addDays(1)),
                               "order": "desc" if self.order.currentIndex() == 0 else "asc",
                               "limit": PAGE_SIZE}
        if cursor:
            out["cursor"] = cursor
        return out

    def reload(self) -> None:
        self.loading = True
        self.history_requested.emit(self.request())

    def jump_to_date(self) -> None:
        """The history from the chosen day on, oldest first (the range ends at `to`)."""
        day = self.jump.date()
        self.start.setDate(day)
        if self.end.date() < day:
            self.end.setDate(day)
        self.order.setCurrentIndex(1)
        self.reload()

    def _scrolled(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        if self.next_cursor and not self.loading and value >= bar.maximum() - 2:
            self.loading = True
            self.history_requested.emit(self.request(self.next_cursor))

    def show_history(self, data: dict, append: bool = False) -> None:
        self.loading = False
        page = data.get("activities") or {}
        rows = page.get("data", [])
        if append:
            self.model.append_rows(rows)
        else:
            self.model.set_rows(rows)
            for column in range(3):  # time, event, session: one line each, never wrapped
                self.table.resizeColumnToContents(column)
        self.next_cursor = page.get("nextCursor")
        more = " (scroll for more)" if self.next_cursor else ""
        self.count.setText(f"{counted(len(self.model.rows), 'event')} shown{more}")
        if data.get("days"):
            self.show_days(data["days"])

    def show_days(self, freq: dict) -> None:
        """Per-day totals of an event-frequency answer (`interval=day`)."""
        xs = np.array([epoch_seconds(b) for b in freq.get("buckets", [])], dtype=np.float64)
        heights = np.array(freq.get("totals", []), dtype=np.float64)
        self.day_bars.setOpts(x=xs + 43_200, height=heights, width=86_400 * 0.8)
        self.daily.setTitle(f"Events per day ({freq.get('timeZone', '')})")
        if len(xs):
            self.daily.setXRange(xs.min(), xs.max() + 86_400, padding=0.02)

    def show_patterns(self, lead: dict) -> None:
        self.top.clear()
        for e in lead.get("topEvents", []):
            self.top.addItem(f"{e['count']:>6}  {e['eventName']}")
        freq = lead.get("frequency") or {}
        for plot, values in ((self.hours, freq.get("byHourOfDay", [])),
                             (self.weekdays, freq.get("byDayOfWeek", []))):
            plot.clear()
            if values:
                plot.addItem(pg.BarGraphItem(x=np.arange(len(values)), height=values,
                                             width=0.8, brush="#3b7dd8"))
        self.hours.setTitle(f"Hour of day ({freq.get('timeZone', '')})")
