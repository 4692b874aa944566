"""A lead's sessions (secret key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from growthkit.core import sessions as core
from growthkit.core.apps import App
from growthkit.core.leads import MAX_LIMIT
from growthkit.core.params import optional_time
from growthkit.server.auth import secret_app
from growthkit.server.deps import (
    CURSOR,
    ERROR_RESPONSES,
    FINGERPRINT,
    FROM_DOC,
    NOT_FOUND,
    TO_DOC,
    limit_query,
    reject_unknown_parameters,
    run_core,
    time_query,
)
from growthkit.server.errors import json_response

router = APIRouter(prefix="/api/v1", tags=["leads"],
                   dependencies=[Depends(reject_unknown_parameters)])

DOC = """The lead's sessions, newest first: `{sessionId, start, end, durationSeconds, events,
pageViews, entryPage, exitPage, browser, os, device}`, built from its events in
[`from`, `to`). A session's events in order: `GET /leads/{fingerprint}/activities?sessionId=…
&order=asc`."""


@router.get("/leads/{fingerprint:path}/sessions", summary="A lead's sessions", description=DOC,
            responses={404: NOT_FOUND, **ERROR_RESPONSES})
async def lead_sessions(request: Request, fingerprint: str = FINGERPRINT,
                        from_: str | None = time_query("from", FROM_DOC),
                        to: str | None = time_query("to", TO_DOC),
                        limit: int = limit_query(50, MAX_LIMIT),
                        cursor: str | None = CURSOR,
                        app: App = Depends(secret_app)) -> Response:
    query = core.LeadSessionsQuery(fingerprint, optional_time(from_, "from"),
                                   optional_time(to, "to"), limit, cursor)
    result = await run_core(request, core.lead_sessions, app.id, query)
    return json_response(result.to_json())
