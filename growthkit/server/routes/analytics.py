"""GET /api/v1/analytics/events (frequency) and /analytics/heatmap (secret key).

Funnels and segments live in routes/funnels.py and routes/segments.py.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from growthkit.core import frequency, heatmap
from growthkit.core.apps import App
from growthkit.core.filters import ActivityFilter
from growthkit.server.auth import secret_app
from growthkit.server.deps import (
    TZ,
    activity_filter_params,
    cached_answer,
    documented,
    limit_query,
    reject_unknown_parameters,
)

router = APIRouter(prefix="/api/v1", tags=["analytics"],
                   dependencies=[Depends(reject_unknown_parameters)])

FREQUENCY_DOC = f"""How often each event happened in `from`…`to` (default: the last 7 days up
to now), ranked, with the change against the previous period of the same length, and time
series bucketed by local hour, day or week (weeks start on Monday) in `tz`. Buckets are
wall-clock periods: the hour repeated at a DST fall-back is one bucket, the hour skipped at
spring-forward has none. At most {frequency.MAX_BUCKETS} buckets."""


@router.get("/analytics/events", summary="Event frequency and popular events",
            description=FREQUENCY_DOC, responses=documented(frequency.EventFrequency))
async def event_frequency(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    app: App = Depends(secret_app),
    tz: str | None = TZ,
    interval: Literal["hour", "day", "week"] = Query("day", description="Bucket size."),
    limit: int = limit_query(10, frequency.MAX_SERIES, "How many names get a series"),
) -> Response:
    query = frequency.FrequencyQuery(flt, tz=tz, interval=interval, limit=limit)
    return await cached_answer(request, app, frequency.event_frequency, app, query)


HEATMAP_DOC = """Activity by local day of week (rows, Monday first) and hour of day (columns)
in `tz` over `from`…`to` (default: the last 28 days up to now): event counts, or distinct
users (fingerprints) per cell with `metric=users`. `complete` is false when part of the
range lies before the retention cut and aggregates cannot answer it (unique users per cell;
lead, session or property filters)."""


@router.get("/analytics/heatmap", summary="Day-of-week x hour heatmap",
            description=HEATMAP_DOC, responses=documented(heatmap.Heatmap))
async def activity_heatmap(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    app: App = Depends(secret_app),
    tz: str | None = TZ,
    metric: Literal["events", "users"] = Query("events", description="What each cell counts."),
) -> Response:
    query = heatmap.HeatmapQuery(flt, tz=tz, metric=metric)
    return await cached_answer(request, app, heatmap.heatmap_report, app, query)
