"""Activity query parameters shared by every query endpoint, and the StoredActivity schema.

`activity_filter_params` is a FastAPI dependency: it authenticates the secret key and turns
`eventName`, `from`, `to`, `fingerprint`, `sessionId`, `where` and `q` into the caller's
ActivityFilter (growthkit.core.filters), answering 422 with the field and the rule when a
value cannot be used. Endpoints that take only some of these filters (the live stream) call
`activity_filter` with what they accept. JSON bodies (funnels, segments) take property
conditions as `Condition` items; `time_field` reads any time value.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from growthkit.core.apps import App
from growthkit.core.clock import parse_time
from growthkit.core.filters import ActivityFilter, FilterError, PropertyCondition
from growthkit.server.auth import secret_app
from growthkit.server.errors import ApiError

EVENT_NAME_DOC = ("Only these event names. Repeat the parameter (`eventName=a&eventName=b`) "
                  "or separate names with commas.")
FROM_DOC = "Earliest event time, inclusive: ISO-8601 (naive means UTC) or epoch milliseconds."
TO_DOC = "Latest event time, exclusive: ISO-8601 (naive means UTC) or epoch milliseconds."
WHERE_DOC = ("Property condition `path:op[:value]`, repeatable (all must hold). `path` is a "
             "property key, nested keys by dots (`utm.source`); `op` is `eq`, `ne`, "
             "`contains` (case-insensitive), `exists` or `not_exists`. Values compare as "
             "text: `plan:eq:pro`, `count:eq:3`, `utm.source:contains:news`, `coupon:exists`.")
Q_DOC = "Free-text search (case-insensitive) in the event name and the properties."


def time_field(value: str | int, field: str) -> int:
    """A time given as ISO-8601 or epoch ms, in epoch ms; ApiError(422) naming `field`."""
    try:
        return parse_time(value)
    except (ValueError, OverflowError):
        raise ApiError(422, f"{field}: must be an ISO-8601 time (e.g. 2025-01-31T12:00:00Z) "
                            f"or epoch milliseconds, not {value!r}") from None


def _time(name: str, value: str | None) -> int | None:
    return None if value is None or not value.strip() else time_field(value, name)


def _names(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or []:
        names.extend(n.strip() for n in value.split(",") if n.strip())
    return list(dict.fromkeys(names))


def activity_filter(app: App, *, event_names: list[str] | None = None,
                    start: str | None = None, end: str | None = None,
                    fingerprint: str | None = None, session_id: str | None = None,
                    where: list[str] | None = None, search: str | None = None) -> ActivityFilter:
    """The ActivityFilter of `app` for raw query values; ApiError(422) naming a bad one."""
    flt = ActivityFilter(app_id=app.id, event_names=_names(event_names),
                         start=_time("from", start), end=_time("to", end),
                         fingerprint=fingerprint or None, session_id=session_id or None,
                         search=(search or "").strip() or None)
    if flt.start is not None and flt.end is not None and flt.start >= flt.end:
        raise ApiError(422, f"from must be before to (to is exclusive): from={start!r}, "
                            f"to={end!r}")
    for text in where or []:
        try:
            flt.conditions.append(PropertyCondition.parse(text))
        except FilterError as exc:
            raise ApiError(422, f"where={text!r}: {exc}") from None
    return flt


async def activity_filter_params(
    app: App = Depends(secret_app),
    event_name: list[str] | None = Query(None, alias="eventName", description=EVENT_NAME_DOC),
    start: str | None = Query(None, alias="from", description=FROM_DOC,
                              examples=["2025-01-01T00:00:00Z"]),
    end: str | None = Query(None, alias="to", description=TO_DOC),
    fingerprint: str | None = Query(None, description="Only this lead's events."),
    session_id: str | None = Query(None, alias="sessionId", description="Only this session."),
    where: list[str] | None = Query(None, description=WHERE_DOC),
    q: str | None = Query(None, description=Q_DOC),
) -> ActivityFilter:
    """FastAPI dependency: the calling app's ActivityFilter from the query string."""
    return activity_filter(app, event_names=event_name, start=start, end=end,
                           fingerprint=fingerprint, session_id=session_id, where=where,
                           search=q)


class Condition(BaseModel):
    """A `{key, op, value}` property condition in a JSON body (see PropertyCondition)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1)
    op: str = "eq"
    value: Any = None


def property_conditions(items: list[Condition], field: str) -> list[PropertyCondition]:
    """A body's `Condition` list as PropertyConditions; ApiError(422) naming `field[i]`."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(PropertyCondition.from_json(item.model_dump()))
        except FilterError as exc:
            raise ApiError(422, f"{field}[{i}]: {exc}") from None
    return out


class StoredActivity(BaseModel):
    """One stored event, as every endpoint answers it."""

    id: str = Field(description="The event id (the client's, or one the server assigned).")
    appId: str
    fingerprintId: str = Field(description="The lead's fingerprint.")
    eventName: str
    properties: dict[str, Any] | None
    context: dict[str, Any] = Field(description="url, referrer, title, browser, os, device, …")
    sessionId: str
    timestamp: str = Field(description="When the event happened, ISO-8601 UTC.",
                           examples=["2025-01-31T12:00:00.123Z"])
    receivedAt: str = Field(description="When the server received it, ISO-8601 UTC.")
    seq: int = Field(description="The store's row number: increases as events are stored; "
                                 "the live stream's event id.")


class ActivityPage(BaseModel):
    data: list[StoredActivity]
    nextCursor: str | None = Field(description="Pass as `cursor` for the next page; null on "
                                               "the last page.")


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong, naming the field and the rule.")
    status: int


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A value that cannot be used (e.g. a cursor)"},
    401: {"model": ErrorBody, "description": "Missing or unknown secret key"},
    403: {"model": ErrorBody, "description": "A public key (pk_…) was sent"},
    422: {"model": ErrorBody, "description": "A parameter breaks its rule"},
}
