"""One lead's details: profile, counts, top events, when it is active, and credit balance."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from growthkit.core.apps import App
from growthkit.core.credits import balance
from growthkit.core.filters import ActivityFilter
from growthkit.core.frequency import rank
from growthkit.core.heatmap import heatmap
from growthkit.core.lead_days import lead_event_counts, lead_session_count
from growthkit.core.leads import Lead, get_lead
from growthkit.core.params import resolve_zone
from growthkit.core.results import Result, result

TOP_EVENTS = 10


@dataclass
class LeadQuery:
    """GET /leads/{fingerprint}: the lead, and the zone of its activity frequency (None:
    the app's timeZone)."""

    fingerprint: str
    tz: str | None = None


@result
class EventCount(Result):
    event_name: str
    count: int


@result
class ActivityFrequency(Result):
    time_zone: str
    by_hour_of_day: list[int]
    by_day_of_week: list[int]  # Monday first


@result
class LeadDetails(Lead):
    """The GET /leads/{fingerprint} answer."""

    sessions: int
    top_events: list[EventCount]
    frequency: ActivityFrequency
    credit_balance: int


def lead_details(conn: Connection, app: App, query: LeadQuery) -> LeadDetails:
    """One lead: profile, event and session counts, top events, when it is active (by local
    hour of day and day of week) and its credit balance; NotFound for an unknown lead."""
    tz = resolve_zone(query.tz, app.setting("timeZone"))
    row = get_lead(conn, app.id, query.fingerprint)
    # Sessions and counts by name from lead days (growthkit.core.lead_days), not its events.
    sessions = lead_session_count(conn, app.id, query.fingerprint)
    flt = ActivityFilter(app.id, fingerprint=query.fingerprint)
    grid = heatmap(conn, flt, tz, metric="events")
    lead = Lead.from_row(row)
    return LeadDetails(
        **vars(lead),
        sessions=int(sessions or 0),
        top_events=[EventCount(e["eventName"], e["count"])
                    for e in rank(lead_event_counts(conn, app.id, query.fingerprint),
                                  TOP_EVENTS)],
        frequency=ActivityFrequency(tz.key, [sum(day[h] for day in grid) for h in range(24)],
                                    [sum(day) for day in grid]),
        credit_balance=balance(conn, app.id, query.fingerprint))
