"""Lead URLs reach every fingerprint the ingest accepts: `/`, `%`, spaces, any script.

A fingerprint goes in the URL percent-encoded (`quote(fp, safe="")`; a literal `/` works
too). The server routes lead URLs on the path as sent (the ASGI `raw_path`), before
percent-decoding, so an encoded `%2F` stays part of the fingerprint and
`/leads/a%2Fb%2Factivities` is the lead "a/b/activities", while `/leads/a/b/activities` is
the activities of lead "a/b". The `fingerprint` dependency decodes it (UTF-8). A
fingerprint that is `.` or `..` must be sent as `%2E` / `%2E%2E` (HTTP clients remove dot
segments from URLs).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import Path, Request
from starlette.types import Scope

from growthkit.server.errors import ApiError

LEADS_PREFIX = "/api/v1/leads/"
MAX_FINGERPRINT = 128  # as the ingest accepts (core/events.py)
_RAW = "growthkit.raw_lead_path"


def route_on_raw_path(scope: Scope) -> None:
    """For a lead URL, route on the undecoded path (called at the ASGI entry point)."""
    if scope["type"] != "http" or not scope["path"].startswith(LEADS_PREFIX):
        return
    raw = scope.get("raw_path")
    if raw is None:
        return
    path = raw.split(b"?", 1)[0].decode("latin-1")
    if path.startswith(LEADS_PREFIX):
        scope["path"] = path
        scope[_RAW] = True


def lead_fingerprint(request: Request, fingerprint: str = Path(
        ..., description="The lead's fingerprint, percent-encoded (a `/` in it may be sent "
                         "as `%2F` or as is)")) -> str:
    """FastAPI dependency: the fingerprint of a `/leads/{fingerprint}…` URL, decoded."""
    if request.scope.get(_RAW):
        try:
            fingerprint = unquote_to_bytes(fingerprint.encode("latin-1")).decode("utf-8")
        except UnicodeError:
            raise ApiError(400, "fingerprint: the URL's fingerprint is not percent-encoded "
                                "UTF-8") from None
    if not 1 <= len(fingerprint) <= MAX_FINGERPRINT:
        raise ApiError(422, f"fingerprint: must be 1-{MAX_FINGERPRINT} characters, not "
                            f"{len(fingerprint)}")
    return fingerprint
