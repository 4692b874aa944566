"""Ingest rules: validating a track batch and turning it into rows, event by event.

A batch-level problem (bad JSON, no events, bad fingerprint) rejects the request; a problem
with one event rejects only that event, so the good events of a batch are still stored.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from growthkit.core.context import DescribeUserAgent, enrich
from growthkit.core.errors import QueryError, TooLarge, UnreadableInput
from growthkit.core.fieldnames import BATCH_FIELDS, EVENT_FIELDS, unknown_field_warning
from growthkit.core.jsonlimits import ALL, NONE, JsonLimitError, body_check, check_text, check_value

MAX_BODY_BYTES = 512 * 1024
MAX_EVENT_BYTES = 32 * 1024
MAX_EVENTS = 100
MAX_FUTURE_MS = 3600 * 1000
DAY_MS = 86_400_000
# Epoch milliseconds below this are before March 1973: such a number is epoch seconds.
MIN_MILLIS = 100_000_000_000

EVENT_NAME = re.compile(r"^[\w\-.:/ ]{1,200}$")
EVENT_NAME_RULE = ("eventName must be 1-200 characters of letters, digits, spaces and _ - . : /")


def _printable(value: str | None, name: str) -> str | None:
    if value is not None and not (1 <= len(value) <= 128 and value.isprintable()):
        check_text(value, name)
        raise ValueError(f"{name} must be 1-128 printable characters")
    return value


def _check_fingerprint(value: str | None) -> str | None:
    return _printable(value, "fingerprint")


def _check_session(value: str | None) -> str | None:
    return _printable(value, "sessionId")


ID_PATTERN = "^[^\x00]*$"  # no NUL (checked in Rust, no Python call per event)


Millis = int | float | str


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(None, min_length=1, max_length=64, pattern=ID_PATTERN)
    eventName: str = Field(pattern=EVENT_NAME.pattern)  # checked in Rust, no Python call
    properties: dict[str, Any] | None = None
    timestamp: Millis | None = None
    fingerprint: str | None = None
    sessionId: str | None = None
    context: dict[str, Any] | None = None

    _fp = field_validator("fingerprint")(classmethod(lambda cls, v: _check_fingerprint(v)))
    _sid = field_validator("sessionId")(classmethod(lambda cls, v: _check_session(v)))


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fingerprint: str | None = None
    sessionId: str | None = None
    context: dict[str, Any] | None = None
    sentAt: Millis | None = None
    key: str | None = None
    events: list[Any] = Field(min_length=1, max_length=MAX_EVENTS)

    _fp = field_validator("fingerprint")(classmethod(lambda cls, v: _check_fingerprint(v)))
    _sid = field_validator("sessionId")(classmethod(lambda cls, v: _check_session(v)))


FRIENDLY = {
    "dict_type": "must be a JSON object",
    "string_type": "must be a string",
    "list_type": "must be a JSON array",
}


ALL_EVENTS = TypeAdapter(list[EventIn])


def describe(error: ValidationError, prefix: str = "") -> str:
    """Pydantic errors as one readable sentence naming each field and its rule."""
    parts = []
    for e in error.errors(include_url=False):
        loc = ".".join(str(x) for x in e["loc"]) or "body"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] in ("too_short", "too_long") and loc == "events":
            msg = f"must hold 1-{MAX_EVENTS} events"
        elif e["type"] == "missing":
            msg = "is required"
        elif e["type"] == "string_pattern_mismatch" and loc.split(".")[-1] == "id":
            msg = "id must not contain the NUL character (\\u0000)"
        elif e["type"] == "string_pattern_mismatch" and loc.endswith("eventName"):
            msg = EVENT_NAME_RULE
        elif e["type"] in FRIENDLY:
            msg = FRIENDLY[e["type"]]
        parts.append(msg if msg.startswith(loc.split(".")[-1]) else f"{prefix}{loc}: {msg}")
    return "; ".join(parts)


def _millis(value: Millis | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        from growthkit.core.clock import parse_time

        try:
            return parse_time(value)
        except ValueError:
            raise ValueError(f"{name} must be epoch milliseconds or an ISO-8601 time") from None
    if -MIN_MILLIS < value < MIN_MILLIS:
        raise ValueError(f"{name} {value} looks like epoch seconds: {name} must be epoch "
                         f"milliseconds (seconds × 1000, e.g. {int(value * 1000)})")
    return int(value)


@dataclass
class Event:
    """One accepted event, ready to store; session_id None means 'assign one'."""

    id: str
    fingerprint: str
    event_name: str
    properties: dict | None
    context: dict
    session_id: str | None
    timestamp: int
    received_at: int
    seq: int | None = None  # the store's row number, once stored


@dataclass
class ParsedBatch:
    key: str | None
    events: list[tuple[int, Event]] = field(default_factory=list)  # (index in batch, event)
    rejected: list[dict] = field(default_factory=list)  # {"index", "error"}
    warnings: list[dict] = field(default_factory=list)  # {"index" (None: batch), "field", …}

    def reject(self, index: int, error: str) -> None:
        self.rejected.append({"index": index, "error": error})

    def warn_unknown(self, index: int | None, data: dict, known: frozenset[str]) -> None:
        for name in data:
            if name not in known:
                self.warnings.append({"index": index, "field": name,
                                      "warning": unknown_field_warning(name, known)})


def load_body(body: bytes) -> dict:
    """Decode a request body (JSON sent as application/json or text/plain)."""
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge("body", f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise UnreadableInput("body", "body is empty: send a JSON object with an events array")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnreadableInput("body", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise QueryError("body", "body must be a JSON object with an events array")
    return data


def parse_batch(data: dict, *, received_at: int, retention_days: int,
                user_agent: str | None = None, body: bytes | None = None,
                describe_user_agent: DescribeUserAgent | None = None) -> ParsedBatch:
    """Validate a decoded batch; events that break a rule land in `rejected` by index.

    `describe_user_agent` derives browser, OS and device from the User-Agent (the server
    hands in its parser; without one they are left as the client sent them).

    `body` (the raw JSON) lets bodies that cannot break the JSON limits skip that check
    (see jsonlimits.body_check) and small bodies skip the per-event size check.
    Unknown fields are kept out of the event and listed in `warnings`.
    """
    try:
        batch = BatchIn.model_validate(data)
    except ValidationError as exc:
        raise QueryError("body", describe(exc)) from None
    scope = ALL if body is None else body_check(body)
    try:
        sent_at = _millis(batch.sentAt, "sentAt")
        if scope != NONE:
            check_value(batch.context, "context", scope)
    except ValueError as exc:
        raise QueryError("body", str(exc)) from None
    skew = (received_at - sent_at) if sent_at is not None else 0
    oldest = received_at - retention_days * DAY_MS
    parsed = ParsedBatch(key=batch.key)
    if not BATCH_FIELDS.issuperset(data):
        parsed.warn_unknown(None, data, BATCH_FIELDS)
    check_size = body is None or len(body) > MAX_EVENT_BYTES
    shared_context: dict | None = None
    try:  # one validation call for the usual all-valid batch; event by event otherwise
        models: list[EventIn] | None = ALL_EVENTS.validate_python(batch.events)
    except ValidationError:
        models = None
    for index, raw in enumerate(batch.events):
        if not isinstance(raw, dict):
            parsed.reject(index, "event must be a JSON object with an eventName")
            continue
        try:
            if scope != NONE:  # before the size check: orjson cannot encode 255 levels
                for name in ("properties", "context"):
                    if (value := raw.get(name)) is not None:
                        check_value(value, name, scope)
        except JsonLimitError as exc:
            parsed.reject(index, str(exc))
            continue
        if check_size and (size := len(orjson.dumps(raw))) > MAX_EVENT_BYTES:
            parsed.reject(index, f"event is {size} bytes; the limit is {MAX_EVENT_BYTES} bytes")
            continue
        if not EVENT_FIELDS.issuperset(raw):
            parsed.warn_unknown(index, raw, EVENT_FIELDS)
        try:
            ev = models[index] if models is not None else EventIn.model_validate(raw)
            ts = _millis(ev.timestamp, "timestamp")
        except ValidationError as exc:
            parsed.reject(index, describe(exc))
            continue
        except ValueError as exc:
            parsed.reject(index, str(exc))
            continue
        fingerprint = ev.fingerprint or batch.fingerprint
        if fingerprint is None:
            parsed.reject(index, "fingerprint is required (on the batch or the event)")
            continue
        # Correct the client's clock: the event happened (sentAt - timestamp) before receipt.
        stored_ts = received_at if ts is None else ts + skew
        if stored_ts > received_at + MAX_FUTURE_MS:
            parsed.reject(index, "timestamp is more than 1 hour in the future")
            continue
        if stored_ts < oldest:
            parsed.reject(index, f"timestamp is older than the app's retention "
                                 f"({retention_days} days)")
            continue
        # Events without a context of their own share the batch's, enriched once.
        if ev.context:
            context = enrich({**(batch.context or {}), **ev.context}, user_agent,
                             describe_user_agent)
        else:
            if shared_context is None:
                shared_context = enrich(dict(batch.context or {}), user_agent,
                                        describe_user_agent)
            context = shared_context
        parsed.events.append((index, Event(
            id=ev.id or str(uuid.uuid4()),
            fingerprint=fingerprint,
            event_name=ev.eventName,
            properties=ev.properties,
            context=context,
            session_id=ev.sessionId or batch.sessionId,
            timestamp=stored_ts,
            received_at=received_at,
        )))
    return parsed
