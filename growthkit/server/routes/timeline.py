"""The unified timeline of a lead: events and credit operations (secret key)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from growthkit.core import timeline as core
from growthkit.core.apps import App
from growthkit.core.leads import MAX_LIMIT
from growthkit.core.params import optional_time
from growthkit.server.auth import secret_app
from growthkit.server.deps import (
    CURSOR,
    FINGERPRINT,
    FROM_DOC,
    NOT_FOUND,
    TO_DOC,
    answer,
    documented,
    limit_query,
    reject_unknown_parameters,
    time_query,
)

router = APIRouter(prefix="/api/v1", tags=["timeline"],
                   dependencies=[Depends(reject_unknown_parameters)])

DOC = """Tracked events and credit operations of one lead in one chronological list.

Each item: `kind` (event or credit), `timestamp`, `name` (event name or credit action),
`details` (events: `{id, sessionId, properties}`; credits: `{id, amount, balanceAfter,
reason}`) and `gapSeconds`, the time since the item listed just before it (in the chosen
order, same filters; null for the first item of the listing; correct across pages).
"""


@router.get("/leads/{fingerprint:path}/timeline", summary="A lead's unified timeline",
            description=DOC, responses=documented(core.TimelinePage, {404: NOT_FOUND}))
async def lead_timeline(request: Request, fingerprint: str = FINGERPRINT,
                        kind: Literal["event", "credit"] | None = Query(
                            None, description="event or credit; default both"),
                        from_: str | None = time_query("from", FROM_DOC),
                        to: str | None = time_query("to", TO_DOC),
                        order: Literal["asc", "desc"] = Query(
                            "asc", description="asc (oldest first) or desc"),
                        limit: int = limit_query(100, MAX_LIMIT),
                        cursor: str | None = CURSOR,
                        app: App = Depends(secret_app)) -> Response:
    query = core.TimelineQuery(fingerprint, kind=kind, start=optional_time(from_, "from"),
                               end=optional_time(to, "to"), order=order, limit=limit,
                               cursor=cursor)
    return await answer(request, core.timeline, app, query)
