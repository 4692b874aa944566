"""GET /api/v1/activities: list and page through tracked events (secret key)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from growthkit.core import feed
from growthkit.core.cursors import CursorError
from growthkit.core.filters import ActivityFilter
from growthkit.server.auth import state_of
from growthkit.server.errors import ApiError, json_response
from growthkit.server.params import ERROR_RESPONSES, ActivityPage, activity_filter_params

router = APIRouter(prefix="/api/v1", tags=["activities"])

LIST_DOC = """The app's stored events, newest first (or oldest first with `order=asc`).

Answers `{data: [StoredActivity], nextCursor}`. Pass `nextCursor` back as `cursor` (with
the same filters and order) for the next page; it is null on the last page. Pages are cut by
position, not offset, so events stored meanwhile never make a page skip or repeat a row.
"""


@router.get("/activities", summary="List activities", description=LIST_DOC,
            responses={200: {"model": ActivityPage}, **ERROR_RESPONSES})
async def list_activities(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    order: Literal["desc", "asc"] = Query("desc", description="`desc`: newest first."),
    limit: int = Query(feed.DEFAULT_LIMIT, ge=1, le=feed.MAX_LIMIT,
                       description=f"Items per page, 1-{feed.MAX_LIMIT}."),
    cursor: str | None = Query(None, description="`nextCursor` of the previous page."),
) -> Response:
    engine = state_of(request).engine

    def read() -> feed.Page:
        with engine.connect() as conn:
            return feed.list_activities(conn, flt, order=order, limit=limit, cursor=cursor)

    try:
        page = await run_in_threadpool(read)
    except CursorError as exc:
        raise ApiError(400, f"{exc}, or leave cursor out for the first page") from None
    return json_response(page.to_json())
