"""GET /api/v1/stats: quick stats for a time range against the previous period (secret key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from growthkit.core import stats as core
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

router = APIRouter(prefix="/api/v1", tags=["stats"],
                   dependencies=[Depends(reject_unknown_parameters)])

STATS_DOC = """Quick stats for `from`…`to` (default: the last 24 hours up to now): events,
events per hour (average, last hour, and a series), unique users (fingerprints), sessions and
the top events, each with the change against the previous period of the same length.
Accepts the common activity filters. Answers are cached for a few seconds per query.

`source`: `events` (computed from stored events), `rollup` (the whole range lies before
the retention cut `rolledUpBefore` and comes from daily aggregates) or `partial`."""


@router.get("/stats", summary="Quick stats", description=STATS_DOC,
            responses=documented(core.Stats))
async def get_stats(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    app: App = Depends(secret_app),
    tz: str | None = TZ,
    top: int = limit_query(10, core.MAX_TOP, "How many top events"),
) -> Response:
    return await cached_answer(request, app, core.quick_stats, app,
                               core.StatsQuery(flt, tz=tz, top=top))
