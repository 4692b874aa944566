"""POST /api/v1/analytics/funnel: ordered steps and their conversion within a window."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from growthkit.core.apps import App
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.funnel import MAX_STEPS, MIN_STEPS, FunnelQuery, FunnelStep, run_funnel
from growthkit.server.auth import secret_app, state_of
from growthkit.server.cache import cached_json
from growthkit.server.errors import ApiError
from growthkit.server.params import ERROR_RESPONSES, Condition, property_conditions, time_field

router = APIRouter(tags=["analytics"])

DAY_MS = 86_400_000
DEFAULT_RANGE_DAYS = 30
MAX_WINDOW_SECONDS = 366 * 86_400

FUNNEL_DOC = f"""Conversion through {MIN_STEPS}-{MAX_STEPS} ordered steps within a window.

A lead enters with a step-1 event in [`from`, `to`) (default: the last {DEFAULT_RANGE_DAYS}
days); each next step is its earliest matching event after the previous step's event and at
most `windowSeconds` after the entry (exactly at the window counts). A lead is counted once
per step, on its earliest entry that gets furthest. `dropOff` is the previous step's users
minus this step's; `medianSecondsToConvert` is the median time from the previous step.
`where` (per step or top-level, applied to every step) is a list of `{{key, op, value}}`
with op one of eq, ne, contains, exists, not_exists; keys may be dotted paths.
"""


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventName: str = Field(min_length=1, max_length=200)
    where: list[Condition] = Field(default_factory=list, max_length=20)


class FunnelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    steps: list[StepIn] = Field(min_length=MIN_STEPS, max_length=MAX_STEPS)
    windowSeconds: int = Field(gt=0, le=MAX_WINDOW_SECONDS)
    start: str | int | None = Field(None, alias="from", description="ISO-8601 or epoch ms")
    end: str | int | None = Field(None, alias="to", description="ISO-8601 or epoch ms")
    where: list[Condition] = Field(default_factory=list, max_length=20)

    @field_validator("steps", mode="before")
    @classmethod
    def _step_count(cls, v: Any) -> Any:
        if isinstance(v, list) and not MIN_STEPS <= len(v) <= MAX_STEPS:
            raise ValueError(f"a funnel has {MIN_STEPS}-{MAX_STEPS} steps, not {len(v)}")
        return v


class StepOut(BaseModel):
    eventName: str
    users: int
    conversionFromStart: float
    conversionFromPrevious: float
    dropOff: int
    medianSecondsToConvert: float | None


class FunnelOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    windowSeconds: int
    steps: list[StepOut]


def funnel_query(body: FunnelIn, app: App) -> FunnelQuery:
    """The core query of a funnel body; ApiError(422) naming a field that cannot be used."""
    end = now_ms() if body.end is None else time_field(body.end, "to")
    start = (end - DEFAULT_RANGE_DAYS * DAY_MS if body.start is None
             else time_field(body.start, "from"))
    if start >= end:
        raise ApiError(422, f"from: the range must start before it ends "
                            f"(from {to_iso(start)}, to {to_iso(end)})")
    steps = [FunnelStep(s.eventName, property_conditions(s.where, f"steps[{i}].where"))
             for i, s in enumerate(body.steps)]
    return FunnelQuery(app_id=app.id, steps=steps, window_ms=body.windowSeconds * 1000,
                       start=start, end=end, conditions=property_conditions(body.where, "where"))


@router.post("/api/v1/analytics/funnel", summary="Funnel conversion", description=FUNNEL_DOC,
             response_model=FunnelOut, responses=ERROR_RESPONSES)
async def funnel(body: FunnelIn, request: Request, app: App = Depends(secret_app)) -> Response:
    query = funnel_query(body, app)
    start, end = query.start, query.end
    engine = state_of(request).engine

    def compute() -> dict:
        with engine.connect() as conn:
            results = run_funnel(conn, query)
        return {"from": to_iso(start), "to": to_iso(end), "windowSeconds": body.windowSeconds,
                "steps": [r.as_json() for r in results]}

    # Dashboards re-send the same funnel: identical bodies share one answer for the TTL.
    key = orjson.dumps(body.model_dump(by_alias=True), option=orjson.OPT_SORT_KEYS)
    return await cached_json(request, app.id, compute, body_key=key)
