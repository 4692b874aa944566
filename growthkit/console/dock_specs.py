"""The console's docks, in their default order: the one list every dock is added to."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from growthkit.console.docks import DockSpec, LoadContext, Refresh

LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
TOP = Qt.DockWidgetArea.TopDockWidgetArea
BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
FEED_SEED = 500  # events the live feed starts with; the stream resumes after the newest


def event_names(source: Any, ctx: LoadContext) -> dict:
    """Every event name of the filtered range with its count (the name list ignores the
    name filter itself, so unchecked names stay pickable)."""
    kwargs = ctx.without("event").kwargs()
    return source.event_frequency(top=1, **kwargs).to_json()


def latest_activities(source: Any, ctx: LoadContext) -> dict:
    """The newest events, whatever the filter (the feed filters the rows it holds)."""
    items = source.activities(limit=FEED_SEED, page_size=FEED_SEED)
    return {"data": [a.to_json() for a in items]}


def default_docks() -> list[DockSpec]:
    from growthkit.console.lead_docks import LeadDocks
    from growthkit.widgets.filters import FiltersWidget
    from growthkit.widgets.live_feed import LiveFeedWidget

    return [
        DockSpec(FiltersWidget, event_names, Refresh.LIVE, LEFT),
        DockSpec(LiveFeedWidget, latest_activities, Refresh.ONCE, RIGHT),
        *LeadDocks().specs(),
    ]
