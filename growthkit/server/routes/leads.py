"""Leads: search, details, history and profile edits (secret key)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from growthkit.core import credits as core_credits
from growthkit.core import leads as core_leads
from growthkit.core.apps import App
from growthkit.core.cursors import CursorError
from growthkit.core.jsonlimits import JsonLimitError, check_text, check_value
from growthkit.core.store import write_connection
from growthkit.core.timezones import zone
from growthkit.server.auth import secret_app, state_of
from growthkit.server.errors import ApiError, json_response
from growthkit.server.lead_paths import lead_fingerprint
from growthkit.server.params import (
    ERROR_RESPONSES,
    EVENT_NAME_DOC,
    FROM_DOC,
    Q_DOC,
    TO_DOC,
    WHERE_DOC,
    ActivityPage,
    ErrorBody,
    activity_filter,
)

router = APIRouter(prefix="/api/v1", tags=["leads"])
# The lead itself (/leads/{fingerprint:path}) matches any longer path too: app.py includes
# this router after every router with /leads/{fingerprint:path}/… routes.
detail_router = APIRouter(prefix="/api/v1", tags=["leads"])

# Every route under /leads/{fingerprint:path}…: the fingerprint decoded (server/lead_paths.py).
FINGERPRINT = Depends(lead_fingerprint)
CURSOR = Query(None, description="nextCursor of the previous page")
NOT_FOUND = {"model": ErrorBody, "description": "The app has no lead with this fingerprint"}


class Lead(BaseModel):
    fingerprint: str
    email: str | None
    name: str | None
    traits: dict[str, Any]
    firstSeen: str
    lastSeen: str
    events: int


class LeadPage(BaseModel):
    data: list[Lead]
    nextCursor: str | None


class EventCount(BaseModel):
    eventName: str
    count: int


class Frequency(BaseModel):
    timeZone: str
    byHourOfDay: list[int]
    byDayOfWeek: list[int]


class LeadDetails(Lead):
    sessions: int
    topEvents: list[EventCount]
    frequency: Frequency
    creditBalance: int


@contextmanager
def lead_errors() -> Iterator[None]:
    """Core's LeadError and CursorError (400) as API errors."""
    try:
        yield
    except core_leads.LeadError as exc:
        raise ApiError(exc.status, exc.message) from None
    except CursorError as exc:
        raise ApiError(400, str(exc)) from None


@router.get("/leads", summary="Search and list leads",
            responses={200: {"model": LeadPage}, **ERROR_RESPONSES})
def list_leads(request: Request,
               q: str | None = Query(None, max_length=320,
                                     description="fingerprint prefix, or part of email/name"),
               sort: str = Query("lastSeen", description="lastSeen, firstSeen or events"),
               order: str = Query("desc", description="desc (default) or asc"),
               limit: int = Query(50, description="1-1000"),
               cursor: str | None = CURSOR,
               app: App = Depends(secret_app)) -> Response:
    with lead_errors(), state_of(request).engine.connect() as conn:
        page = core_leads.search_leads(conn, app.id, q=q, sort=sort, order=order, limit=limit,
                                       cursor=cursor)
    return json_response(page)


@detail_router.get("/leads/{fingerprint:path}", summary="One lead: profile, counts, top events, "
            "activity by hour and weekday, credit balance",
            responses={200: {"model": LeadDetails}, 404: NOT_FOUND, **ERROR_RESPONSES})
def get_lead(request: Request, fingerprint: str = FINGERPRINT,
             tz: str | None = Query(None, description="IANA zone for the frequency; "
                                                      "default: the app's timeZone"),
             app: App = Depends(secret_app)) -> Response:
    try:
        tzinfo = zone(tz, default=app.setting("timeZone"))
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    with lead_errors(), state_of(request).engine.connect() as conn:
        out = core_leads.lead_details(conn, app.id, fingerprint, tzinfo)
        out["creditBalance"] = core_credits.balance(conn, app.id, fingerprint)
    return json_response(out)


@router.get("/leads/{fingerprint:path}/activities", summary="A lead's complete history, paged",
            description="The lead's events as `GET /activities` lists them (same filters, "
                        "order and cursors); 404 for an unknown lead.",
            responses={200: {"model": ActivityPage}, 404: NOT_FOUND, **ERROR_RESPONSES})
def lead_activities(request: Request, fingerprint: str = FINGERPRINT,
                    event_name: list[str] | None = Query(None, alias="eventName",
                                                         description=EVENT_NAME_DOC),
                    start: str | None = Query(None, alias="from", description=FROM_DOC),
                    end: str | None = Query(None, alias="to", description=TO_DOC),
                    session_id: str | None = Query(None, alias="sessionId"),
                    where: list[str] | None = Query(None, description=WHERE_DOC),
                    q: str | None = Query(None, description=Q_DOC),
                    order: str = Query("desc", description="desc (newest first) or asc"),
                    limit: int = Query(100, description="1-1000"),
                    cursor: str | None = CURSOR,
                    app: App = Depends(secret_app)) -> Response:
    flt = activity_filter(app, event_names=event_name, start=start, end=end,
                          fingerprint=fingerprint, session_id=session_id, where=where, search=q)
    with lead_errors(), state_of(request).engine.connect() as conn:
        page = core_leads.lead_activities(conn, flt, order=order, limit=limit, cursor=cursor)
    return json_response(page)


@detail_router.patch("/leads/{fingerprint:path}", summary="Set a lead's email, name and traits",
              responses={200: {"model": Lead}, 404: NOT_FOUND, **ERROR_RESPONSES})
def patch_lead(request: Request, fingerprint: str = FINGERPRINT,
               changes: dict[str, Any] = Body(..., examples=[
                   {"email": "ada@example.com", "name": "Ada", "traits": {"plan": "pro"}}],
                   description="email and name (null clears), traits merged key by key "
                               "(a null value removes a key; traits: null clears all)"),
               app: App = Depends(secret_app)) -> Response:
    try:  # values both stores can hold, checked before the write (as at ingest)
        for name in ("email", "name"):
            if isinstance(changes.get(name), str):
                check_text(changes[name], name)
        check_value(changes.get("traits"), "traits")
    except JsonLimitError as exc:
        raise ApiError(422, str(exc)) from None
    with lead_errors(), write_connection(state_of(request).engine) as conn, conn.begin():
        lead = core_leads.update_lead(conn, app.id, fingerprint, changes)
    return json_response(lead)
