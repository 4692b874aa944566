"""The client's result types: core's own (one set of types for the server, the client and
LocalSource), plus the two answers core has no type for (the app, the server's health).

Core's results keep times as the API's ISO-8601 strings; `to_frame()` turns them into
UTC datetime64 columns. `TIME_FIELDS` names them per type.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self

from growthkit.core.activities import StoredActivity
from growthkit.core.credits import Applied, CreditHistory, Operation
from growthkit.core.frequency import EventFrequency
from growthkit.core.funnel import FunnelResult
from growthkit.core.funnel_leads import FunnelLead, TimeToConvert
from growthkit.core.heatmap import Heatmap
from growthkit.core.lead_profile import LeadDetails
from growthkit.core.leads import Lead
from growthkit.core.results import json_name
from growthkit.core.segments import Member, Segments
from growthkit.core.sessions import Session
from growthkit.core.stats import Stats
from growthkit.core.timeline import TimelineItem

# The JSON fields of each listed type that hold times (ISO-8601 in the API).
TIME_FIELDS: dict[type, tuple[str, ...]] = {
    StoredActivity: ("timestamp", "receivedAt"),
    Lead: ("firstSeen", "lastSeen"),
    Member: ("firstSeen", "lastSeen"),
    Operation: ("timestamp",),
    TimelineItem: ("timestamp",),
    Session: ("start", "end"),
    FunnelLead: ("firstSeen", "lastSeen", "enteredAt", "lastStepAt"),
}


def json_fields(cls: type) -> list[str]:
    """The JSON names of a result type's fields, in order (the columns of its frames)."""
    return [json_name(f.name) for f in fields(cls)]


@dataclass
class AppInfo:
    """The app a secret key belongs to and its settings (GET/PATCH /app)."""

    id: str
    name: str
    public_key: str
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "publicKey": self.public_key,
                "settings": self.settings, "createdAt": self.created_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(data["id"], data["name"], data["publicKey"], data.get("settings") or {},
                   data.get("createdAt"))


@dataclass
class ServerInfo:
    """The server's health (`up`) and version, from /health and /openapi.json."""

    status: str
    version: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "version": self.version}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(data.get("status", ""), data.get("version", ""))


__all__ = [
    "TIME_FIELDS", "AppInfo", "Applied", "CreditHistory", "EventFrequency", "FunnelLead",
    "FunnelResult", "Heatmap", "Lead", "LeadDetails", "Member", "Operation", "Segments",
    "ServerInfo", "Session", "Stats", "StoredActivity", "TimeToConvert", "TimelineItem",
    "json_fields",
]
