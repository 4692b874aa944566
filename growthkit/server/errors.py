"""One error shape for every endpoint: `{"error": message, "status": code}`.

Core errors (growthkit.core.errors) know no HTTP: their statuses are decided here, once
(STATUS_OF). This is also the one place that decides which failures mean "the store is unreachable":
those answer 503 with `Retry-After` (the client should retry the same request), anything
else unexpected answers a JSON 500; neither ever shows store error text (hosts, ports,
database names) to the caller.
"""

from __future__ import annotations

import logging
import sqlite3
import time

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.responses import Response

from growthkit.core import errors as core_errors
from growthkit.server.writer import StoreUnavailable

log = logging.getLogger("growthkit.server")

# Seconds a client is asked to wait before retrying when the store is unreachable: short,
# because the server reconnects on the next request once the store is back.
STORE_RETRY_AFTER_S = 1
STORE_UNAVAILABLE = "the store is unreachable; retry after the Retry-After delay"
# SQLite result codes that mean the file cannot be used right now, not a bad statement
# (plain SQLITE_ERROR is also how "no such table" comes back: that is a bug, a 500).
_SQLITE_OUTAGES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR",
                   "SQLITE_FULL", "SQLITE_READONLY", "SQLITE_PROTOCOL", "SQLITE_NOTADB")
_LOG_EVERY_S = 5.0
_last_logged = 0.0


# Most specific first: the first class an error is an instance of decides its status.
STATUS_OF: tuple[tuple[type[core_errors.GrowthKitCoreError], int], ...] = (
    (core_errors.UnreadableInput, 400),
    (core_errors.TooLarge, 413),
    (core_errors.QueryError, 422),
    (core_errors.NotFound, 404),
    (core_errors.Conflict, 409),
    (core_errors.StoreUnavailable, 503),
)


class ApiError(HTTPException):
    """An error a client should read: the message names the field and the rule."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status, detail=message, headers=headers)


def json_response(data, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers,
                    media_type="application/json")


def status_of(exc: core_errors.GrowthKitCoreError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 400


def is_store_outage(exc: BaseException) -> bool:
    """True for failures of reaching the store (connection lost or refused, pool exhausted,
    SQLite file locked or unreadable), as opposed to a statement the store refused."""
    if isinstance(exc, StoreUnavailable | core_errors.StoreUnavailable | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    if isinstance(exc.orig, sqlite3.Error):
        name = getattr(exc.orig, "sqlite_errorname", "") or ""
        return name.startswith(_SQLITE_OUTAGES)
    return True  # PostgreSQL (psycopg): OperationalError is the connection class of errors


def store_unavailable(message: str = STORE_UNAVAILABLE) -> ApiError:
    """The 503 of an unreachable store, with the Retry-After every client honours."""
    return ApiError(503, message, {"Retry-After": str(STORE_RETRY_AFTER_S)})


def _log_outage(exc: BaseException) -> None:
    """One log line per few seconds of an outage, not one per request."""
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= _LOG_EVERY_S:
        _last_logged = now
        log.warning("store unreachable (answering 503): %s",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def error_response(exc: BaseException) -> Response:
    """The JSON answer for any exception a request raised."""
    if isinstance(exc, HTTPException):
        return json_response({"error": exc.detail, "status": exc.status_code},
                             exc.status_code, exc.headers)
    if isinstance(exc, core_errors.StoreUnavailable):
        _log_outage(exc)
        return error_response(store_unavailable(exc.message))
    if isinstance(exc, core_errors.GrowthKitCoreError):
        status = status_of(exc)
        return json_response({"error": exc.message, "status": status}, status)
    if is_store_outage(exc):
        _log_outage(exc)
        return error_response(store_unavailable())
    log.error("request failed", exc_info=exc)
    return json_response({"error": "internal error", "status": 500}, 500)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "request"
        parts.append(f"{field}: {e.get('msg', 'is invalid').removeprefix('Value error, ')}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return json_response({"error": _validation_message(exc), "status": 422}, 422)

    # Store failures are handled here (inside the exception middleware), so the answer is
    # JSON and the keep-alive connection survives; other surprises reach the outermost
    # handler, which answers the same JSON 500 shape.
    @app.exception_handler(core_errors.GrowthKitCoreError)
    @app.exception_handler(sa_exc.SQLAlchemyError)
    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        return error_response(exc)
