"""Leads: search, details, history and profile edits (secret key)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from growthkit.core import credits as core_credits
from growthkit.core import leads as core_leads
from growthkit.core.apps import App
from growthkit.core.clock import parse_time
from growthkit.core.filters import ActivityFilter
from growthkit.core.store import write_connection
from growthkit.core.timezones import zone
from growthkit.server.auth import secret_app, state_of
from growthkit.server.errors import ApiError, json_response

router = APIRouter(prefix="/api/v1", tags=["leads"])

FINGERPRINT = Path(..., description="The lead's fingerprint", max_length=128)
CURSOR = Query(None, description="nextCursor of the previous page")


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


class ActivityPage(BaseModel):
    data: list[dict[str, Any]]
    nextCursor: str | None


@contextmanager
def lead_errors() -> Iterator[None]:
    """Core's LeadError (and bad time zones) as API errors."""
    try:
        yield
    except core_leads.LeadError as exc:
        raise ApiError(exc.status, exc.message) from None


def time_param(name: str, value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise ApiError(422, f"{name} must be an ISO-8601 time or epoch milliseconds, "
                            f"not {value!r}") from None


@router.get("/leads", summary="Search and list leads", responses={200: {"model": LeadPage}})
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


@router.get("/leads/{fingerprint}", summary="One lead: profile, counts, top events, "
            "activity by hour and weekday, credit balance",
            responses={200: {"model": LeadDetails}, 404: {}})
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


@router.get("/leads/{fingerprint}/activities", summary="A lead's complete history, paged",
            responses={200: {"model": ActivityPage}, 404: {}})
def lead_activities(request: Request, fingerprint: str = FINGERPRINT,
                    eventName: list[str] = Query([], description="only these event names"),
                    from_: str | None = Query(None, alias="from", description="inclusive"),
                    to: str | None = Query(None, description="exclusive"),
                    order: str = Query("desc", description="desc (newest first) or asc"),
                    limit: int = Query(100, description="1-1000"),
                    cursor: str | None = CURSOR,
                    app: App = Depends(secret_app)) -> Response:
    flt = ActivityFilter(app.id, event_names=eventName, start=time_param("from", from_),
                         end=time_param("to", to), fingerprint=fingerprint)
    with lead_errors(), state_of(request).engine.connect() as conn:
        page = core_leads.lead_activities(conn, flt, order=order, limit=limit, cursor=cursor)
    return json_response(page)


@router.patch("/leads/{fingerprint}", summary="Set a lead's email, name and traits",
              responses={200: {"model": Lead}, 404: {}, 422: {}})
def patch_lead(request: Request, fingerprint: str = FINGERPRINT,
               changes: dict[str, Any] = Body(..., examples=[
                   {"email": "ada@example.com", "name": "Ada", "traits": {"plan": "pro"}}],
                   description="email and name (null clears), traits merged key by key "
                               "(a null value removes a key; traits: null clears all)"),
               app: App = Depends(secret_app)) -> Response:
    with lead_errors(), write_connection(state_of(request).engine) as conn, conn.begin():
        lead = core_leads.update_lead(conn, app.id, fingerprint, changes)
    return json_response(lead)
