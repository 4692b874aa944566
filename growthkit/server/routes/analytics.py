"""GET /api/v1/analytics/events (frequency) and /analytics/heatmap (secret key).

Funnels and segments live in routes/funnels.py and routes/segments.py.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from growthkit.core import frequency, heatmap
from growthkit.core.apps import App
from growthkit.core.filters import ActivityFilter
from growthkit.core.timezones import DAY_MS
from growthkit.server.auth import secret_app, state_of
from growthkit.server.cache import cached_json
from growthkit.server.params import ERROR_RESPONSES, activity_filter_params
from growthkit.server.routes.stats import (
    SOURCE_DOC,
    TZ_DOC,
    dashboard_range,
    dashboard_zone,
    run_query,
)

router = APIRouter(prefix="/api/v1", tags=["analytics"])


class EventRank(BaseModel):
    eventName: str
    count: int
    rank: int = Field(description="1 = most frequent in the range.")
    share: float = Field(description="count / total of the range (0-1).")
    previousCount: int = Field(description="Count in the previous period of the same length.")
    previousRank: int | None = Field(description="Rank then; null if not seen then.")
    change: float | None = Field(description="Percent change; null when previously 0.")


class NameSeries(BaseModel):
    eventName: str
    counts: list[int] = Field(description="One count per entry of `buckets`.")


class EventFrequency(BaseModel):
    from_: str = Field(alias="from")
    to: str
    timeZone: str
    interval: Literal["hour", "day", "week"]
    total: int
    previousTotal: int
    change: float | None
    events: list[EventRank] = Field(description="Every event name, most frequent first.")
    buckets: list[str] = Field(description="Local bucket starts as ISO-8601 UTC.")
    totals: list[int] = Field(description="All events per bucket.")
    series: list[NameSeries] = Field(description="Per-bucket counts of the `limit` most "
                                                 "frequent event names.")
    source: str = Field(description=SOURCE_DOC)


FREQUENCY_DOC = """How often each event happened in `from`…`to` (default: the last 7 days up
to now), ranked, with the change against the previous period of the same length, and time
series bucketed by local hour, day or week (weeks start on Monday) in `tz`. Buckets are
wall-clock periods: the hour repeated at a DST fall-back is one bucket, the hour skipped at
spring-forward has none. At most 10000 buckets."""


@router.get("/analytics/events", summary="Event frequency and popular events",
            description=FREQUENCY_DOC,
            responses={200: {"model": EventFrequency}, **ERROR_RESPONSES})
async def event_frequency(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    app: App = Depends(secret_app),
    tz: str | None = Query(None, description=TZ_DOC),
    interval: Literal["hour", "day", "week"] = Query("day", description="Bucket size."),
    limit: int = Query(10, ge=1, le=100, description="How many names get a series (1-100)."),
) -> Response:
    flt = dashboard_range(flt, 7 * DAY_MS)
    zone_ = dashboard_zone(app, tz)
    engine = state_of(request).engine
    return await cached_json(request, app.id, run_query(
        engine, frequency.event_frequency, flt, zone_, interval, limit))


class Heatmap(BaseModel):
    timeZone: str
    metric: Literal["events", "users"]
    from_: str = Field(alias="from")
    to: str
    matrix: list[list[int]] = Field(description="7 rows, Monday first, of 24 local hours.")
    total: int | None = Field(description="Sum of the matrix for metric=events.")
    source: str = Field(description=SOURCE_DOC)
    complete: bool = Field(description="False when part of the range lies before the "
                                       "retention cut and aggregates cannot answer it (unique "
                                       "users per cell; lead, session or property filters).")
    rolledUpBefore: str | None


HEATMAP_DOC = """Activity by local day of week (rows, Monday first) and hour of day (columns)
in `tz` over `from`…`to` (default: the last 28 days up to now): event counts, or distinct
users (fingerprints) per cell with `metric=users`."""


@router.get("/analytics/heatmap", summary="Day-of-week x hour heatmap",
            description=HEATMAP_DOC, responses={200: {"model": Heatmap}, **ERROR_RESPONSES})
async def activity_heatmap(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    app: App = Depends(secret_app),
    tz: str | None = Query(None, description=TZ_DOC),
    metric: Literal["events", "users"] = Query("events", description="What each cell counts."),
) -> Response:
    flt = dashboard_range(flt, 28 * DAY_MS)
    zone_ = dashboard_zone(app, tz)
    engine = state_of(request).engine
    return await cached_json(request, app.id, run_query(
        engine, heatmap.heatmap_report, flt, zone_, metric))
