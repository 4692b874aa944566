"""POST /api/v1/track: batched event ingest."""

from __future__ import annotations

import logging
from collections import defaultdict

from fastapi import APIRouter, Request
from starlette.responses import Response

from growthkit.core.clock import now_ms
from growthkit.core.events import MAX_BODY_BYTES, BatchError, load_body, parse_batch
from growthkit.core.ingest import BatchWrite
from growthkit.server.auth import check_origin, public_app, state_of
from growthkit.server.errors import ApiError, error_response, json_response, store_unavailable
from growthkit.server.user_agents import describe_user_agent
from growthkit.server.writer import StoreUnavailable

router = APIRouter(tags=["ingest"])
log = logging.getLogger("growthkit.track")
TRACK_PATH = "/api/v1/track"

TRACK_DOC = """Store a batch of 1-100 events for one app.

Body: `{fingerprint, sessionId?, context?, sentAt?, key?, events: [{id?, eventName,
properties?, timestamp?, fingerprint?, sessionId?, context?}]}` as `application/json` or
`text/plain` (sendBeacon). Key: `Authorization: Bearer pk_…`, `?key=` or body `key`.
Answers `{accepted, duplicates, rejected: [{index, error}]}`; `?beacon=1` answers 204.
"""


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
    return b"".join(chunks)


@router.post(TRACK_PATH, description=TRACK_DOC, summary="Track a batch of events",
             responses={200: {"description": "{accepted, duplicates, rejected}"},
                        401: {}, 403: {}, 413: {}, 422: {}, 429: {}, 503: {}})
async def track(request: Request) -> Response:
    state = state_of(request)
    received_at = now_ms()
    try:
        body = await _read_body(request)
        data = load_body(body)
    except BatchError as exc:
        raise ApiError(exc.status, exc.message) from None
    body_key = data.get("key") if isinstance(data.get("key"), str) else None
    app = await public_app(request, body_key)
    check_origin(request, app)
    try:
        parsed = parse_batch(data, received_at=received_at,
                             retention_days=app.setting("retentionDays"),
                             user_agent=request.headers.get("user-agent"),
                             describe_user_agent=describe_user_agent,
                             body_size=len(body))
    except BatchError as exc:
        raise ApiError(exc.status, exc.message) from None

    accepted, retry_after = await _rate_limit(state, app, parsed)
    limited = retry_after > 0

    stored = duplicates = 0
    if accepted:
        try:
            result = await state.writer.write(BatchWrite(app.id, [e for _, e in accepted]))
        except StoreUnavailable:
            raise store_unavailable("the store could not take the events, none were "
                                    "stored; retry with the same ids after the "
                                    "Retry-After delay") from None
        stored, duplicates = len(result.stored), result.duplicates

    parsed.rejected.sort(key=lambda r: r["index"])
    answer = {"accepted": stored, "duplicates": duplicates, "rejected": parsed.rejected}
    headers = {"Retry-After": str(retry_after)} if limited else None
    if not accepted and limited:
        status = 429
    elif not accepted and parsed.rejected:
        status = 422
    else:
        status = 200
    if request.query_params.get("beacon") == "1" and status == 200:
        return Response(status_code=204)
    return json_response(answer, status, headers)


async def _rate_limit(state, app, parsed) -> tuple[list, int]:  # noqa: ANN001
    """Per fingerprint, the first events within the app's limit pass; the rest are rejected.

    Returns the passing (index, event) pairs and the Retry-After seconds (0: none limited).
    """
    per_minute = app.setting("rateLimitPerMinute")
    by_fp: dict[str, list] = defaultdict(list)
    for index, event in parsed.events:
        by_fp[event.fingerprint].append((index, event))
    accepted, retry_after = [], 0
    for fingerprint, items in by_fp.items():
        granted, retry = await state.limiter.grant(app.id, fingerprint, len(items), per_minute)
        accepted.extend(items[:granted])
        for index, _ in items[granted:]:
            parsed.reject(index, f"rate limit: over {per_minute} events per minute for "
                                 f"fingerprint {fingerprint}")
        if granted < len(items):
            retry_after = max(retry_after, retry, 1)
    return accepted, retry_after


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
