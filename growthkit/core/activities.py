"""Activity rows in the public StoredActivity shape (camelCase, ISO-8601 UTC times)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from growthkit.core.clock import to_iso
from growthkit.core.results import Result, result
from growthkit.core.schema import activities

if TYPE_CHECKING:
    from growthkit.core.events import Event

COLUMNS = [activities.c.seq, activities.c.id, activities.c.app_id, activities.c.fingerprint_id,
           activities.c.event_name, activities.c.properties, activities.c.context,
           activities.c.session_id, activities.c.timestamp, activities.c.received_at]


def _json(value: Any) -> Any:
    # SQLite hands JSON back decoded already via SQLAlchemy; raw driver rows give text.
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def stored_activity(row: Any) -> dict[str, Any]:
    """A row of COLUMNS (or anything with those attributes) as a StoredActivity."""
    return {
        "id": row.id,
        "appId": row.app_id,
        "fingerprintId": row.fingerprint_id,
        "eventName": row.event_name,
        # An event sent without properties reads as {} everywhere (activities, timeline,
        # stream, export), as it does in the timeline.
        "properties": _json(row.properties) or {},
        "context": _json(row.context) or {},
        "sessionId": row.session_id,
        "timestamp": to_iso(row.timestamp),
        "receivedAt": to_iso(row.received_at),
        "seq": row.seq,
    }


def event_activity(app_id: str, event: Event) -> dict[str, Any]:
    """A just-stored Event (from the ingest path) as a StoredActivity."""
    return {
        "id": event.id, "appId": app_id, "fingerprintId": event.fingerprint,
        "eventName": event.event_name, "properties": event.properties or {},
        "context": event.context or {}, "sessionId": event.session_id,
        "timestamp": to_iso(event.timestamp), "receivedAt": to_iso(event.received_at),
        "seq": event.seq,
    }


@result
class StoredActivity(Result):
    """One stored event, as every endpoint answers it."""

    id: str
    app_id: str
    fingerprint_id: str
    event_name: str
    properties: dict[str, Any]
    context: dict[str, Any]
    session_id: str
    timestamp: str
    received_at: str
    seq: int

    @classmethod
    def from_row(cls, row: Any) -> StoredActivity:
        return cls(row.id, row.app_id, row.fingerprint_id, row.event_name,
                   _json(row.properties) or {}, _json(row.context) or {}, row.session_id,
                   to_iso(row.timestamp), to_iso(row.received_at), row.seq)


@result
class ActivityPage(Result):
    """A page of activities: `{data, nextCursor}` (null on the last page)."""

    data: list[StoredActivity]
    next_cursor: str | None
