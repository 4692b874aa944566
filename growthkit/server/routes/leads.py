"""Leads: search, details, history and profile edits (secret key)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.responses import Response

from growthkit.core import feed, lead_profile
from growthkit.core import leads as core
from growthkit.core.activities import ActivityPage
from growthkit.core.apps import App
from growthkit.core.params import MAX_TEXT_LENGTH, activity_filter
from growthkit.server.auth import secret_app
from growthkit.server.deps import (
    CURSOR,
    EVENT_NAMES,
    FINGERPRINT,
    FROM_DOC,
    NOT_FOUND,
    Q_DOC,
    TO_DOC,
    TZ,
    WHERE,
    answer,
    documented,
    limit_query,
    reject_unknown_parameters,
    run_core_write,
    text_query,
    time_query,
)
from growthkit.server.errors import json_response

router = APIRouter(prefix="/api/v1", tags=["leads"],
                   dependencies=[Depends(reject_unknown_parameters)])
# The lead itself (/leads/{fingerprint:path}) matches any longer path too: app.py includes
# this router after every router with /leads/{fingerprint:path}/… routes.
detail_router = APIRouter(prefix="/api/v1", tags=["leads"],
                          dependencies=[Depends(reject_unknown_parameters)])
ORDER = Query("desc", description="desc (newest first) or asc")


@router.get("/leads", summary="Search and list leads", responses=documented(core.LeadPage))
async def list_leads(request: Request,
                     q: str | None = text_query("fingerprint prefix, or part of email/name",
                                                MAX_TEXT_LENGTH),
                     sort: Literal["lastSeen", "firstSeen", "events"] = Query(
                         "lastSeen", description="lastSeen, firstSeen or events"),
                     order: Literal["desc", "asc"] = ORDER,
                     limit: int = limit_query(50, core.MAX_LIMIT),
                     cursor: str | None = CURSOR,
                     app: App = Depends(secret_app)) -> Response:
    query = core.LeadsQuery(q=q, sort=sort, order=order, limit=limit, cursor=cursor)
    return await answer(request, core.list_leads, app, query)


@detail_router.get("/leads/{fingerprint:path}", summary="One lead: profile, counts, top events, "
            "activity by hour and weekday, credit balance",
            responses=documented(lead_profile.LeadDetails, {404: NOT_FOUND}))
async def get_lead(request: Request, fingerprint: str = FINGERPRINT, tz: str | None = TZ,
                   app: App = Depends(secret_app)) -> Response:
    return await answer(request, lead_profile.lead_details, app,
                        lead_profile.LeadQuery(fingerprint, tz=tz))


@router.get("/leads/{fingerprint:path}/activities", summary="A lead's complete history, paged",
            description="The lead's events as `GET /activities` lists them (same filters, "
                        "order and cursors); 404 for an unknown lead.",
            responses=documented(ActivityPage, {404: NOT_FOUND}))
async def lead_activities(request: Request, fingerprint: str = FINGERPRINT,
                          event_name: list[str] | None = EVENT_NAMES,
                          start: str | None = time_query("from", FROM_DOC),
                          end: str | None = time_query("to", TO_DOC),
                          session_id: str | None = text_query("Only this session.", 128,
                                                              alias="sessionId"),
                          where: list[str] | None = WHERE,
                          q: str | None = text_query(Q_DOC),
                          order: Literal["desc", "asc"] = ORDER,
                          limit: int = limit_query(100, feed.MAX_LIMIT),
                          cursor: str | None = CURSOR,
                          app: App = Depends(secret_app)) -> Response:
    flt = activity_filter(app.id, event_names=event_name, start=start, end=end,
                          session_id=session_id, where=where, search=q)
    query = core.LeadActivitiesQuery(fingerprint, flt, order=order, limit=limit, cursor=cursor)
    return await answer(request, core.lead_activities, app, query)


@detail_router.patch("/leads/{fingerprint:path}", summary="Set a lead's email, name and traits",
              responses=documented(core.Lead, {404: NOT_FOUND}))
async def patch_lead(request: Request, fingerprint: str = FINGERPRINT,
                     changes: dict[str, Any] = Body(..., examples=[
                         {"email": "ada@example.com", "name": "Ada", "traits": {"plan": "pro"}}],
                         description="email and name (null clears), traits merged key by key "
                                     "(a null value removes a key; traits: null clears all)"),
                     app: App = Depends(secret_app)) -> Response:
    lead = await run_core_write(request, core.update_lead, app.id, fingerprint, changes)
    return json_response(lead.to_json())
