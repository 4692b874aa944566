"""Saved funnels and custom segments, kept as JSON in QSettings (per user, not per server).

A saved segment is `{"name", "kind": "rule", "rule": {did, didNot}}` (a custom rule for
`POST /analytics/segments/query`) or `{"name", "kind": "funnel", "funnel": body, "step",
"outcome"}` (a funnel step's converted or dropped leads, `POST /analytics/funnel/leads`),
so saved lists stay live: they are evaluated again whenever they are opened.
"""

from __future__ import annotations

from typing import Any

import orjson
from PySide6.QtCore import QObject, QSettings, Signal


class SavedItems(QObject):
    """Named JSON items under one QSettings group; `changed` after every write."""

    changed = Signal()

    def __init__(self, group: str, settings: QSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.group = group
        self.settings = settings or QSettings()

    def _read(self) -> dict[str, Any]:
        raw = self.settings.value(self.group, "")
        if not raw:
            return {}
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}  # a damaged entry is dropped, not fatal
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.settings.setValue(self.group, orjson.dumps(data).decode())
        self.settings.sync()
        self.changed.emit()

    def names(self) -> list[str]:
        return sorted(self._read(), key=str.lower)

    def get(self, name: str) -> Any:
        return self._read()[name]

    def items(self) -> dict[str, Any]:
        return self._read()

    def put(self, name: str, value: Any) -> None:
        name = name.strip()
        if not name:
            raise ValueError("name: a saved item needs a name")
        data = self._read()
        data[name] = value
        self._write(data)

    def rename(self, old: str, new: str) -> None:
        new = new.strip()
        data = self._read()
        if not new:
            raise ValueError("name: a saved item needs a name")
        if new != old and new in data:
            raise ValueError(f"name: {new!r} is taken")
        data[new] = data.pop(old)
        if isinstance(data[new], dict) and "name" in data[new]:
            data[new]["name"] = new
        self._write(data)

    def remove(self, name: str) -> None:
        data = self._read()
        data.pop(name, None)
        self._write(data)


_shared: dict[str, SavedItems] = {}


def _store(group: str, settings: QSettings | None) -> SavedItems:
    """With the default settings, one store per group for the whole process, so every dock
    sees (and hears about) the others' changes."""
    if settings is not None:
        return SavedItems(group, settings)
    if group not in _shared:
        _shared[group] = SavedItems(group)
    return _shared[group]


def saved_funnels(settings: QSettings | None = None) -> SavedItems:
    return _store("funnels/saved", settings)


def saved_segments(settings: QSettings | None = None) -> SavedItems:
    return _store("segments/custom", settings)
