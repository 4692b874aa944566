"""GET /api/v1/stream: newly stored activities as server-sent events (secret key)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from growthkit.core.apps import App
from growthkit.core.errors import UnreadableInput
from growthkit.core.params import activity_filter
from growthkit.server.auth import bearer, secret_app, state_of
from growthkit.server.deps import (
    ERROR_RESPONSES,
    EVENT_NAMES,
    reject_unknown_parameters,
    text_query,
)
from growthkit.server.live import activity_frames

router = APIRouter(prefix="/api/v1", tags=["stream"],
                   dependencies=[Depends(reject_unknown_parameters)])
EVENT_ID = re.compile(r"[0-9]{1,19}")
MAX_EVENT_ID = 2**63 - 1

STREAM_DOC = """Server-sent events (`text/event-stream`) of the app's events as they are stored.

Each event is one frame:

```
id: 1042
event: activity
data: {StoredActivity JSON}
```

`id` is the event's `seq`. To resume after a disconnect, send the last id you received as
the `Last-Event-ID` header (browsers' EventSource does so by itself) or as `lastEventId`:
the stored events after it that match the filters come first, then live ones, none twice.
Without it the stream starts with events stored from now on. A `: live` comment marks
the end of the replay; a `: heartbeat` comment comes every 15 s (server setting
`GROWTHKIT_STREAM_HEARTBEAT_SECONDS`) when nothing else is sent. A subscriber that falls
too far behind gets an `event: dropped` frame and the stream ends: reconnect with
Last-Event-ID. A stream ends, too, when its secret key is rotated (within about 1.25 s); a
reconnect with the old key gets 401. With `GROWTHKIT_REDIS_URL` set, events stored by any
server process reach subscribers of every process.
"""


def _last_event_id(header: str | None, query: str | None) -> int | None:
    for name, value in (("Last-Event-ID", header), ("lastEventId", query)):
        if value is None or not value.strip():
            continue
        text = value.strip()
        if not EVENT_ID.fullmatch(text) or int(text) > MAX_EVENT_ID:
            raise UnreadableInput(name, f"{name} must be the id of an event from this stream "
                                        f"(a whole number of at most 19 digits), not {value!r}")
        return int(text)
    return None


@router.get("/stream", summary="Live stream of new activities", description=STREAM_DOC,
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "An endless event stream"},
                       **ERROR_RESPONSES})
async def stream(
    request: Request,
    app: App = Depends(secret_app),
    event_name: list[str] | None = EVENT_NAMES,
    fingerprint: str | None = text_query("Only this lead's events.", 128),
    session_id: str | None = text_query("Only this session.", 128, alias="sessionId"),
    last_event_id: str | None = Query(None, alias="lastEventId",
                                      json_schema_extra={"pattern": r"^\s*[0-9]{0,19}\s*$"},
                                      description="Resume after this id (as Last-Event-ID)."),
    last_event_id_header: str | None = Header(None, alias="Last-Event-ID",
                                              include_in_schema=False),
) -> StreamingResponse:
    state = state_of(request)
    flt = activity_filter(app.id, event_names=event_name, fingerprint=fingerprint,
                          session_id=session_id)
    after = _last_event_id(last_event_id_header, last_event_id)
    # The stream answers 200 before it reads the store: check the store first, so an
    # outage gets a 503 (EventSource then retries) instead of a stream that breaks off.
    await run_in_threadpool(state.ping)
    key = bearer(request)

    async def authorized() -> bool:
        try:
            current = await state.app_for_key(key)
        except Exception:  # the store is unreachable: no verdict; asked again shortly
            return True
        return current is not None and current.id == app.id

    frames = activity_frames(state.engine, state.broadcaster, flt, after,
                             state.settings.stream_heartbeat_seconds, authorized)
    # no-transform and X-Accel-Buffering: proxies must pass frames on as they come.
    return StreamingResponse(frames, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache, no-transform",
                                      "X-Accel-Buffering": "no"})
