"""GET /health: is the server up and its store reachable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from growthkit import __version__
from growthkit.server.auth import state_of
from growthkit.server.errors import json_response

router = APIRouter(tags=["health"])


@router.get("/health", summary="Server and store status")
async def health(request: Request):
    state = state_of(request)

    def ping() -> None:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:  # the store is down: say so, with a status monitors understand
        return json_response({"status": "unavailable", "error": str(exc).splitlines()[0]}, 503)
    return {"status": "ok", "version": __version__, "store": state.engine.dialect.name}
