"""Funnel drill-down: a step's converted or dropped leads, and its time-to-convert histogram."""

from __future__ import annotations

from typing import Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from starlette.responses import Response

from growthkit.core import funnel_leads as core
from growthkit.core.apps import App
from growthkit.core.cursors import CursorError
from growthkit.core.leads import LeadError
from growthkit.server.auth import secret_app, state_of
from growthkit.server.cache import cached_json
from growthkit.server.errors import ApiError
from growthkit.server.params import ERROR_RESPONSES
from growthkit.server.routes.funnels import MAX_STEPS, FunnelIn, funnel_query

router = APIRouter(tags=["analytics"])

LEADS_DOC = """The leads behind one step of a funnel (the funnel body of
`POST /analytics/funnel` plus `step`, 1-based, and `outcome`). **converted**: the leads that
reached the step; **dropped**: those that reached the step before but not this one (their
number is the step's `dropOff`; step 1 has none). Leads come in fingerprint order; pass
`nextCursor` back as `?cursor=` with the same body for the next page."""

TTC_DOC = """How long the leads that reached `step` (2 or later) took from the previous step:
`bins` equal bins from 0 to the longest time, with the median (as the funnel's
`medianSecondsToConvert`)."""


class FunnelLeadsIn(FunnelIn):
    step: int = Field(ge=1, le=MAX_STEPS, description="1-based step number")
    outcome: Literal["converted", "dropped"] = "converted"


class TimeToConvertIn(FunnelIn):
    step: int = Field(ge=2, le=MAX_STEPS, description="1-based step number, 2 or later")
    bins: int = Field(20, ge=1, le=core.MAX_BINS)


def _key(body: FunnelIn, *extra: object) -> bytes:
    return orjson.dumps([body.model_dump(by_alias=True), *extra], option=orjson.OPT_SORT_KEYS)


@router.post("/api/v1/analytics/funnel/leads", summary="A funnel step's converted or dropped "
             "leads", description=LEADS_DOC, responses=ERROR_RESPONSES)
async def funnel_step_leads(body: FunnelLeadsIn, request: Request,
                            cursor: str | None = Query(None),
                            limit: int = Query(50, ge=1, le=core.MAX_LIMIT),
                            app: App = Depends(secret_app)) -> Response:
    try:
        query = core.FunnelLeadsQuery(funnel_query(body, app), body.step, body.outcome,
                                      limit, cursor)
        core.decode_cursor(cursor)
    except LeadError as exc:
        raise ApiError(exc.status, exc.message) from None
    except CursorError as exc:
        raise ApiError(400, str(exc)) from None
    engine = state_of(request).engine

    def compute() -> dict:
        with engine.connect() as conn, conn.begin():
            return core.funnel_leads(conn, app.id, query).to_json()

    # Paging through one step re-sends the same body: the walk's answer is shared for the TTL.
    return await cached_json(request, app.id, compute, body_key=_key(body, cursor, limit))


@router.post("/api/v1/analytics/funnel/time-to-convert", summary="Time-to-convert histogram "
             "of a funnel step", description=TTC_DOC, responses=ERROR_RESPONSES)
async def funnel_time_to_convert(body: TimeToConvertIn, request: Request,
                                 app: App = Depends(secret_app)) -> Response:
    query = funnel_query(body, app)
    if body.step > len(query.steps):
        raise ApiError(422, f"step: must be a step number from 2 to {len(query.steps)}, "
                            f"not {body.step}")
    engine = state_of(request).engine

    def compute() -> dict:
        with engine.connect() as conn, conn.begin():
            return core.time_to_convert(conn, query, body.step, body.bins).to_json()

    return await cached_json(request, app.id, compute, body_key=_key(body))
