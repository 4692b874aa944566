"""The console's docks, in their default order: the one list every dock is added to."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from growthkit.console.docks import DockSpec, LoadContext, Refresh, result

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
    from growthkit.widgets.frequency import EventFrequencyWidget
    from growthkit.widgets.heatmap import HeatmapWidget
    from growthkit.widgets.live_feed import LiveFeedWidget
    from growthkit.widgets.popular_events import PopularEventsWidget
    from growthkit.widgets.stats import QuickStatsWidget

    below, beside = Qt.Orientation.Vertical, Qt.Orientation.Horizontal
    # Three columns: filters | quick stats over event frequency over the heatmap | the live
    # feed over popular events (the lead docks are tabs behind it).
    return [
        DockSpec(FiltersWidget, event_names, Refresh.LIVE, LEFT, width=290),
        DockSpec(QuickStatsWidget, result("stats"), Refresh.LIVE, split_from="filters",
                 split=beside, width=720, height=230),
        DockSpec(EventFrequencyWidget, result("event_frequency"), Refresh.LIVE,
                 split_from="quickStats", split=below, height=330),
        DockSpec(HeatmapWidget, result("heatmap"), Refresh.LIVE, split_from="eventFrequency",
                 split=below, height=330),
        DockSpec(LiveFeedWidget, latest_activities, Refresh.ONCE, RIGHT, width=590),
        # The same query as the frequency chart's (a cache hit on the server).
        DockSpec(PopularEventsWidget, result("event_frequency"), Refresh.LIVE,
                 split_from="liveFeed", split=below, height=450),
        *LeadDocks().specs(),
    ]
