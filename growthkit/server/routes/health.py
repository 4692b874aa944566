"""GET /health: up or degraded, for load balancers and monitors (no key needed).

It says nothing else without a key: no version, no store kind, no error text (store errors
name hosts, ports and databases).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from growthkit.server.auth import state_of
from growthkit.server.errors import STORE_RETRY_AFTER_S, json_response

router = APIRouter(tags=["health"])
# A store that takes longer than this to answer SELECT 1 counts as unreachable.
PING_TIMEOUT_S = 2.0


@router.get("/health", summary="Server status: up (200) or degraded (503)",
            responses={200: {"content": {"application/json": {"example": {"status": "up"}}}},
                       503: {"content": {"application/json": {"example": {
                           "status": "degraded", "error": "the store is unreachable"}}},
                           "description": "The store is unreachable or the event writer "
                                          "is not running; Retry-After is set"}})
async def health(request: Request):
    state = state_of(request)
    problem = None
    if not state.writer.healthy:  # its task gone, or a commit stalled (writer.py)
        problem = "the event writer is not taking events"
    else:
        try:
            await asyncio.wait_for(run_in_threadpool(state.ping), PING_TIMEOUT_S)
        except Exception:  # any failure to answer SELECT 1 in time: the store is down
            problem = "the store is unreachable"
    if problem:
        return json_response({"status": "degraded", "error": problem}, 503,
                             {"Retry-After": str(STORE_RETRY_AFTER_S)})
    return {"status": "up"}
