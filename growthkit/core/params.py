"""Query values as readers send them (text), checked and turned into core's types.

The HTTP routes and LocalSource both build their query objects with these, so a value is
accepted or refused the same way everywhere, with a QueryError naming the field and rule:

- times: ISO-8601 (naive means UTC) or epoch milliseconds, between 1970-01-01 and
  9999-12-31; a bare number that looks like epoch seconds is refused with a hint;
- text (fingerprint, session, search, names): no NUL character, a bounded length;
- `where` conditions: `path:op[:value]` whose path segments hold no quote, backslash or
  control character;
- time zones: IANA names of at most MAX_TZ_LENGTH characters;
- listings: `limit` within 1..max, `order`/`sort` within their choices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from growthkit.core.clock import now_ms, to_iso
from growthkit.core.errors import QueryError
from growthkit.core.filters import ActivityFilter, FilterError, PropertyCondition
from growthkit.core.timezones import zone

# The first and last instants a time parameter may name (9999-12-31T23:59:59.999Z).
MIN_TIME_MS = 0
MAX_TIME_MS = 253_402_300_799_999
# A bare number in this range read as milliseconds lands in January 1970 - March 1973:
# nobody has events then, but epoch *seconds* of any date since 2001 look exactly like it.
SECONDS_LIKE = (1_000_000_000, 100_000_000_000)
MAX_TZ_LENGTH = 64
MAX_TEXT_LENGTH = 320
MAX_NAME_LENGTH = 200
MAX_WHERE = 20
MAX_WHERE_LENGTH = 1000
# A property path segment: no quote, backslash, dot, colon, comma, brace or control character
# and no surrounding spaces (PostgreSQL receives nested paths as a text[] literal, where
# those characters are syntax).
PATH_SEGMENT = re.compile(r'(?![ \t\n\r\f\v])[^"\\.:,{}\x00-\x1f\x7f]{1,200}(?<![ \t\n\r\f\v])')
ISO_PATTERN = (r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
               r"(Z|[+-]\d{2}:?\d{2})?)?$")
# What the OpenAPI document says a time parameter looks like: epoch ms outside the range that
# looks like seconds, or an ISO-8601 date/time from 1970 on (month and day ranges; the check
# above is the exact rule).
TIME_PATTERN = (r"^(\d{1,9}|[1-9]\d{11,13}|1\d{14}|2[0-4]\d{13}|"
                r"(19[7-9]\d|[2-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
                r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
                r"(Z|[+-](0\d|1[0-3]):?[0-5]\d)?)?)$")
TIME_RULE = ("an ISO-8601 time (e.g. 2025-01-31T12:00:00Z) or epoch milliseconds, "
             "between 1970-01-01 and 9999-12-31")


def parse_time_param(value: str | int, field: str) -> int:
    """Epoch ms of a time given as ISO-8601 or epoch ms; QueryError naming `field`."""
    if isinstance(value, bool):
        raise QueryError(field, f"{field}: must be {TIME_RULE}, not {value!r}")
    if isinstance(value, int):
        ms, numeric = value, True
    else:
        text = value.strip()
        numeric = text.isascii() and text.lstrip("-").isdigit()
        try:
            ms = int(text) if numeric else _iso_ms(text)
        except (ValueError, OverflowError):
            raise QueryError(field, f"{field}: must be {TIME_RULE}, not {value!r}") from None
    if numeric and SECONDS_LIKE[0] <= ms < SECONDS_LIKE[1]:
        raise QueryError(field, f"{field}: {value!r} looks like epoch seconds; times are epoch "
                                f"milliseconds (e.g. {ms * 1000}) or ISO-8601")
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise QueryError(field, f"{field}: must be {TIME_RULE}, not {value!r}")
    return ms


def _iso_ms(text: str) -> int:
    if not text.isascii() or len(text) > 40:
        raise ValueError(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def optional_time(value: str | int | None, field: str) -> int | None:
    """A time parameter that may be left out (None or blank)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_time_param(value, field)


def text_param(value: str | None, field: str, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    """A text value: None when blank; QueryError for NUL or more than `max_length` chars."""
    if value is None:
        return None
    if "\x00" in value:
        raise QueryError(field, f"{field}: must not contain the NUL character (\\u0000)")
    if len(value) > max_length:
        raise QueryError(field, f"{field}: at most {max_length} characters, not {len(value)}")
    return value.strip() or None


def names_param(values: Iterable[str] | str | None, field: str = "eventName") -> list[str]:
    """Event names from repeated and/or comma-separated values, each checked, deduplicated."""
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    for value in values or []:
        for name in value.split(","):
            checked = text_param(name, field, MAX_NAME_LENGTH)
            if checked:
                names.append(checked)
    return list(dict.fromkeys(names))


def where_param(values: Iterable[str] | None, field: str = "where") -> list[PropertyCondition]:
    """Property conditions `path:op[:value]`; QueryError naming the bad one."""
    out = []
    items = list(values or [])
    if len(items) > MAX_WHERE:
        raise QueryError(field, f"{field}: at most {MAX_WHERE} conditions, not {len(items)}")
    for text in items:
        text_param(text, field, MAX_WHERE_LENGTH)
        try:
            cond = PropertyCondition.parse(text)
        except FilterError as exc:
            raise QueryError(field, f"{field}={text!r}: {exc}") from None
        check_path(cond.path, f"{field}={text!r}")
        out.append(cond)
    return out


def check_path(path: Sequence[str], field: str) -> None:
    """A property path whose segments the stores can address (no quotes, no controls)."""
    for part in path:
        if not PATH_SEGMENT.fullmatch(part):
            raise QueryError(field, f"{field}: a property key may not contain quotes, "
                                    f"backslashes, commas, braces or control characters, "
                                    f"start or end with a space, nor exceed 200 characters "
                                    f"({part!r})")


def activity_filter(app_id: str = "", *, event_names: Iterable[str] | str | None = None,
                    start: str | int | None = None, end: str | int | None = None,
                    fingerprint: str | None = None, session_id: str | None = None,
                    where: Iterable[str] | None = None,
                    search: str | None = None) -> ActivityFilter:
    """The ActivityFilter for raw query values (`from`, `to`, `eventName`, …), every value
    checked; QueryError naming the first bad one."""
    flt = ActivityFilter(app_id=app_id, event_names=names_param(event_names),
                         start=optional_time(start, "from"), end=optional_time(end, "to"),
                         fingerprint=text_param(fingerprint, "fingerprint", 128),
                         session_id=text_param(session_id, "sessionId", 128),
                         conditions=where_param(where),
                         search=text_param(search, "q"))
    if flt.start is not None and flt.end is not None and flt.start >= flt.end:
        raise QueryError("from", f"from must be before to (to is exclusive): from={start!r}, "
                                 f"to={end!r}")
    return flt


def resolve_range(start: int | None, end: int | None, default_ms: int,
                  now: int | None = None) -> tuple[int, int]:
    """A dashboard range: `end` defaults to `now` (the wall clock when None), `start` to
    `default_ms` before the end."""
    end = end if end is not None else (now_ms() if now is None else now)
    start = start if start is not None else max(MIN_TIME_MS, end - default_ms)
    if start >= end:
        raise QueryError("from", f"from must be before to (to is exclusive; it defaults to "
                                 f"now): from {to_iso(start)}, to {to_iso(end)}")
    return start, end


def resolve_zone(tz: str | None, default: str | None) -> ZoneInfo:
    """The zone named by `tz`, else `default` (an app's timeZone), else UTC."""
    if tz is not None and len(tz) > MAX_TZ_LENGTH:
        raise QueryError("tz", f"tz: at most {MAX_TZ_LENGTH} characters (an IANA time zone "
                               f"such as Europe/Berlin)")
    if tz is not None and "\x00" in tz:
        raise QueryError("tz", "tz: must not contain the NUL character (\\u0000)")
    try:
        return zone(tz or None, default or "UTC")
    except ValueError as exc:
        raise QueryError("tz", str(exc)) from None


def check_limit(limit: int, maximum: int, field: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise QueryError(field, f"{field} must be between 1 and {maximum}, not {limit!r}")
    return limit


def check_choice(value: str, choices: Sequence[str], field: str) -> str:
    if value not in choices:
        raise QueryError(field, f"{field} must be one of {', '.join(choices)}, not {value!r}")
    return value
