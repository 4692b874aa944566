"""The OpenAPI description of POST /api/v1/track: its body (JSON and text/plain) and answers.

The handler reads the raw body itself (the hot path does not go through pydantic request
parsing), so the body's schema is stated here, built from the same models that validate it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from growthkit.core.events import MAX_BODY_BYTES, MAX_EVENT_BYTES, MAX_EVENTS, BatchIn, EventIn
from growthkit.core.jsonlimits import MAX_JSON_DEPTH, MAX_SAFE_INTEGER
from growthkit.server.deps import ErrorBody

# What `str.isprintable()` (the fingerprint and sessionId rule) refuses, as far as a JSON
# Schema pattern can say it: control characters.
PRINTABLE_128 = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,128}$"
NO_NUL = "^[^\\u0000]*$"
MILLIS_DOC = ("Epoch milliseconds (a number from 100000000000 on; seconds are refused with a "
              "hint) or an ISO-8601 time.")
JSON_DOC = (f"A JSON object at most {MAX_JSON_DEPTH} levels deep, without NUL characters in "
            f"keys or strings, numbers within ±{MAX_SAFE_INTEGER}.")


class Rejected(BaseModel):
    index: int = Field(description="Position of the event in the batch's events array")
    error: str = Field(description="Why it was not stored, naming the field and the rule")


class FieldWarning(BaseModel):
    index: int | None = Field(description="Position of the event (null: the batch itself)")
    field: str = Field(description="The unknown field, which was ignored")
    warning: str = Field(description="e.g. `props: unknown field, did you mean properties?`")


class TrackAnswer(BaseModel):
    accepted: int = Field(description="Events stored by this request")
    duplicates: int = Field(description="Events whose id was already stored (not stored again)")
    rejected: list[Rejected]
    warnings: list[FieldWarning] | None = Field(
        None, description="Unknown fields that were ignored; present only when there are some")
    error: str | None = Field(None, description="On 422 and 429: what went wrong")
    status: int | None = Field(None, description="On 422 and 429: the HTTP status")


def _field_rules(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema["properties"]
    for name in ("fingerprint", "sessionId"):
        if name in props:
            props[name] = {"anyOf": [{"type": "string", "pattern": PRINTABLE_128},
                                     {"type": "null"}], "default": None}
    for name in ("properties", "context"):
        if name in props:
            props[name]["description"] = JSON_DOC
    for name in ("timestamp", "sentAt"):
        if name in props:
            props[name]["description"] = MILLIS_DOC
    return schema


def batch_schema() -> dict[str, Any]:
    """The JSON Schema of a track body (no $refs, so it can sit inline in the operation)."""
    event = _field_rules(EventIn.model_json_schema())
    event["properties"]["id"] = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 64,
                                            "pattern": NO_NUL}, {"type": "null"}],
                                 "default": None, "description": "Unique per app: retries "
                                 "with the same id are counted as duplicates"}
    event["description"] = (f"One event, at most {MAX_EVENT_BYTES} bytes as JSON. Unknown "
                             "fields are ignored and listed in the answer's warnings.")
    batch = _field_rules(BatchIn.model_json_schema())
    batch["properties"]["events"]["items"] = event
    batch["properties"]["key"]["description"] = "The public key, for sendBeacon (no headers)"
    batch["description"] = (f"A batch of 1-{MAX_EVENTS} events, at most {MAX_BODY_BYTES} "
                            "bytes (after gzip inflation, with Content-Encoding: gzip).")
    return batch


def openapi_extra() -> dict[str, Any]:
    schema = batch_schema()
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "text/plain": {"schema": {"type": "string", "description":
                                  "The same JSON object sent as text (navigator.sendBeacon)"}},
    }}}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": TrackAnswer, "description": "Some or all events stored"},
    204: {"description": "With ?beacon=1: stored, no body"},
    400: _error("The body is not JSON, or not valid gzip"),
    401: _error("Missing or unknown public key"),
    403: _error("A secret key was sent, or the Origin is not in allowedOrigins"),
    413: _error(f"The body (inflated) is over {MAX_BODY_BYTES} bytes"),
    415: _error("Content-Type other than application/json or text/plain, a charset other "
                "than UTF-8, or a Content-Encoding other than gzip"),
    422: {"model": TrackAnswer, "description": "No event accepted: each is listed in "
           "rejected with its reason (a problem of the whole batch: error only)"},
    429: {"model": TrackAnswer, "description": "No event accepted: over the rate limit "
           "(Retry-After says when to retry)"},
    503: _error("The store could not take the events; none were stored: retry with the "
                "same ids (Retry-After)"),
}
