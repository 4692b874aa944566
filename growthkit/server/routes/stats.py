"""GET /api/v1/stats: quick stats for a time range against the previous period (secret key)."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.responses import Response

from growthkit.core import stats as core_stats
from growthkit.core.apps import App
from growthkit.core.clock import now_ms
from growthkit.core.filters import ActivityFilter
from growthkit.core.timezones import DAY_MS, zone
from growthkit.server.auth import secret_app, state_of
from growthkit.server.cache import cached_json
from growthkit.server.errors import ApiError
from growthkit.server.params import ERROR_RESPONSES, activity_filter_params

router = APIRouter(prefix="/api/v1", tags=["stats"])

TZ_DOC = ("IANA time zone for buckets (e.g. Europe/Berlin, Asia/Kathmandu); default: the "
          "app's timeZone setting. The answer's `timeZone` names the zone used.")
SOURCE_DOC = ("`events`: computed from stored events; `rollup`: the whole range lies before "
              "the retention cut (`rolledUpBefore`) and comes from aggregates; `partial`: "
              "part of it does.")


def dashboard_range(flt: ActivityFilter, default_ms: int) -> ActivityFilter:
    """`to` defaults to now, `from` to `default_ms` before `to`."""
    end = flt.end if flt.end is not None else now_ms()
    start = flt.start if flt.start is not None else end - default_ms
    if start >= end:
        raise ApiError(422, "from must be before to (to is exclusive; it defaults to now)")
    return replace(flt, start=start, end=end)


def dashboard_zone(app: App, tz: str | None) -> ZoneInfo:
    try:
        return zone(tz, app.setting("timeZone") or "UTC")
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None


def run_query(engine: Engine, query, *args):  # noqa: ANN001, ANN002
    """Run a core query on a fresh connection; its ValueErrors become 422 answers."""
    def compute():
        with engine.connect() as conn:
            try:
                return query(conn, *args)
            except ValueError as exc:
                raise ApiError(422, str(exc)) from None
    return compute


class Period(BaseModel):
    from_: str = Field(alias="from", description="Start, ISO-8601 UTC (inclusive).")
    to: str = Field(description="End, ISO-8601 UTC (exclusive).")
    events: int
    uniqueUsers: int = Field(description="Distinct fingerprints.")
    sessions: int = Field(description="Distinct session ids.")
    eventsPerHour: float = Field(description="events / hours in the range.")


class TopEvent(BaseModel):
    eventName: str
    count: int
    previousCount: int
    change: float | None = Field(description="Percent change; null when previously 0.")


class SeriesPoint(BaseModel):
    start: str = Field(description="Bucket start, ISO-8601 UTC (a local hour/day start).")
    events: int


class Series(BaseModel):
    interval: str = Field(description="`hour` for ranges up to 7 days, else `day`.")
    points: list[SeriesPoint]


class Stats(Period):
    eventsLastHour: int = Field(description="Events in the hour before `to` (now).")
    series: Series = Field(description="Events per local hour (or day) over the range.")
    topEvents: list[TopEvent]
    previous: Period = Field(description="The period of the same length just before.")
    change: dict[str, float | None] = Field(
        description="Percent change against `previous` of events, uniqueUsers, sessions, "
                    "eventsPerHour (null when previously 0).")
    timeZone: str
    source: str = Field(description=SOURCE_DOC)
    previousSource: str
    rolledUpBefore: str | None = Field(
        description="Retention cut: before it only daily aggregates remain (null if the "
                    "ranges do not reach it). Unique users and sessions there are sums of "
                    "daily counts; event counts have 15-minute resolution.")


STATS_DOC = """Quick stats for `from`…`to` (default: the last 24 hours up to now): events,
events per hour (average, last hour, and a series), unique users (fingerprints), sessions and
the top events, each with the change against the previous period of the same length.
Accepts the common activity filters. Answers are cached for a few seconds per query."""


@router.get("/stats", summary="Quick stats", description=STATS_DOC,
            responses={200: {"model": Stats}, **ERROR_RESPONSES})
async def get_stats(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    app: App = Depends(secret_app),
    tz: str | None = Query(None, description=TZ_DOC),
    top: int = Query(10, ge=1, le=100, description="How many top events (1-100)."),
) -> Response:
    flt = dashboard_range(flt, DAY_MS)
    zone_ = dashboard_zone(app, tz)
    engine = state_of(request).engine
    return await cached_json(request, app.id,
                             run_query(engine, core_stats.quick_stats, flt, zone_, top))

