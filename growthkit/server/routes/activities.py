"""GET /api/v1/activities: list and page through tracked events (secret key)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from growthkit.core import feed
from growthkit.core.activities import ActivityPage
from growthkit.core.apps import App
from growthkit.core.filters import ActivityFilter
from growthkit.server.auth import secret_app
from growthkit.server.deps import (
    CURSOR,
    activity_filter_params,
    answer,
    documented,
    limit_query,
    reject_unknown_parameters,
)

router = APIRouter(prefix="/api/v1", tags=["activities"],
                   dependencies=[Depends(reject_unknown_parameters)])

LIST_DOC = """The app's stored events, newest first (or oldest first with `order=asc`).

Answers `{data: [StoredActivity], nextCursor}`. Pass `nextCursor` back as `cursor` (with
the same filters and order) for the next page; it is null on the last page. Pages are cut by
position, not offset, so events stored meanwhile never make a page skip or repeat a row.
"""


@router.get("/activities", summary="List activities", description=LIST_DOC,
            responses=documented(ActivityPage))
async def list_activities(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    app: App = Depends(secret_app),
    order: Literal["desc", "asc"] = Query("desc", description="`desc`: newest first."),
    limit: int = limit_query(feed.DEFAULT_LIMIT, feed.MAX_LIMIT),
    cursor: str | None = CURSOR,
) -> Response:
    query = feed.ActivitiesQuery(flt, order=order, limit=limit, cursor=cursor)
    return await answer(request, feed.list_activities, app, query)
