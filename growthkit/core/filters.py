"""Activity filters shared by every query: event names, time range, lead, session, property
conditions (dotted paths) and free-text search, as SQLAlchemy clauses.

Property conditions are written `path:op[:value]` in query strings (`plan:eq:pro`,
`utm.source:contains:news`, `coupon:exists`) or as `{key, op, value}` objects in bodies.
Values compare as text, so `count:eq:3` matches the JSON number 3 and the string "3".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, String, Table, and_, cast, func, or_

from growthkit.core.errors import QueryError
from growthkit.core.schema import activities

OPS = ("eq", "ne", "contains", "exists", "not_exists")


class FilterError(QueryError):
    """A filter that cannot be understood; the message names it and the rule."""

    def __init__(self, message: str, field: str = "where"):
        super().__init__(field, message)


@dataclass(frozen=True)
class PropertyCondition:
    path: tuple[str, ...]
    op: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> PropertyCondition:
        key, _, rest = text.partition(":")
        op, _, value = rest.partition(":")
        return cls.build(key, op or "exists", value if rest.count(":") or value else None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PropertyCondition:
        if not isinstance(data, dict) or "key" not in data:
            raise FilterError("a property condition is an object {key, op, value}")
        value = data.get("value")
        return cls.build(str(data["key"]), str(data.get("op", "eq")),
                         None if value is None else _as_text(value))

    @classmethod
    def build(cls, key: str, op: str, value: str | None) -> PropertyCondition:
        path = tuple(p for p in key.split(".") if p)
        if not path:
            raise FilterError(f"property condition {key!r}: the key is empty")
        if op not in OPS:
            raise FilterError(f"property condition on {key!r}: op must be one of "
                              f"{', '.join(OPS)}, not {op!r}")
        if op in ("eq", "ne", "contains") and value is None:
            raise FilterError(f"property condition on {key!r}: {op} needs a value")
        return cls(path, op, value)

    def clause(self, table: Table = activities) -> ColumnElement:
        index = self.path if len(self.path) > 1 else self.path[0]
        text = table.c.properties[index].as_string()
        if self.op == "exists":
            return text.is_not(None)
        if self.op == "not_exists":
            return text.is_(None)
        if self.op == "eq":
            return text == self.value
        if self.op == "ne":
            return or_(text.is_(None), text != self.value)
        return text.ilike(f"%{escape_like(self.value or '')}%", escape="\\")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def escape_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (use with escape="\\")."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class ActivityFilter:
    """Which activities of one app a query looks at. Times are epoch ms, end exclusive."""

    app_id: str = ""
    event_names: list[str] = field(default_factory=list)
    start: int | None = None
    end: int | None = None
    fingerprint: str | None = None
    session_id: str | None = None
    conditions: list[PropertyCondition] = field(default_factory=list)
    search: str | None = None

    def scoped(self, app_id: str) -> ActivityFilter:
        """This filter over the activities of `app_id` (queries always scope by the app)."""
        return replace(self, app_id=app_id)

    def clauses(self, table: Table = activities) -> list[ColumnElement]:
        c = table.c
        out: list[ColumnElement] = [c.app_id == self.app_id]
        if self.event_names:
            out.append(c.event_name.in_(self.event_names))
        if self.start is not None:
            out.append(c.timestamp >= self.start)
        if self.end is not None:
            out.append(c.timestamp < self.end)
        if self.fingerprint:
            out.append(c.fingerprint_id == self.fingerprint)
        if self.session_id:
            out.append(c.session_id == self.session_id)
        out.extend(cond.clause(table) for cond in self.conditions)
        if self.search:
            pattern = f"%{escape_like(self.search)}%"
            out.append(or_(c.event_name.ilike(pattern, escape="\\"),
                           func.lower(cast(c.properties, String)).like(
                               pattern.lower(), escape="\\")))
        return out

    def where(self, table: Table = activities) -> ColumnElement:
        return and_(*self.clauses(table))
