"""The client's keyword filters (`event=`, `start=`, `where=`, …) as the API's parameters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

TimeLike = datetime | date | str | int | float
Where = str | Mapping[str, Any] | Iterable[str | Mapping[str, Any]]
EventNames = str | Iterable[str]


def time_param(value: TimeLike | None, name: str = "start") -> str | None:
    """A datetime (naive means UTC), date (midnight UTC), ISO string or epoch ms as the API
    reads it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    if isinstance(value, bool):
        raise TypeError(f"{name}: a datetime, date, ISO-8601 string or epoch ms, not a bool")
    if isinstance(value, int | float):
        return str(int(value))
    if isinstance(value, str):
        return value
    raise TypeError(f"{name}: a datetime, date, ISO-8601 string or epoch ms, not "
                    f"{type(value).__name__}")


def event_names(event: EventNames | None) -> list[str]:
    if event is None:
        return []
    return [event] if isinstance(event, str) else [str(e) for e in event]


def _condition_text(item: str | Mapping[str, Any]) -> str:
    if isinstance(item, str):
        return item
    op = item.get("op", "eq")
    value = item.get("value")
    return f"{item['key']}:{op}" if value is None else f"{item['key']}:{op}:{value}"


def conditions(where: Where | None) -> list[str]:
    """`where=` as `path:op[:value]` strings: a string, a `{key: value}` mapping meaning
    equality, `{key, op, value}` objects, or a list of these."""
    if where is None:
        return []
    if isinstance(where, str):
        return [where]
    if isinstance(where, Mapping):
        if "key" in where and "op" in where:
            return [_condition_text(where)]
        return [f"{k}:eq:{v}" for k, v in where.items()]
    return [_condition_text(item) for item in where]


def condition_objects(where: Where | None) -> list[dict[str, Any]]:
    """`where=` as the `{key, op, value}` objects of JSON bodies (funnels, segments)."""
    out = []
    for text in conditions(where):
        key, _, rest = text.partition(":")
        op, _, value = rest.partition(":")
        item: dict[str, Any] = {"key": key, "op": op or "exists"}
        if value or op in ("eq", "ne", "contains"):
            item["value"] = value
        out.append(item)
    return out


def filter_params(*, event: EventNames | None = None, start: TimeLike | None = None,
                  end: TimeLike | None = None, fingerprint: str | None = None,
                  session: str | None = None, where: Where | None = None,
                  search: str | None = None, tz: str | None = None) -> list[tuple[str, str]]:
    """The shared filters as query parameters (repeated keys kept)."""
    params: list[tuple[str, str]] = [("eventName", name) for name in event_names(event)]
    for key, value in (("from", time_param(start, "start")), ("to", time_param(end, "end")),
                       ("fingerprint", fingerprint), ("sessionId", session), ("q", search),
                       ("tz", tz)):
        if value is not None:
            params.append((key, value))
    params.extend(("where", text) for text in conditions(where))
    return params


def extra(**values: Any) -> list[tuple[str, str]]:
    """Other query parameters, None left out, times as the API reads them."""
    out = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, datetime | date):
            value = time_param(value, key)
        out.append((key, str(value)))
    return out
