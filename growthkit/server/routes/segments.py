"""Behavioural segments of leads: built-in counts, member pages and custom rules."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement
from starlette.responses import Response

from growthkit.core import cursors
from growthkit.core import segments as core
from growthkit.core.apps import App
from growthkit.core.clock import now_ms, to_iso
from growthkit.server.auth import secret_app, state_of
from growthkit.server.cache import cached_json
from growthkit.server.errors import ApiError, json_response
from growthkit.server.params import (
    ERROR_RESPONSES,
    Condition,
    ErrorBody,
    property_conditions,
    time_field,
)

router = APIRouter(tags=["analytics"])

MAX_LIMIT = 1000
MAX_CONDITIONS = 10
MEMBER_RESPONSES = {**ERROR_RESPONSES,
                    404: {"model": ErrorBody, "description": "Unknown segment id"}}

SEGMENTS_DOC = """Counts of the built-in segments of leads, evaluated as of `asOf` (default now):
`new` (first seen in the last 7 days), `active` (an event in the last 7 days), `power` (top
decile by events in the last 30 days, ties at the cut-off included), `dormant` (no events in
the last 14 days) and, with `?event=`, `converters` (did that event at least once)."""

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

    eventName: str = Field(min_length=1, max_length=200)
    atLeast: int = Field(1, ge=1, le=1_000_000)
    days: int | None = Field(None, ge=1, le=3660)
    where: list[Condition] = Field(default_factory=list, max_length=20)


class DidNotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventName: str = Field(min_length=1, max_length=200)
    days: int | None = Field(None, ge=1, le=3660)
    where: list[Condition] = Field(default_factory=list, max_length=20)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    did: list[DidIn] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    didNot: list[DidNotIn] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    asOf: str | int | None = Field(None, description="ISO-8601 or epoch ms; default now")


class Member(BaseModel):
    fingerprint: str
    email: str | None
    name: str | None
    firstSeen: str
    lastSeen: str
    events: int


class MembersOut(BaseModel):
    data: list[Member]
    nextCursor: str | None


class RuleOut(MembersOut):
    asOf: str
    count: int


class SegmentOut(BaseModel):
    id: str
    name: str
    description: str
    count: int
    event: str | None = None


class SegmentsOut(BaseModel):
    asOf: str
    data: list[SegmentOut]


def _as_of(value: str | int | None) -> int:
    return now_ms() if value is None else time_field(value, "asOf")


def _page(cursor: str | None, as_of: str | int | None) -> tuple[int, int | None]:
    """(as_of, lead id to continue after) from the query's cursor and asOf."""
    if not cursor:
        return _as_of(as_of), None
    try:
        pinned, after = cursors.decode(core.CURSOR_KIND, cursor, 2)
    except cursors.CursorError as exc:
        raise ApiError(400, str(exc)) from None
    if as_of is not None and _as_of(as_of) != pinned:
        raise ApiError(400, f"asOf: this cursor continues a listing as of {to_iso(pinned)}; "
                            "leave asOf out or pass the same time")
    return pinned, after


def _builtin(app: App, segment: str, as_of: int, event: str | None) -> ColumnElement:
    if segment not in core.BUILTINS:
        raise ApiError(404, f"segment: unknown segment {segment!r}; built-ins are "
                            f"{', '.join(core.BUILTINS)} (custom rules: POST "
                            "/api/v1/analytics/segments/query)")
    try:
        return core.builtin_clause(app.id, segment, as_of, event)
    except core.SegmentError as exc:
        raise ApiError(422, str(exc)) from None


@router.get("/api/v1/analytics/segments", summary="Built-in segments and their counts",
            description=SEGMENTS_DOC, response_model=SegmentsOut,
            responses=ERROR_RESPONSES)
async def list_segments(request: Request, app: App = Depends(secret_app),
                        event: str | None = Query(None, max_length=200),
                        asOf: str | None = Query(None)) -> Response:
    at = _as_of(asOf)
    engine = state_of(request).engine

    def compute() -> dict:
        with engine.connect() as conn:
            data = core.summary(conn, app.id, at, event or None)
        return {"asOf": to_iso(at), "data": data}

    # Consoles poll the counts: identical requests share one answer for the cache's TTL.
    return await cached_json(request, app.id, compute)


@router.get("/api/v1/analytics/segments/{segment}/members", summary="Members of a segment",
            description=MEMBERS_DOC, response_model=MembersOut,
            responses=MEMBER_RESPONSES)
async def segment_members(segment: str, request: Request, app: App = Depends(secret_app),
                          cursor: str | None = Query(None),
                          limit: int = Query(50, ge=1, le=MAX_LIMIT),
                          event: str | None = Query(None, max_length=200),
                          asOf: str | None = Query(None)) -> Response:
    at, after = _page(cursor, asOf)
    clause = _builtin(app, segment, at, event or None)
    engine = state_of(request).engine

    def compute() -> dict:
        with engine.connect() as conn:
            data, next_cursor = core.members(conn, app.id, clause, at, after, limit)
        return {"data": data, "nextCursor": next_cursor}

    return await cached_json(request, app.id, compute)


@router.post("/api/v1/analytics/segments/query", summary="Custom segment rule",
             description=QUERY_DOC, response_model=RuleOut,
             responses=ERROR_RESPONSES)
def query_segment(body: RuleIn, request: Request, app: App = Depends(secret_app),
                  cursor: str | None = Query(None),
                  limit: int = Query(50, ge=1, le=MAX_LIMIT)) -> Response:
    at, after = _page(cursor, body.asOf)
    rule = core.Rule(
        did=[core.Did(d.eventName, property_conditions(d.where, f"did[{i}].where"),
                      d.atLeast, d.days) for i, d in enumerate(body.did)],
        did_not=[core.Did(d.eventName, property_conditions(d.where, f"didNot[{i}].where"),
                          1, d.days) for i, d in enumerate(body.didNot)])
    try:
        clause = core.rule_clause(app.id, rule, at)
    except core.SegmentError as exc:
        raise ApiError(422, str(exc)) from None
    with state_of(request).engine.connect() as conn:
        total = core.count(conn, clause)
        data, next_cursor = core.members(conn, app.id, clause, at, after, limit)
    return json_response({"asOf": to_iso(at), "count": total, "data": data,
                          "nextCursor": next_cursor})
