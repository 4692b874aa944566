"""The live feed's table: a QAbstractTableModel over a ring buffer, newest row first."""

from __future__ import annotations

import colorsys
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

CAPACITY = 100_000
TIME, EVENT, LEAD, PAGE, BROWSER = range(5)
BASE_COLUMNS = ("Time", "Event", "Lead", "Page", "Browser / device")
ACTIVITY_ROLE = Qt.ItemDataRole.UserRole
_colours: dict[str, QColor] = {}


def event_colour(name: str) -> QColor:
    """A stable, readable colour per event name (the same name has it in every session)."""
    colour = _colours.get(name)
    if colour is None:
        hue = int.from_bytes(hashlib.blake2s(name.encode(), digest_size=2).digest()) / 65536
        r, g, b = colorsys.hls_to_rgb(hue, 0.5, 0.65)
        colour = _colours[name] = QColor.fromRgbF(r, g, b)
    return colour


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def property_value(props: Any, path: str) -> Any:
    """A property by dotted path (`utm.source`), or None."""
    value = props
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass(slots=True)
class Row:
    """One event with the texts the table shows, worked out once when it arrives."""

    activity: dict
    time: str
    when: float  # epoch seconds, 0 when unreadable
    event: str
    lead: str
    page: str
    browser: str
    haystack: str  # lower-cased text for the feed's own quick filter

    @classmethod
    def of(cls, activity: dict) -> Row:
        when = parse_time(activity.get("timestamp"))
        ctx = activity.get("context") if isinstance(activity.get("context"), dict) else {}
        props = activity.get("properties") if isinstance(activity.get("properties"), dict) \
            else {}
        url = _text(ctx.get("url"))
        page = _text(props.get("path")) or (urlsplit(url).path if url else "")
        # ua-parser says "Other" for what it does not know: leave those out.
        browser = " · ".join(x for x in (_text(ctx.get("browser")), _text(ctx.get("os")),
                                         _text(ctx.get("device"))) if x and x != "Other")
        event, lead = _text(activity.get("eventName")), _text(activity.get("fingerprintId"))
        local = when.astimezone() if when else None
        return cls(activity, local.strftime("%H:%M:%S") if local else "",
                   when.timestamp() if when else 0.0, event, lead, page, browser,
                   f"{event}\n{lead}\n{page}".lower())


class FeedModel(QAbstractTableModel):
    """Rows in a fixed-size ring buffer: O(1) to add at the top and to read any row; the
    oldest rows fall off the bottom once `capacity` is reached."""

    def __init__(self, capacity: int = CAPACITY, parent: Any = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._ring: list[Row | None] = [None] * capacity
        self._head = 0  # where the next row goes
        self._size = 0
        self._ids: set[str] = set()
        self.property_columns: list[str] = []

    # -- Qt model
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._size

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(BASE_COLUMNS) + len(self.property_columns)

    def row(self, r: int) -> Row:
        return self._ring[(self._head - 1 - r) % self.capacity]  # type: ignore[return-value]

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self._size:
            return None
        row, col = self.row(index.row()), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == TIME:
                return row.time
            if col == EVENT:
                return row.event
            if col == LEAD:
                return row.lead
            if col == PAGE:
                return row.page
            if col == BROWSER:
                return row.browser
            value = property_value(row.activity.get("properties"),
                                   self.property_columns[col - len(BASE_COLUMNS)])
            return _text(value) if not isinstance(value, (dict, list)) else str(value)
        if role == Qt.ItemDataRole.DecorationRole and col == EVENT:
            return event_colour(row.event)
        if role == ACTIVITY_ROLE:
            return row.activity
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        if section < len(BASE_COLUMNS):
            return BASE_COLUMNS[section]
        return self.property_columns[section - len(BASE_COLUMNS)]

    # -- rows in
    def knows(self, activity_id: str) -> bool:
        return activity_id in self._ids

    def set_rows(self, activities: Iterable[dict]) -> None:
        """Replace everything; `activities` newest first (as /activities answers)."""
        rows = [Row.of(a) for a in activities][: self.capacity]
        self.beginResetModel()
        self._ring = [None] * self.capacity
        self._ids = set()
        self._head = self._size = 0
        for row in reversed(rows):
            self._put(row)
        self.endResetModel()

    def prepend(self, activities: list[dict]) -> int:
        """Add newer events at the top, `activities` oldest first; answers how many were
        new (events already shown, e.g. replayed after a reconnect, are skipped)."""
        rows = []
        for a in activities:
            aid = a.get("id")
            if isinstance(aid, str) and aid in self._ids:
                continue
            rows.append(Row.of(a))
            if isinstance(aid, str):
                self._ids.add(aid)
        rows = rows[-self.capacity:]
        if not rows:
            return 0
        overflow = self._size + len(rows) - self.capacity
        if overflow > 0:  # the oldest rows leave the bottom first
            first = self._size - overflow
            self.beginRemoveRows(QModelIndex(), first, self._size - 1)
            for r in range(first, self._size):
                old = self.row(r)
                self._ids.discard(old.activity.get("id"))
            self._size -= overflow
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        for row in rows:
            self._put(row)
        self.endInsertRows()
        return len(rows)

    def _put(self, row: Row) -> None:
        old = self._ring[self._head]
        if old is not None and self._size == self.capacity:
            self._ids.discard(old.activity.get("id"))
        self._ring[self._head] = row
        self._head = (self._head + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        aid = row.activity.get("id")
        if isinstance(aid, str):
            self._ids.add(aid)

    def set_property_columns(self, columns: list[str]) -> None:
        self.beginResetModel()
        self.property_columns = [c for c in dict.fromkeys(columns) if c]
        self.endResetModel()

    def property_keys(self, sample: int = 500) -> list[str]:
        """Property keys of the newest rows (for the column chooser)."""
        keys: dict[str, None] = {}
        for r in range(min(sample, self._size)):
            props = self.row(r).activity.get("properties")
            if isinstance(props, dict):
                keys.update(dict.fromkeys(props))
        return sorted(keys)


class FeedFilter(QSortFilterProxyModel):
    """The rows the user asked for: the shared filter's event names, lead and search, plus
    the feed's own quick event/lead boxes. No sorting: the feed stays newest first."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.events: set[str] = set()
        self.fingerprint = ""
        self.search = ""
        self.quick_event = ""
        self.quick_lead = ""

    def set_conditions(self, **changes: Any) -> None:
        if all(getattr(self, k) == v for k, v in changes.items()):
            return
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+: invalidateFilter is deprecated
            self.beginFilterChange()
            for key, value in changes.items():
                setattr(self, key, value)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            return
        for key, value in changes.items():
            setattr(self, key, value)
        self.invalidateFilter()

    def active(self) -> bool:
        return bool(self.events or self.fingerprint or self.search or self.quick_event
                    or self.quick_lead)

    def filterAcceptsRow(self, source_row: int, source_parent: Any) -> bool:  # noqa: N802
        if not self.active():
            return True
        row = self.sourceModel().row(source_row)
        if self.events and row.event not in self.events:
            return False
        if self.fingerprint and row.lead != self.fingerprint:
            return False
        if self.quick_event and self.quick_event not in row.event.lower():
            return False
        if self.quick_lead and self.quick_lead not in row.lead.lower():
            return False
        if self.search:
            props = row.activity.get("properties")
            text = row.haystack + ("\n" + str(props).lower() if props else "")
            if self.search not in text:
                return False
        return True
