"""Dock specs: which widget each dock shows, how its data is loaded, and when it reloads."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from growthkit.widgets.filters import PRESETS

# The shared filter's keys, with the client's keyword names. A filter may also hold
# "preset" (a key of PRESETS): a rolling range whose start is worked out at each load.
FILTER_KEYS = ("event", "start", "end", "where", "search", "fingerprint")


class Refresh(Enum):
    """When a dock reloads (F5 always reloads every dock that has a loader)."""

    LIVE = "live"  # on connect, on every filter change and every refresh interval (30 s)
    FILTER = "filter"  # on connect and on every filter change
    ONCE = "once"  # on connect only (and F5)


@dataclass(frozen=True)
class LoadContext:
    """What a loader may use: the shared filter and the lead the user last picked."""

    filter: dict[str, Any] = field(default_factory=dict)
    lead: str | None = None
    time_zone: str | None = None
    # The dock's own query options (its widget's query_params(): an interval, a metric).
    params: dict[str, Any] = field(default_factory=dict)

    def kwargs(self, *keys: str) -> dict[str, Any]:
        """The filter's non-empty entries as client keywords (all filter keys by default)."""
        wanted = keys or FILTER_KEYS
        out = {k: v for k, v in self.filter.items() if k in wanted and v not in (None, [], "")}
        preset = PRESETS.get(self.filter.get("preset") or "")
        if preset and "start" in wanted:
            out["start"] = dt.datetime.now(dt.UTC) - preset[1]
            out.pop("end", None)
        return out

    def without(self, *keys: str) -> LoadContext:
        """The same context with some filter keys dropped (e.g. the event names)."""
        kept = {k: v for k, v in self.filter.items() if k not in keys}
        return LoadContext(kept, self.lead, self.time_zone, self.params)


Loader = Callable[[Any, LoadContext], "dict | None"]


@dataclass(frozen=True)
class DockSpec:
    """One dock. `load(source, ctx)` runs on a worker thread and returns the dict handed to
    `widget.show_data`, or None to leave the widget as it is (e.g. no lead picked yet)."""

    widget: type[QWidget]
    load: Loader | None
    refresh: Refresh = Refresh.LIVE
    area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea
    tab_with: str | None = None  # objectName of a dock to share tabs with by default
    visible: bool = True
    follows_lead: bool = False  # also reload when a widget asks for a lead (lead_requested)
    # Wires a widget's own requests (beyond the shell's intents) once the window is built:
    # connect(window, widget); the handlers run their calls on window.workers.
    connect: Callable[[Any, QWidget], None] | None = None
    # Placed beside (Horizontal) or below (Vertical) this dock instead of at `area`'s end.
    split_from: str | None = None
    split: Qt.Orientation = Qt.Orientation.Horizontal
    width: int | None = None  # default size in pixels (applied once the window is shown)
    height: int | None = None


def result(call: str, *keys: str, **fixed: Any) -> Loader:
    """A loader calling `source.<call>(**filter, **fixed)` and answering its `to_json()`."""

    def load(source: Any, ctx: LoadContext) -> dict:
        kwargs = ctx.kwargs(*keys)
        if ctx.time_zone and "tz" not in fixed and call in TZ_CALLS:
            kwargs["tz"] = ctx.time_zone
        return getattr(source, call)(**{**kwargs, **ctx.params, **fixed}).to_json()

    return load


def listing(call: str, *keys: str, limit: int = 500, **fixed: Any) -> Loader:
    """A loader for a listing: its first `limit` items as `{"data": [item JSON, ...]}`."""

    def load(source: Any, ctx: LoadContext) -> dict:
        items = getattr(source, call)(**ctx.kwargs(*keys), **fixed)
        return {"data": [item.to_json() for item in itertools.islice(items, limit)]}

    return load


# Calls that bucket by time and so take `tz`.
TZ_CALLS = frozenset({"stats", "event_frequency", "heatmap"})
