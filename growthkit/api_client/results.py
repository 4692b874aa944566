"""Typed answers of the query API, read from its JSON; `to_json()` gives the JSON back.

Each result keeps the answer it was read from, so `to_json()` is exactly what the server
sent; the typed fields are the ones scripts read most (times as UTC datetimes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Self


def parse_time(value: str | None) -> datetime | None:
    """`2025-01-31T12:00:00.123Z` as an aware UTC datetime (None stays None)."""
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class JsonResult:
    """A result read from one JSON object."""

    raw: dict[str, Any] = field(repr=False, compare=True)

    def to_json(self) -> dict[str, Any]:
        return self.raw

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]


@dataclass(frozen=True)
class Activity(JsonResult):
    """One stored event (StoredActivity)."""

    TIME_FIELDS: ClassVar = ("timestamp", "receivedAt")

    id: str = ""
    fingerprint: str = ""
    event_name: str = ""
    properties: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    session_id: str = ""
    timestamp: datetime | None = None
    received_at: datetime | None = None
    seq: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, id=data["id"], fingerprint=data["fingerprintId"],
                   event_name=data["eventName"], properties=data.get("properties"),
                   context=data.get("context") or {}, session_id=data.get("sessionId", ""),
                   timestamp=parse_time(data["timestamp"]),
                   received_at=parse_time(data.get("receivedAt")), seq=data["seq"])


@dataclass(frozen=True)
class Lead(JsonResult):
    """A lead as listed (also a segment member, which has no traits)."""

    TIME_FIELDS: ClassVar = ("firstSeen", "lastSeen")

    fingerprint: str = ""
    email: str | None = None
    name: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    events: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, fingerprint=data["fingerprint"], email=data.get("email"),
                   name=data.get("name"), traits=data.get("traits") or {},
                   first_seen=parse_time(data.get("firstSeen")),
                   last_seen=parse_time(data.get("lastSeen")), events=data.get("events", 0))


@dataclass(frozen=True)
class LeadDetails(Lead):
    """One lead with its sessions, top events, activity by hour/weekday and credit balance."""

    sessions: int = 0
    top_events: list[dict[str, Any]] = field(default_factory=list)
    frequency: dict[str, Any] = field(default_factory=dict)
    credit_balance: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        lead = Lead.from_json(data)
        return cls(**{f.name: getattr(lead, f.name) for f in fields(lead)},
                   sessions=data.get("sessions", 0), top_events=data.get("topEvents", []),
                   frequency=data.get("frequency", {}),
                   credit_balance=data.get("creditBalance", 0))


@dataclass(frozen=True)
class TimelineItem(JsonResult):
    """An event or a credit operation in a lead's unified timeline."""

    TIME_FIELDS: ClassVar = ("timestamp",)

    kind: str = ""
    timestamp: datetime | None = None
    name: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    gap_seconds: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, kind=data["kind"], timestamp=parse_time(data["timestamp"]),
                   name=data["name"], details=data.get("details") or {},
                   gap_seconds=data.get("gapSeconds"))


@dataclass(frozen=True)
class CreditOperation(JsonResult):
    """One ledger entry."""

    TIME_FIELDS: ClassVar = ("timestamp",)

    id: str = ""
    fingerprint: str = ""
    action: str = ""
    amount: int = 0
    balance_after: int = 0
    reason: str | None = None
    timestamp: datetime | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, id=data["id"], fingerprint=data["fingerprint"],
                   action=data["action"], amount=data["amount"],
                   balance_after=data["balanceAfter"], reason=data.get("reason"),
                   timestamp=parse_time(data["timestamp"]))


@dataclass(frozen=True)
class CreditResult(JsonResult):
    """The answer of a credit write: the new balance and the operation applied (or replayed)."""

    balance: int = 0
    operation: CreditOperation | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, balance=data["balance"],
                   operation=CreditOperation.from_json(data["operation"]))


@dataclass(frozen=True)
class Stats(JsonResult):
    """Quick stats of a range against the previous period (GET /stats)."""

    start: datetime | None = None
    end: datetime | None = None
    events: int = 0
    unique_users: int = 0
    sessions: int = 0
    events_per_hour: float = 0.0
    events_last_hour: int = 0
    top_events: list[dict[str, Any]] = field(default_factory=list)
    change: dict[str, float | None] = field(default_factory=dict)
    time_zone: str = "UTC"
    source: str = "events"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, start=parse_time(data["from"]), end=parse_time(data["to"]),
                   events=data["events"], unique_users=data["uniqueUsers"],
                   sessions=data["sessions"], events_per_hour=data["eventsPerHour"],
                   events_last_hour=data.get("eventsLastHour", 0),
                   top_events=data.get("topEvents", []), change=data.get("change", {}),
                   time_zone=data.get("timeZone", "UTC"), source=data.get("source", "events"))



@dataclass(frozen=True)
class EventFrequency(JsonResult):
    """Event counts ranked and bucketed (GET /analytics/events)."""

    start: datetime | None = None
    end: datetime | None = None
    interval: str = "day"
    total: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    time_zone: str = "UTC"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, start=parse_time(data["from"]), end=parse_time(data["to"]),
                   interval=data["interval"], total=data["total"], events=data["events"],
                   time_zone=data["timeZone"])



@dataclass(frozen=True)
class Heatmap(JsonResult):
    """Day-of-week × hour counts (GET /analytics/heatmap); rows Monday first."""

    matrix: list[list[int]] = field(default_factory=list)
    metric: str = "events"
    total: int = 0
    time_zone: str = "UTC"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, matrix=data["matrix"], metric=data["metric"],
                   total=data["total"], time_zone=data["timeZone"])



@dataclass(frozen=True)
class Funnel(JsonResult):
    """Conversion through ordered steps (POST /analytics/funnel)."""

    start: datetime | None = None
    end: datetime | None = None
    window_seconds: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, start=parse_time(data["from"]), end=parse_time(data["to"]),
                   window_seconds=data["windowSeconds"], steps=data["steps"])



@dataclass(frozen=True)
class Segments(JsonResult):
    """Built-in segment counts as of a moment (GET /analytics/segments)."""

    as_of: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, as_of=parse_time(data["asOf"]),
                   counts={s["id"]: s["count"] for s in data["data"]})



@dataclass(frozen=True)
class AppInfo(JsonResult):
    """The app a secret key belongs to and its settings (GET/PATCH /app)."""

    TIME_FIELDS: ClassVar = ("createdAt",)

    id: str = ""
    name: str = ""
    public_key: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, id=data["id"], name=data["name"], public_key=data["publicKey"],
                   settings=data.get("settings", {}))


@dataclass(frozen=True)
class ServerInfo(JsonResult):
    """The server's health (`up`) and version, from /health and /openapi.json."""

    status: str = ""
    version: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, status=data.get("status", ""), version=data.get("version", ""))


@dataclass(frozen=True)
class LeadSession(JsonResult):
    """One of a lead's sessions (GET /leads/{fp}/sessions)."""

    TIME_FIELDS: ClassVar = ("start", "end")

    session_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    duration_seconds: float = 0.0
    events: int = 0
    page_views: int = 0
    entry_page: str | None = None
    exit_page: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, session_id=data["sessionId"], start=parse_time(data["start"]),
                   end=parse_time(data["end"]), duration_seconds=data["durationSeconds"],
                   events=data["events"], page_views=data["pageViews"],
                   entry_page=data.get("entryPage"), exit_page=data.get("exitPage"))


@dataclass(frozen=True)
class FunnelLead(Lead):
    """A lead behind a funnel step (POST /analytics/funnel/leads)."""

    TIME_FIELDS: ClassVar = ("firstSeen", "lastSeen", "enteredAt", "lastStepAt")

    entered_at: datetime | None = None
    last_step: int = 0
    last_step_at: datetime | None = None
    seconds_to_convert: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        lead = Lead.from_json(data)
        return cls(**{f.name: getattr(lead, f.name) for f in fields(lead)},
                   entered_at=parse_time(data.get("enteredAt")),
                   last_step=data.get("lastStep", 0),
                   last_step_at=parse_time(data.get("lastStepAt")),
                   seconds_to_convert=data.get("secondsToConvert"))


@dataclass(frozen=True)
class TimeToConvert(JsonResult):
    """How long a funnel step's leads took from the previous step, binned."""

    step: int = 0
    users: int = 0
    median_seconds: float | None = None
    bins: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(raw=data, step=data["step"], users=data["users"],
                   median_seconds=data.get("medianSeconds"), bins=data["bins"])

