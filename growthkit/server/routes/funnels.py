"""POST /api/v1/analytics/funnel: ordered steps and their conversion within a window, and the
drill-down into a step (its converted or dropped leads, its time-to-convert histogram)."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from growthkit.core import funnel as core
from growthkit.core import funnel_leads as drill
from growthkit.core.apps import App
from growthkit.core.errors import QueryError
from growthkit.server.auth import secret_app
from growthkit.server.deps import (
    CURSOR,
    ERROR_RESPONSES,
    BodyEventName,
    Condition,
    body_time,
    cached_answer,
    documented,
    limit_query,
    property_conditions,
    reject_unknown_parameters,
)

router = APIRouter(tags=["analytics"], dependencies=[Depends(reject_unknown_parameters)])

FUNNEL_DOC = f"""Conversion through {core.MIN_STEPS}-{core.MAX_STEPS} ordered steps within a
window.

A lead enters with a step-1 event in [`from`, `to`) (default: the last
{core.DEFAULT_RANGE_MS // 86_400_000} days); each next step is its earliest matching event
after the previous step's event and at most `windowSeconds` after the entry (exactly at the
window counts). A lead is counted once per step, on its earliest entry that gets furthest.
`dropOff` is the previous step's users minus this step's; `medianSecondsToConvert` is the
median time from the previous step. `where` (per step or top-level, applied to every step)
is a list of `{{key, op, value}}` with op one of eq, ne, contains, exists, not_exists; keys
may be dotted paths.
"""
TIME_FIELD = {"description": "ISO-8601 or epoch ms, 1970-01-01 to 9999-12-31"}


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventName: BodyEventName
    where: list[Condition] = Field(default_factory=list, max_length=20)


class FunnelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    steps: list[StepIn] = Field(min_length=core.MIN_STEPS, max_length=core.MAX_STEPS)
    windowSeconds: int = Field(gt=0, le=core.MAX_WINDOW_SECONDS)
    start: str | int | None = Field(None, alias="from", json_schema_extra=TIME_FIELD)
    end: str | int | None = Field(None, alias="to", json_schema_extra=TIME_FIELD)
    where: list[Condition] = Field(default_factory=list, max_length=20)

    @field_validator("steps", mode="before")
    @classmethod
    def _step_count(cls, v: Any) -> Any:
        if isinstance(v, list) and not core.MIN_STEPS <= len(v) <= core.MAX_STEPS:
            raise ValueError(f"a funnel has {core.MIN_STEPS}-{core.MAX_STEPS} steps, "
                             f"not {len(v)}")
        return v


class FunnelLeadsIn(FunnelIn):
    step: int = Field(ge=1, le=core.MAX_STEPS, description="1-based step number")
    outcome: Literal["converted", "dropped"] = "converted"


class TimeToConvertIn(FunnelIn):
    step: int = Field(ge=2, le=core.MAX_STEPS, description="1-based step number, 2 or later")
    bins: int = Field(20, ge=1, le=drill.MAX_BINS)


def funnel_query(body: FunnelIn) -> core.FunnelQuery:
    """The core query of a funnel body; QueryError naming a field that cannot be used."""
    steps = [core.FunnelStep(s.eventName, property_conditions(s.where, f"steps[{i}].where"))
             for i, s in enumerate(body.steps)]
    return core.FunnelQuery(steps=steps, window_seconds=body.windowSeconds,
                            start=body_time(body.start, "from"), end=body_time(body.end, "to"),
                            conditions=property_conditions(body.where, "where"))


def _key(body: FunnelIn, *extra: object) -> bytes:
    return orjson.dumps([body.model_dump(by_alias=True), *extra], option=orjson.OPT_SORT_KEYS)


@router.post("/api/v1/analytics/funnel", summary="Funnel conversion", description=FUNNEL_DOC,
             responses=documented(core.FunnelResult))
async def funnel(body: FunnelIn, request: Request, app: App = Depends(secret_app)) -> Response:
    # Dashboards re-send the same funnel: identical bodies share one answer for the TTL.
    return await cached_answer(request, app, core.funnel, app, funnel_query(body),
                               body_key=_key(body))


LEADS_DOC = """The leads behind one step of a funnel (the funnel body of
`POST /analytics/funnel` plus `step`, 1-based, and `outcome`). **converted**: the leads that
reached the step; **dropped**: those that reached the step before but not this one (their
number is the step's `dropOff`; step 1 has none). Leads come in fingerprint order; pass
`nextCursor` back as `?cursor=` with the same body for the next page."""

TTC_DOC = """How long the leads that reached `step` (2 or later) took from the previous step:
`bins` equal bins from 0 to the longest time, with the median (as the funnel's
`medianSecondsToConvert`)."""


@router.post("/api/v1/analytics/funnel/leads", summary="A funnel step's converted or dropped "
             "leads", description=LEADS_DOC, responses=ERROR_RESPONSES)
async def funnel_step_leads(body: FunnelLeadsIn, request: Request,
                            cursor: str | None = CURSOR,
                            limit: int = limit_query(50, drill.MAX_LIMIT),
                            app: App = Depends(secret_app)) -> Response:
    query = drill.FunnelLeadsQuery(core.plan(app, funnel_query(body)), body.step, body.outcome,
                                   limit, cursor)
    drill.decode_cursor(cursor)
    # Paging through one step re-sends the same body: the walk's answer is shared for the TTL.
    return await cached_answer(request, app, drill.funnel_leads, app.id, query,
                               body_key=_key(body, cursor, limit))


@router.post("/api/v1/analytics/funnel/time-to-convert", summary="Time-to-convert histogram "
             "of a funnel step", description=TTC_DOC, responses=ERROR_RESPONSES)
async def funnel_time_to_convert(body: TimeToConvertIn, request: Request,
                                 app: App = Depends(secret_app)) -> Response:
    query = core.plan(app, funnel_query(body))
    if body.step > len(query.steps):
        raise QueryError("step", f"step: must be a step number from 2 to {len(query.steps)}, "
                                 f"not {body.step}")
    return await cached_answer(request, app, drill.time_to_convert, query, body.step, body.bins,
                               body_key=_key(body))
