"""Bulk reads for snapshots and local caches: stored rows, cursor-paged (secret key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from growthkit.core import bulk
from growthkit.core.apps import App
from growthkit.core.errors import QueryError
from growthkit.core.filters import ActivityFilter
from growthkit.core.params import optional_time
from growthkit.server.auth import secret_app, state_of
from growthkit.server.deps import (
    ERROR_RESPONSES,
    FROM_DOC,
    TO_DOC,
    activity_filter_params,
    limit_query,
    reject_unknown_parameters,
    time_query,
)
from growthkit.server.errors import json_response

router = APIRouter(prefix="/api/v1/bulk", tags=["bulk"],
                   dependencies=[Depends(reject_unknown_parameters)])

PAGE_DOC = ("`{columns, rows, nextCursor, syncCursor}`: rows as lists in `columns` order, "
            "times in epoch milliseconds, JSON columns as JSON text. `nextCursor` continues "
            "the walk (null on the last page); `syncCursor`, passed as `cursor` later, "
            "returns only rows stored since.")
LIMIT = limit_query(bulk.DEFAULT_LIMIT, bulk.MAX_LIMIT, "Rows per page")
CURSOR = Query(None, description="nextCursor (or syncCursor) of an earlier page")


class RowPage(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    nextCursor: str | None
    syncCursor: str
    remaining: int | None = Field(None, description="With count=true: rows left in the "
                                                    "walk from this page on.")


class LeadsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fingerprints: list[str] | None = Field(None, description=f"Only these leads (at most "
                                                             f"{bulk.MAX_FINGERPRINTS}).")
    seenSince: str | int | None = Field(None, description="Only leads active since then "
                                                          "(ISO-8601 or epoch ms).")
    cursor: str | None = None
    limit: int = bulk.DEFAULT_LIMIT
    count: bool = Field(False, description="Also answer `remaining`.")


class CreditsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fingerprints: list[str] | None = Field(None, description="Only these leads' ledgers.")
    cursor: str | None = None
    limit: int = bulk.DEFAULT_LIMIT


async def _read(request: Request, read: Callable[[Any], Any]) -> Response:
    engine = state_of(request).engine

    def run() -> Any:
        with engine.connect() as conn:
            return read(conn)

    result = await run_in_threadpool(run)
    return json_response(result.to_json())


@router.get("/activities", summary="Stored activities by row number", description=(
    "The app's activities in store order (`seq`), filtered by `from`, `to` and `eventName` "
    "(other filters are refused). " + PAGE_DOC),
    responses={200: {"model": RowPage}, **ERROR_RESPONSES})
async def bulk_activities(request: Request,
                          flt: ActivityFilter = Depends(activity_filter_params),
                          cursor: str | None = CURSOR, limit: int = LIMIT,
                          count: bool = Query(False, description="Also answer `remaining`.")
                          ) -> Response:
    if flt.fingerprint or flt.session_id or flt.conditions or flt.search:
        raise QueryError("fingerprint", "bulk activities filter by from, to and eventName "
                                        "only")
    return await _read(request, lambda conn: bulk.activity_rows(
        conn, flt.app_id, start=flt.start, end=flt.end, event_names=flt.event_names,
        cursor=cursor, limit=limit, count=count))


@router.post("/leads", summary="Stored leads by id",
             description="The app's leads, optionally only `fingerprints` or those active "
                         "since `seenSince`. " + PAGE_DOC,
             responses={200: {"model": RowPage}, **ERROR_RESPONSES})
async def bulk_leads(request: Request, body: LeadsIn, app: App = Depends(secret_app)
                     ) -> Response:
    since = optional_time(body.seenSince, "seenSince")
    return await _read(request, lambda conn: bulk.lead_rows(
        conn, app.id, fingerprints=body.fingerprints, seen_since=since, cursor=body.cursor,
        limit=body.limit, count=body.count))


@router.post("/credit-operations", summary="Stored credit operations by row number",
             description="The app's credit operations, optionally only the ledgers of "
                         "`fingerprints`. " + PAGE_DOC,
             responses={200: {"model": RowPage}, **ERROR_RESPONSES})
async def bulk_credits(request: Request, body: CreditsIn, app: App = Depends(secret_app)
                       ) -> Response:
    return await _read(request, lambda conn: bulk.credit_rows(
        conn, app.id, fingerprints=body.fingerprints, cursor=body.cursor, limit=body.limit))


@router.get("/aggregates", summary="What retention kept of deleted events",
            description="For the part of `from`…`to` before the app's retention cut "
                        "(`rolledUntil`, null if none): daily counts with distinct users and "
                        "sessions, and the 15-minute and hourly event counts.",
            responses=ERROR_RESPONSES)
async def bulk_aggregates(request: Request, app: App = Depends(secret_app),
                          start: str | None = time_query("from", FROM_DOC),
                          end: str | None = time_query("to", TO_DOC)) -> Response:
    lo, hi = optional_time(start, "from"), optional_time(end, "to")
    if lo is not None and hi is not None and lo >= hi:
        raise QueryError("from", "from must be before to (to is exclusive)")
    return await _read(request, lambda conn: bulk.aggregates(conn, app.id, start=lo, end=hi))
