"""POST /api/v1/track: batched event ingest."""

from __future__ import annotations

import logging
import zlib

from fastapi import APIRouter, Request
from starlette.responses import Response

from growthkit.core.clock import now_ms
from growthkit.core.errors import GrowthKitCoreError, QueryError
from growthkit.core.events import MAX_BODY_BYTES, ParsedBatch, load_body, parse_batch
from growthkit.core.ingest import BatchWrite
from growthkit.server import track_schema
from growthkit.server.auth import check_origin, public_app, state_of
from growthkit.server.budget import Budget
from growthkit.server.errors import (
    ApiError,
    error_response,
    json_response,
    status_of,
    store_unavailable,
)
from growthkit.server.ratelimit import LimiterUnavailable
from growthkit.server.user_agents import describe_user_agent
from growthkit.server.writer import StoreUnavailable, UnstorableBatch

router = APIRouter(tags=["ingest"])
log = logging.getLogger("growthkit.track")
TRACK_PATH = "/api/v1/track"
CONTENT_TYPES = ("application/json", "text/plain")
CHARSETS = ("utf-8", "utf8")

TRACK_DOC = """Store a batch of 1-100 events for one app.

Body: `{fingerprint, sessionId?, context?, sentAt?, key?, events: [{id?, eventName,
properties?, timestamp?, fingerprint?, sessionId?, context?}]}` as `application/json` or
`text/plain` (sendBeacon), UTF-8, optionally `Content-Encoding: gzip`. Key: `Authorization:
Bearer pk_…`, `?key=` or body `key`. Answers `{accepted, duplicates, rejected: [{index,
error}], warnings?}`; `?beacon=1` answers 204.
"""


def _check_content_type(request: Request) -> None:
    declared = request.headers.get("content-type", "").strip()
    if not declared:
        return
    mime, _, params = declared.partition(";")
    mime = mime.strip().lower()
    if mime not in CONTENT_TYPES:
        raise ApiError(415, f"Content-Type {mime} is not supported: send application/json "
                            "or text/plain")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in CHARSETS:
            raise ApiError(415, f"charset {charset} is not supported: send UTF-8")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"body is {declared} bytes; the limit is {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"body is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ApiError(415, f"Content-Encoding {encoding} is not supported: send gzip or "
                            "no encoding")
    return _gunzip(body)


def _gunzip(body: bytes) -> bytes:
    """The inflated body, never more than MAX_BODY_BYTES of it (a gzip bomb stops there)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise ApiError(400, f"body is not valid gzip: {exc}") from None
    if len(out) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise ApiError(413, f"body inflates to over the limit of {MAX_BODY_BYTES} bytes")
    if not inflater.eof:
        raise ApiError(400, "body is not valid gzip: it ends early")
    return out


def _answer(parsed: ParsedBatch, stored: int, duplicates: int) -> dict:
    parsed.rejected.sort(key=lambda r: r["index"])
    answer = {"accepted": stored, "duplicates": duplicates, "rejected": parsed.rejected}
    if parsed.warnings:
        answer["warnings"] = parsed.warnings
    return answer


def _failed(status: int, error: str, answer: dict | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """A 422/429 answer: the track answer with the error shape's fields beside it."""
    body = answer or {"accepted": 0, "duplicates": 0, "rejected": []}
    return json_response({**body, "error": error, "status": status}, status, headers)


@router.post(TRACK_PATH, description=TRACK_DOC, summary="Track a batch of events",
             responses=track_schema.RESPONSES, openapi_extra=track_schema.openapi_extra())
async def track(request: Request) -> Response:
    state = state_of(request)
    received_at = now_ms()
    _check_content_type(request)
    body = await _read_body(request)
    try:
        data = load_body(body)
    except GrowthKitCoreError as exc:
        if status_of(exc) == 422:
            return _failed(422, exc.message)
        raise
    body_key = data.get("key") if isinstance(data.get("key"), str) else None
    app = await public_app(request, body_key)
    check_origin(request, app)
    try:
        parsed = parse_batch(data, received_at=received_at,
                             retention_days=app.setting("retentionDays"),
                             user_agent=request.headers.get("user-agent"),
                             describe_user_agent=describe_user_agent, body=body)
    except QueryError as exc:
        return _failed(422, exc.message)

    budget = Budget(state, app)
    try:
        accepted = await budget.admit(parsed)
    except LimiterUnavailable:
        await budget.settle(None)
        raise store_unavailable("the rate limiter (Redis) is unreachable, no events were "
                                "stored; retry with the same ids after the Retry-After "
                                "delay") from None
    stored = duplicates = 0
    if accepted:
        try:
            result = await state.writer.write(BatchWrite(app.id, [e for _, e in accepted]))
        except StoreUnavailable as exc:
            await budget.settle(None)
            raise store_unavailable(f"the store could not take the events: {exc}; retry "
                                    "with the same ids after the Retry-After delay") from None
        except UnstorableBatch as exc:
            await budget.settle(None)
            for index, _ in accepted:
                parsed.reject(index, f"the store refused this batch's data ({exc})")
            return _failed(422, "the store refused the events as invalid; none were stored",
                           _answer(parsed, 0, 0))
        await budget.settle(result.stored)
        stored, duplicates = len(result.stored), result.duplicates

    answer = _answer(parsed, stored, duplicates)
    if not accepted and budget.retry_after:
        limited = next(r["error"] for r in parsed.rejected
                       if r["error"].startswith("rate limit"))
        return _failed(429, f"{limited}; retry after {budget.retry_after} s", answer,
                       {"Retry-After": str(budget.retry_after)})
    if not accepted:
        first = parsed.rejected[0]
        return _failed(422, f"no event was accepted ({len(parsed.rejected)} rejected); first: "
                            f"events[{first['index']}]: {first['error']}", answer)
    headers = {"Retry-After": str(budget.retry_after)} if budget.retry_after else None
    if request.query_params.get("beacon") == "1":
        return Response(status_code=204)
    return json_response(answer, 200, headers)


async def track_hot_path(request: Request) -> Response:
    """The same handler for the ASGI hot path (see GrowthKitAPI), with errors and CORS done
    here because the hot path skips the middleware stack."""
    try:
        response = await track(request)
    except Exception as exc:  # the same answers as the exception handlers (errors.py)
        response = error_response(exc)
    if "origin" in request.headers:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response
