"""GET /api/v1/export: filtered activities as a CSV, JSON or NDJSON download (secret key)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from growthkit.core import export as core_export
from growthkit.core.clock import to_iso
from growthkit.core.filters import ActivityFilter
from growthkit.server.auth import state_of
from growthkit.server.deps import ERROR_RESPONSES, activity_filter_params, reject_unknown_parameters

router = APIRouter(prefix="/api/v1", tags=["export"],
                   dependencies=[Depends(reject_unknown_parameters)])

EXPORT_DOC = f"""Download the app's events that match the filters, as a file.

Same filters as `GET /activities`. Covers at most the last {core_export.EXPORT_WINDOW_DAYS} days
(the export window): an earlier `from`, or none, starts at the window's start, which the
`X-Export-From` header states. Streamed, so any size works; oldest first unless `order=desc`.

- `csv`: a header row, then one row per event in StoredActivity's field order; `properties`
  and `context` are JSON text in their cells (quoted per RFC 4180).
- `json`: one array of StoredActivity objects.
- `ndjson`: one StoredActivity object per line.
"""

_MEDIA = {fmt.media_type.split(";")[0]: {"schema": {"type": "string"}}
          for fmt in core_export.FORMATS.values()}
# The JSON file is one array of StoredActivity objects.
_MEDIA["application/json"] = {"schema": {
    "type": "array", "items": {"$ref": "#/components/schemas/StoredActivity"}}}


async def _in_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Drive a blocking byte iterator from the event loop, one chunk per worker-thread hop."""
    try:
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            yield chunk
    finally:
        # Also when the client went away mid-download: release the store cursor.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(chunks.close)


@router.get("/export", summary="Export activities", description=EXPORT_DOC,
            response_class=StreamingResponse,
            responses={200: {"content": _MEDIA, "description": "The export file"},
                       **ERROR_RESPONSES})
async def export(
    request: Request,
    flt: ActivityFilter = Depends(activity_filter_params),
    format: Literal["csv", "json", "ndjson"] = Query("csv", description="The file format."),
    order: Literal["asc", "desc"] = Query("asc", description="`asc`: oldest first."),
) -> StreamingResponse:
    fmt = core_export.FORMATS[format]
    flt = core_export.clamp_to_window(flt)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "Content-Disposition": f'attachment; filename="growthkit-activities-{stamp}.'
                               f'{fmt.extension}"',
        "X-Export-From": to_iso(flt.start) or "",
        "Cache-Control": "no-store",
    }
    state = state_of(request)
    # The body streams after the 200 is sent: check the store first, so an outage gets a
    # 503 instead of a download that breaks off.
    await run_in_threadpool(state.ping)
    chunks = core_export.export_bytes(state.engine, flt, format, order=order)
    return StreamingResponse(_in_threads(chunks), media_type=fmt.media_type, headers=headers)
