"""The unified timeline of a lead: events and credit operations (secret key)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from growthkit.core import timeline as core_timeline
from growthkit.core.apps import App
from growthkit.server.auth import secret_app, state_of
from growthkit.server.errors import json_response
from growthkit.server.params import ERROR_RESPONSES, FROM_DOC, TO_DOC, activity_filter
from growthkit.server.routes.leads import CURSOR, FINGERPRINT, NOT_FOUND, lead_errors

router = APIRouter(prefix="/api/v1", tags=["timeline"])


class TimelineItem(BaseModel):
    kind: Literal["event", "credit"]
    timestamp: str
    name: str
    details: dict[str, Any]
    gapSeconds: float | None


class TimelinePage(BaseModel):
    data: list[TimelineItem]
    nextCursor: str | None


DOC = """Tracked events and credit operations of one lead in one chronological list.

Each item: `kind` (event or credit), `timestamp`, `name` (event name or credit action),
`details` (events: `{id, sessionId, properties}`; credits: `{id, amount, balanceAfter,
reason}`) and `gapSeconds`, the time since the item listed just before it (in the chosen
order, same filters; null for the first item of the listing; correct across pages).
"""


@router.get("/leads/{fingerprint:path}/timeline", summary="A lead's unified timeline",
            description=DOC,
            responses={200: {"model": TimelinePage}, 404: NOT_FOUND, **ERROR_RESPONSES})
def lead_timeline(request: Request, fingerprint: str = FINGERPRINT,
                  kind: str | None = Query(None, description="event or credit; default both"),
                  from_: str | None = Query(None, alias="from", description=FROM_DOC),
                  to: str | None = Query(None, description=TO_DOC),
                  order: str = Query("asc", description="asc (oldest first) or desc"),
                  limit: int = Query(100, description="1-1000"),
                  cursor: str | None = CURSOR,
                  app: App = Depends(secret_app)) -> Response:
    span = activity_filter(app, start=from_, end=to)
    with lead_errors(), state_of(request).engine.connect() as conn:
        page = core_timeline.timeline(conn, app.id, fingerprint, kind=kind or None,
                                      start=span.start, end=span.end, order=order, limit=limit,
                                      cursor=cursor)
    return json_response(page)
