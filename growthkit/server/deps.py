"""Route plumbing shared by every query endpoint: parameters, paging, running core, errors.

Routes only parse, call core and answer `to_json()`; what they share lives here:
- the activity filter parameters (`activity_filter_params`), each declared with the rule
  the OpenAPI document states and core enforces (growthkit.core.params);
- one page shape (`{data, nextCursor}`) with one `limit`/`cursor`/`order` declaration;
- `reject_unknown_parameters`: a query parameter the route does not take is a 400 naming
  it and the closest one it does take (`event` -> "did you mean eventName?");
- `answer` / `cached_answer`: run a core function on a connection in a worker thread and
  answer its result's JSON (cached per app and query for the dashboard endpoints).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from zoneinfo import available_timezones

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from growthkit.core import params as core_params
from growthkit.core.apps import App
from growthkit.core.errors import QueryError, UnknownParameter
from growthkit.core.filters import OPS, ActivityFilter, PropertyCondition
from growthkit.core.results import Result
from growthkit.core.store import write_connection
from growthkit.server.auth import secret_app, state_of
from growthkit.server.cache import cached_json
from growthkit.server.errors import json_response
from growthkit.server.lead_paths import lead_fingerprint

R = TypeVar("R", bound=Result)

EVENT_NAME_DOC = ("Only these event names. Repeat the parameter (`eventName=a&eventName=b`) "
                  "or separate names with commas.")
TIME_DOC = ("ISO-8601 (naive means UTC) or epoch milliseconds, 1970-01-01 to 9999-12-31; "
            "a number that looks like epoch seconds is refused.")
FROM_DOC = f"Earliest event time, inclusive: {TIME_DOC}"
TO_DOC = f"Latest event time, exclusive: {TIME_DOC}"
WHERE_DOC = ("Property condition `path:op[:value]`, repeatable (all must hold). `path` is a "
             "property key, nested keys by dots (`utm.source`), without quotes, backslashes "
             "or control characters; `op` is `eq`, `ne`, `contains` (case-insensitive), "
             "`exists` or `not_exists`. Values compare as text: `plan:eq:pro`, `count:eq:3`, "
             "`utm.source:contains:news`, `coupon:exists`.")
Q_DOC = "Free-text search (case-insensitive) in the event name and the properties."
TZ_DOC = ("IANA time zone for buckets (e.g. Europe/Berlin, Asia/Kathmandu); default: the "
          "app's timeZone setting. The answer's `timeZone` names the zone used.")
NO_NUL = r"^[^\x00]*$"
# A property path in the document: dotted segments without quotes, backslashes, colons,
# commas, braces or control characters, none starting or ending with a space.
PATH_PATTERN = (r'[^"\\.:,{}\s\x00-\x1f\x7f]([^"\\.:,{}\x00-\x1f\x7f]*'
                r'[^"\\.:,{}\s\x00-\x1f\x7f])?')
PATH_PATTERN = rf"{PATH_PATTERN}(\.{PATH_PATTERN})*"
WHERE_PATTERN = rf"^{PATH_PATTERN}(:(eq|ne|contains):[^\x00]*|:exists|:not_exists)?$"


# Text rules are stated in the document (json_schema_extra) and enforced by core, whose
# messages name the field and the rule in words rather than as a regular expression.

def time_query(alias: str, description: str) -> Any:
    return Query(None, alias=alias, description=description, examples=["2025-01-01T00:00:00Z"],
                 json_schema_extra={"pattern": core_params.TIME_PATTERN, "maxLength": 40})


def text_query(description: str, max_length: int = core_params.MAX_TEXT_LENGTH,
               alias: str | None = None) -> Any:
    return Query(None, alias=alias, description=description,
                 json_schema_extra={"pattern": NO_NUL, "maxLength": max_length})


def _items(max_length: int, pattern: str) -> dict[str, Any]:
    return {"items": {"type": "string", "maxLength": max_length, "pattern": pattern}}


EVENT_NAMES = Query(None, alias="eventName", description=EVENT_NAME_DOC,
                    json_schema_extra=_items(core_params.MAX_TEXT_LENGTH, NO_NUL))
WHERE = Query(None, description=WHERE_DOC, json_schema_extra={
    **_items(core_params.MAX_WHERE_LENGTH, WHERE_PATTERN), "maxItems": core_params.MAX_WHERE})
# Every route under /leads/{fingerprint:path}…: the fingerprint decoded (server/lead_paths.py).
FINGERPRINT = Depends(lead_fingerprint)
CURSOR = Query(None, description="`nextCursor` of the previous page (same filters and "
                                 "order); leave out for the first page.",
               max_length=1000)
# The document lists the zones this server knows (IANA names, as zoneinfo has them).
TZ = Query(None, description=TZ_DOC,
           json_schema_extra={"maxLength": core_params.MAX_TZ_LENGTH,
                              "enum": sorted(available_timezones())})


def limit_query(default: int, maximum: int, what: str = "Items per page") -> Any:
    return Query(default, ge=1, le=maximum, description=f"{what}, 1-{maximum}.")


async def activity_filter_params(
    app: App = Depends(secret_app),
    event_name: list[str] | None = EVENT_NAMES,
    start: str | None = time_query("from", FROM_DOC),
    end: str | None = time_query("to", TO_DOC),
    fingerprint: str | None = text_query("Only this lead's events.", 128),
    session_id: str | None = text_query("Only this session.", 128, alias="sessionId"),
    where: list[str] | None = WHERE,
    q: str | None = text_query(Q_DOC),
) -> ActivityFilter:
    """FastAPI dependency: the calling app's ActivityFilter from the query string."""
    return core_params.activity_filter(app.id, event_names=event_name, start=start, end=end,
                                       fingerprint=fingerprint, session_id=session_id,
                                       where=where, search=q)


# --- unknown parameters -------------------------------------------------------------------

_KNOWN: dict[int, frozenset[str]] = {}


def _known_parameters(request: Request) -> frozenset[str]:
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return frozenset(request.query_params)
    names = _KNOWN.get(id(route))
    if names is None:
        names = frozenset(_query_aliases(route.dependant))
        _KNOWN[id(route)] = names
    return names


def _query_aliases(dependant: Any) -> set[str]:
    """The query parameter names of a route and all its sub-dependencies."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_aliases(sub)
    return names


# Names people reach for that spell nothing like ours (normalized: lower case, no _ or -).
SYNONYMS = {"timezone": "tz", "zone": "tz", "search": "q", "query": "q", "name": "eventName",
            "start": "from", "since": "from", "end": "to", "until": "to", "session": "sessionId",
            "lead": "fingerprint", "fp": "fingerprint", "size": "limit", "pagesize": "limit",
            "perpage": "limit", "page": "cursor", "after": "cursor", "at": "asOf"}


def closest(name: str, known: frozenset[str]) -> str | None:
    """The known parameter `name` was most likely meant to be (case, `_` and `-` ignored)."""
    def norm(text: str) -> str:
        return text.replace("_", "").replace("-", "").lower()

    by_norm = {norm(k): k for k in known}
    if norm(name) in by_norm:
        return by_norm[norm(name)]
    if SYNONYMS.get(norm(name)) in known:
        return SYNONYMS[norm(name)]
    match = difflib.get_close_matches(norm(name), list(by_norm), n=1, cutoff=0.6)
    if match:
        return by_norm[match[0]]
    prefixed = [k for k in sorted(known) if norm(k).startswith(norm(name)) and name]
    return prefixed[0] if prefixed else None


async def reject_unknown_parameters(request: Request) -> None:
    """Router dependency: a query parameter this route does not take is an error, not a
    silently unfiltered answer."""
    known = _known_parameters(request)
    for name in request.query_params:
        if name not in known:
            hint = closest(name, known)
            accepted = ", ".join(sorted(known)) or "none"
            tip = f"did you mean {hint}? " if hint else ""
            raise UnknownParameter(name, f"unknown query parameter {name!r}: {tip}"
                                         f"this endpoint takes {accepted}")


# --- JSON body pieces ---------------------------------------------------------------------

def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


# An event name in a JSON body: 1-200 characters, no NUL (a message in words, not a regex).
BodyEventName = Annotated[str, Field(min_length=1, max_length=200,
                                     json_schema_extra={"pattern": NO_NUL}),
                          AfterValidator(_no_nul)]


class Condition(BaseModel):
    """A `{key, op, value}` property condition in a JSON body (see PropertyCondition)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, description="A property key, nested keys by dots "
                                               "(`utm.source`).",
                     json_schema_extra={"maxLength": 1000, "pattern": f"^{PATH_PATTERN}$"})
    op: str = Field("eq", json_schema_extra={"enum": list(OPS)})
    value: str | int | float | bool | None = Field(
        None, description="Compared as text; required for eq, ne and contains.")


def property_conditions(items: list[Condition], field: str) -> list[PropertyCondition]:
    """A body's `Condition` list as PropertyConditions; QueryError naming `field[i]`."""
    out = []
    for i, item in enumerate(items):
        try:
            cond = PropertyCondition.from_json(item.model_dump())
            core_params.check_path(cond.path, f"{field}[{i}]")
            if isinstance(cond.value, str):
                core_params.text_param(cond.value, f"{field}[{i}].value", 1000)
        except QueryError as exc:
            label = f"{field}[{i}]"
            message = exc.message if exc.message.startswith(label) else f"{label}: {exc.message}"
            raise QueryError(label, message) from None
        out.append(cond)
    return out


def body_time(value: str | int | None, field: str) -> int | None:
    return core_params.optional_time(value, field)


# --- answers ------------------------------------------------------------------------------

class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong, naming the field and the rule.")
    status: int


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A value that cannot be used (a cursor, an "
                                             "unknown parameter)"},
    401: {"model": ErrorBody, "description": "Missing or unknown secret key"},
    403: {"model": ErrorBody, "description": "A public key (pk_…) was sent"},
    422: {"model": ErrorBody, "description": "A parameter breaks its rule"},
    503: {"model": ErrorBody, "description": "The store is unavailable; retry later"},
}
NOT_FOUND = {"model": ErrorBody, "description": "The app has no lead with this fingerprint"}


def documented(model: type, extra: dict[int | str, dict[str, Any]] | None = None
               ) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route answering `model` (a core result type), plus `extra`."""
    return {200: {"model": model}, **ERROR_RESPONSES, **(extra or {})}


async def run_core(request: Request, fn: Callable[..., R], *args: Any) -> R:
    """`fn(connection, *args)` on a fresh read connection, in a worker thread."""
    engine = state_of(request).engine

    def call() -> R:
        with engine.connect() as conn:
            return fn(conn, *args)

    return await run_in_threadpool(call)


async def run_core_write(request: Request, fn: Callable[..., R], *args: Any) -> R:
    """`fn(connection, *args)` in one write transaction (committed on return), in a worker
    thread."""
    engine = state_of(request).engine

    def call() -> R:
        with write_connection(engine) as conn, conn.begin():
            return fn(conn, *args)

    return await run_in_threadpool(call)


async def answer(request: Request, fn: Callable[..., Result], *args: Any,
                 headers: dict[str, str] | None = None) -> Response:
    """Run a core query and answer its result's JSON."""
    result = await run_core(request, fn, *args)
    return json_response(result.to_json(), headers=headers)


async def cached_answer(request: Request, app: App, fn: Callable[..., Result], *args: Any,
                        body_key: bytes | None = None) -> Response:
    """As `answer`, shared with identical requests of the app for the cache's TTL."""
    engine = state_of(request).engine

    def compute() -> dict[str, Any]:
        with engine.connect() as conn:
            return fn(conn, *args).to_json()

    return await cached_json(request, app.id, compute, body_key=body_key)
