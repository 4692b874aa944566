"""The Popular events dock: every event name of the range ranked by count, with its share,
the previous period's count and rank, and the change (answers of GET /analytics/events)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from growthkit.widgets.chart_theme import change_colour, text_label
from growthkit.widgets.formatting import change_text, full_number, span_text
from growthkit.widgets.table_model import (
    Column,
    RowsModel,
    fit_columns,
    keep_view,
    key,
    sorted_view,
)

RANK, EVENT, COUNT, SHARE, PREVIOUS, CHANGE, MOVE = range(7)


def rank_move(row: dict) -> str:
    """'▲ 2' (moved up two places), '▼ 1', '=' or 'new' (not seen in the previous period)."""
    before, now = row.get("previousRank"), row.get("rank")
    if before is None:
        return "new"
    if now is None or not row.get("count"):
        return "gone"
    if before == now:
        return "="
    return f"▲ {before - now}" if now < before else f"▼ {now - before}"


def _move_value(row: dict) -> float | None:
    before, now = row.get("previousRank"), row.get("rank")
    return None if before is None or now is None else float(before - now)


class PopularEventsWidget(QWidget):
    """show_data(GET /analytics/events answer); double-click (or Enter) on a row asks to
    filter every dock by that event."""

    title = "Popular events"
    filter_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("popularEvents")
        self.model = RowsModel([
            Column("#", lambda r: str(r.get("rank") or "–"), key("rank"), align_right=True),
            Column("Event", key("eventName")),
            Column("Count", lambda r: full_number(r["count"]), key("count"), align_right=True),
            Column("Share", lambda r: f"{(r.get('share') or 0) * 100:.1f}%",
                   lambda r: r.get("share", 0), align_right=True,
                   tip="of all events in the range"),
            Column("Previous", lambda r: full_number(r.get("previousCount") or 0),
                   key("previousCount"), align_right=True,
                   tip="count in the previous period of the same length"),
            Column("Change", lambda r: change_text(r.get("change"), r.get("previousCount")),
                   key("change"), align_right=True,
                   colour=lambda r: change_colour(self, r.get("change")),
                   tip="count against the previous period"),
            Column("Rank", rank_move, _move_value, align_right=True,
                   colour=lambda r: change_colour(self, _move_value(r)),
                   tip="places moved since the previous period"),
        ], key=lambda r: r["eventName"], parent=self)
        self.view, self.proxy = sorted_view(self.model, sort_column=RANK,
                                            filter_column=EVENT)
        self.view.setObjectName("popularEventsTable")
        self.view.doubleClicked.connect(self._request)
        self.view.activated.connect(self._request)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find an event…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.summary = text_label("No data yet")
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)

    def show_data(self, data: dict) -> None:
        with keep_view(self.view):
            self.model.set_rows(data.get("events") or [])
        fit_columns(self.view, stretch=EVENT)
        names = sum(1 for e in data.get("events") or [] if e.get("count"))
        self.summary.setText(f"{names} event names · {full_number(data.get('total', 0))} events"
                             f" · {span_text(data['from'], data['to'], data.get('timeZone'))}"
                             " · double-click a row to filter by it")

    def _request(self, index) -> None:  # noqa: ANN001
        name = self.proxy.index(index.row(), EVENT).data()
        if name:
            self.filter_requested.emit({"event": [name]})
