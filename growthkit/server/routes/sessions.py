"""A lead's sessions (secret key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from growthkit.core import sessions as core
from growthkit.core.apps import App
from growthkit.server.auth import secret_app, state_of
from growthkit.server.errors import json_response
from growthkit.server.params import ERROR_RESPONSES, FROM_DOC, TO_DOC, activity_filter
from growthkit.server.routes.leads import CURSOR, FINGERPRINT, NOT_FOUND, lead_errors

router = APIRouter(prefix="/api/v1", tags=["leads"])

DOC = """The lead's sessions, newest first: `{sessionId, start, end, durationSeconds, events,
pageViews, entryPage, exitPage, browser, os, device}`, built from its events in
[`from`, `to`). A session's events in order: `GET /leads/{fingerprint}/activities?sessionId=…
&order=asc`."""


@router.get("/leads/{fingerprint:path}/sessions", summary="A lead's sessions", description=DOC,
            responses={404: NOT_FOUND, **ERROR_RESPONSES})
def lead_sessions(request: Request, fingerprint: str = FINGERPRINT,
                  from_: str | None = Query(None, alias="from", description=FROM_DOC),
                  to: str | None = Query(None, description=TO_DOC),
                  limit: int = Query(50, description="1-1000"),
                  cursor: str | None = CURSOR,
                  app: App = Depends(secret_app)) -> Response:
    span = activity_filter(app, start=from_, end=to)
    query = core.LeadSessionsQuery(fingerprint, span.start, span.end, limit, cursor)
    with lead_errors(), state_of(request).engine.connect() as conn:
        return json_response(core.lead_sessions(conn, app.id, query).to_json())
