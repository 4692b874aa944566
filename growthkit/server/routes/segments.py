"""Behavioural segments of leads: built-in counts, member pages and custom rules."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from growthkit.core import segments as core
from growthkit.core.apps import App
from growthkit.server.auth import secret_app
from growthkit.server.deps import (
    CURSOR,
    NO_NUL,
    TIME_DOC,
    BodyEventName,
    Condition,
    ErrorBody,
    answer,
    body_time,
    cached_answer,
    documented,
    limit_query,
    property_conditions,
    reject_unknown_parameters,
    time_query,
)

router = APIRouter(tags=["analytics"], dependencies=[Depends(reject_unknown_parameters)])

MAX_CONDITIONS = 10
UNKNOWN_SEGMENT = {404: {"model": ErrorBody, "description": "Unknown segment id"}}
AS_OF_DOC = f"Evaluate as of this moment (default now): {TIME_DOC}"
EVENT = Query(None, description="The converters segment's event name.",
              json_schema_extra={"maxLength": 200, "pattern": NO_NUL})

SEGMENTS_DOC = """Counts of the built-in segments of leads, evaluated as of `asOf` (default now):
`new` (first seen in the last 7 days), `active` (an event in the last 7 days), `power` (top
decile by events in the last 30 days, ties at the cut-off included), `dormant` (no events in
the last 14 days) and, with `?event=`, `converters` (did that event at least once; its
`event` names it, null for the others)."""

MEMBERS_DOC = """A page of a built-in segment's members, newest leads first.
`events` is the lead's number of stored events up to `asOf`. Pass `nextCursor` back as
`cursor` for the next page; a cursor keeps the `asOf` of the first page."""

QUERY_DOC = """Count and list the leads matching a custom rule: every `did` condition
("did eventName at least atLeast times in the last days days") and no `didNot` condition
("did eventName in the last days days"). `days` omitted means all stored history; `where` is
a list of `{key, op, value}` property conditions. Example "did signup but not purchase":
`{"did": [{"eventName": "signup"}], "didNot": [{"eventName": "purchase"}]}`."""


class DidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventName: BodyEventName
    atLeast: int = Field(1, ge=1, le=1_000_000)
    days: int | None = Field(None, ge=1, le=3660)
    where: list[Condition] = Field(default_factory=list, max_length=20)


class DidNotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventName: BodyEventName
    days: int | None = Field(None, ge=1, le=3660)
    where: list[Condition] = Field(default_factory=list, max_length=20)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    did: list[DidIn] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    didNot: list[DidNotIn] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    asOf: str | int | None = Field(None, description=AS_OF_DOC)


@router.get("/api/v1/analytics/segments", summary="Built-in segments and their counts",
            description=SEGMENTS_DOC, responses=documented(core.Segments))
async def list_segments(request: Request, app: App = Depends(secret_app),
                        event: str | None = EVENT,
                        asOf: str | None = time_query("asOf", AS_OF_DOC)) -> Response:
    query = core.SegmentsQuery(event=event, as_of=body_time(asOf, "asOf"))
    # Consoles poll the counts: identical requests share one answer for the cache's TTL.
    return await cached_answer(request, app, core.segment_summary, app, query)


@router.get("/api/v1/analytics/segments/{segment}/members", summary="Members of a segment",
            description=MEMBERS_DOC, responses=documented(core.MemberPage, UNKNOWN_SEGMENT))
async def segment_members(segment: str, request: Request, app: App = Depends(secret_app),
                          cursor: str | None = CURSOR,
                          limit: int = limit_query(core.DEFAULT_LIMIT, core.MAX_LIMIT),
                          event: str | None = EVENT,
                          asOf: str | None = time_query("asOf", AS_OF_DOC)) -> Response:
    query = core.MembersQuery(segment, event=event, as_of=body_time(asOf, "asOf"),
                              cursor=cursor, limit=limit)
    return await cached_answer(request, app, core.segment_members, app, query)


@router.post("/api/v1/analytics/segments/query", summary="Custom segment rule",
             description=QUERY_DOC, responses=documented(core.RulePage))
async def query_segment(body: RuleIn, request: Request, app: App = Depends(secret_app),
                        cursor: str | None = CURSOR,
                        limit: int = limit_query(core.DEFAULT_LIMIT, core.MAX_LIMIT)
                        ) -> Response:
    rule = core.Rule(
        did=[core.Did(d.eventName, property_conditions(d.where, f"did[{i}].where"),
                      d.atLeast, d.days) for i, d in enumerate(body.did)],
        did_not=[core.Did(d.eventName, property_conditions(d.where, f"didNot[{i}].where"),
                          1, d.days) for i, d in enumerate(body.didNot)])
    query = core.RuleQuery(rule, as_of=body_time(body.asOf, "asOf"), cursor=cursor,
                           limit=limit)
    return await answer(request, core.query_segment, app, query)
