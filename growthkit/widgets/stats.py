"""The Quick stats dock: events, events/hour, unique users and sessions as tiles, each with
the change against the previous period, and the top events (answers of GET /stats)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.chart_theme import (
    change_colour,
    muted_text,
    palette_changed,
    text_label,
)
from growthkit.widgets.formatting import (
    change_text,
    epoch_seconds,
    full_number,
    source_note,
    span_text,
)
from growthkit.widgets.table_model import (
    Column,
    RowsModel,
    fit_columns,
    keep_view,
    key,
    sorted_view,
)

# (answer key, caption, what the number means)
TILES = [
    ("events", "Events", "events stored in the range"),
    ("eventsPerHour", "Events / hour", "events divided by the hours of the range"),
    ("uniqueUsers", "Unique users", "distinct fingerprints (leads)"),
    ("sessions", "Sessions", "distinct session ids"),
]


def period_text(hours: float) -> str:
    if hours < 48:
        return f"{hours:g} h"
    return f"{hours / 24:g} days"


class Tile(QFrame):
    """A caption, the number, its change and the previous period's number."""

    def __init__(self, caption: str, tip: str) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setToolTip(tip)
        self.caption = QLabel(caption)
        self.value = QLabel("–")
        font = QFont(self.value.font())
        font.setPointSizeF(font.pointSizeF() * 1.9)
        font.setBold(True)
        self.value.setFont(font)
        self.change = QLabel("")
        self.detail = QLabel("")
        for label in (self.caption, self.value, self.change, self.detail):
            label.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(1)
        for label in (self.caption, self.value, self.change, self.detail):
            layout.addWidget(label)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._change: float | None = None

    def set(self, value: float, change: float | None, previous: float | None,
            detail: str) -> None:
        self.value.setText(full_number(value))
        self._change = change
        self.change.setText(change_text(change, previous))  # the note says against what
        self.detail.setText(detail)
        self.restyle()

    def restyle(self) -> None:
        palette = self.change.palette()
        colour = change_colour(self, self._change)
        palette.setColor(QPalette.ColorRole.WindowText, colour or self.palette().color(
            QPalette.ColorRole.WindowText))
        self.change.setPalette(palette)
        muted = self.caption.palette()
        muted.setColor(QPalette.ColorRole.WindowText, muted_text(self.palette()))
        self.caption.setPalette(muted)
        self.detail.setPalette(muted)


class QuickStatsWidget(QWidget):
    """show_data(GET /stats answer). Clicking a top event asks to filter by it."""

    title = "Quick stats"
    filter_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quickStats")
        self.tiles = {key: Tile(caption, tip) for key, caption, tip in TILES}
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        self._columns = 0
        self.top_model = RowsModel([
            Column("Top event", key("eventName")),
            Column("Count", lambda r: full_number(r["count"]), key("count"), align_right=True),
            Column("Previous", lambda r: full_number(r.get("previousCount") or 0),
                   key("previousCount"), align_right=True),
            Column("Change", lambda r: change_text(r.get("change"), r.get("previousCount")),
                   key("change"), align_right=True,
                   colour=lambda r: change_colour(self, r.get("change"))),
        ], key=lambda r: r["eventName"], parent=self)
        self.top_view, self.top_proxy = sorted_view(self.top_model, sort_column=1,
                                                    order=Qt.SortOrder.DescendingOrder)
        self.top_view.setObjectName("quickStatsTopEvents")
        self.top_view.setToolTip("Double-click an event to filter every dock by it")
        self.top_view.doubleClicked.connect(self._filter_by_row)
        self.note = text_label("No data yet")
        # Wide and short (a dock across the top): tiles and note left, top events right;
        # otherwise one above the other.
        left = QVBoxLayout()
        left.addLayout(self.grid)
        left.addStretch(1)
        self.body = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self.body.addLayout(left, 0)  # the tiles as wide as they need, the table the rest
        self.body.addWidget(self.top_view, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addLayout(self.body, 1)
        outer.addWidget(self.note)  # under both, so it stays one line
        self._layout_tiles(4)

    def changeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        super().changeEvent(event)
        if palette_changed(event):
            self._restyle()

    def _restyle(self) -> None:
        for tile in self.tiles.values():
            tile.restyle()

    def _layout_tiles(self, columns: int) -> None:
        if columns == self._columns:
            return
        self._columns = columns
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
        for n, tile in enumerate(self.tiles.values()):
            self.grid.addWidget(tile, n // columns, n % columns)

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        # Wide: tiles beside the top events (four in a row, or two by two); narrow: the
        # tiles above the table, as many in a row as fit.
        width = event.size().width()
        beside = width >= 600
        self.body.setDirection(QBoxLayout.Direction.LeftToRight if beside
                               else QBoxLayout.Direction.TopToBottom)
        if beside:
            self._layout_tiles(4 if width >= 1100 else 2)
        else:
            self._layout_tiles(4 if width >= 640 else 2 if width >= 300 else 1)
        super().resizeEvent(event)

    def show_data(self, data: dict) -> None:
        prev, change = data.get("previous") or {}, data.get("change") or {}
        hours = (epoch_seconds(data["to"]) - epoch_seconds(data["from"])) / 3600
        details = {
            "events": f"previous {full_number(prev.get('events', 0))}",
            "eventsPerHour": f"{full_number(data.get('eventsLastHour', 0))} in the last hour",
            "uniqueUsers": f"previous {full_number(prev.get('uniqueUsers', 0))}",
            "sessions": f"previous {full_number(prev.get('sessions', 0))}",
        }
        for name, tile in self.tiles.items():
            tile.set(data.get(name, 0), change.get(name), prev.get(name), details[name])
        with keep_view(self.top_view):
            self.top_model.set_rows(data.get("topEvents") or [])
        fit_columns(self.top_view, stretch=0)
        tz = data.get("timeZone")
        self.note.setText(f"{span_text(data['from'], data['to'], tz)} · changes against the "
                          f"previous {period_text(round(hours, 1))} · "
                          f"{source_note(data.get('source'), data.get('rolledUpBefore'), tz)}")

    def _filter_by_row(self, index) -> None:  # noqa: ANN001
        name = self.top_proxy.index(index.row(), 0).data()
        if name:
            self.filter_requested.emit({"event": [name]})

