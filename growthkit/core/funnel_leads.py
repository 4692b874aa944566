"""Funnel drill-down: which leads converted at a step or dropped before it, and how long the
step's converters took — the same walk as the funnel (growthkit.core.funnel), kept per lead.

Step numbers are 1-based, as in the funnel's documentation. At step k, **converted** leads
reached step k; **dropped** leads reached step k-1 but not k (so their number is the step's
`dropOff`; step 1 has none). Lead pages are in fingerprint order, keyset-paged.
"""

from __future__ import annotations

import base64
import binascii
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from growthkit.core.clock import parse_time, to_iso
from growthkit.core.cursors import CursorError
from growthkit.core.errors import QueryError
from growthkit.core.funnel import FunnelPlan, lead_paths
from growthkit.core.params import check_limit
from growthkit.core.schema import leads

OUTCOMES = ("converted", "dropped")
MAX_LIMIT = 1000
MAX_BINS = 100


@dataclass(frozen=True)
class FunnelLeadsQuery:
    funnel: FunnelPlan
    step: int
    outcome: str = "converted"
    limit: int = 50
    cursor: str | None = None  # nextCursor of the previous page

    def __post_init__(self) -> None:
        n = len(self.funnel.steps)
        if not 1 <= self.step <= n:
            raise QueryError("step", f"step: must be a step number from 1 to {n}, not {self.step}")
        if self.outcome not in OUTCOMES:
            raise QueryError("outcome", f"outcome: must be converted or dropped, not "
                                        f"{self.outcome!r}")
        if self.outcome == "dropped" and self.step == 1:
            raise QueryError("step", "step: step 1 has no dropped leads (a lead enters the funnel "
                                 "with it); ask for step 2 or later")
        check_limit(self.limit, MAX_LIMIT)


@dataclass
class FunnelLead:
    fingerprint: str
    email: str | None
    name: str | None
    first_seen: int
    last_seen: int
    events: int
    entered_at: int
    last_step: int  # 1-based: the furthest step the lead reached
    last_step_at: int
    seconds_to_convert: float | None  # converted, step > 1: from the previous step

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "email": self.email, "name": self.name,
                "firstSeen": to_iso(self.first_seen), "lastSeen": to_iso(self.last_seen),
                "events": self.events, "enteredAt": to_iso(self.entered_at),
                "lastStep": self.last_step, "lastStepAt": to_iso(self.last_step_at),
                "secondsToConvert": self.seconds_to_convert}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FunnelLead:
        return cls(d["fingerprint"], d.get("email"), d.get("name"), parse_time(d["firstSeen"]),
                   parse_time(d["lastSeen"]), d["events"], parse_time(d["enteredAt"]),
                   d["lastStep"], parse_time(d["lastStepAt"]), d.get("secondsToConvert"))


@dataclass
class FunnelLeads:
    step: int
    event_name: str
    outcome: str
    count: int
    data: list[FunnelLead] = field(default_factory=list)
    next_cursor: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "eventName": self.event_name, "outcome": self.outcome,
                "count": self.count, "data": [x.to_json() for x in self.data],
                "nextCursor": self.next_cursor}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FunnelLeads:
        return cls(d["step"], d["eventName"], d["outcome"], d["count"],
                   [FunnelLead.from_json(x) for x in d["data"]], d.get("nextCursor"))


@dataclass
class Bin:
    from_seconds: float
    to_seconds: float
    users: int


@dataclass
class TimeToConvert:
    step: int
    event_name: str
    users: int
    median_seconds: float | None
    bins: list[Bin] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "eventName": self.event_name, "users": self.users,
                "medianSeconds": self.median_seconds,
                "bins": [{"fromSeconds": b.from_seconds, "toSeconds": b.to_seconds,
                          "users": b.users} for b in self.bins]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TimeToConvert:
        return cls(d["step"], d["eventName"], d["users"], d.get("medianSeconds"),
                   [Bin(b["fromSeconds"], b["toSeconds"], b["users"]) for b in d["bins"]])


CURSOR_PREFIX = "funnel-leads:"


def encode_cursor(fingerprint: str) -> str:
    raw = (CURSOR_PREFIX + fingerprint).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None) -> str | None:
    """The last fingerprint of the previous page; CursorError for a cursor not from here."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError() from None
    if not text.startswith(CURSOR_PREFIX):
        raise CursorError()
    return text[len(CURSOR_PREFIX):]


def funnel_leads(conn: Connection, app_id: str, q: FunnelLeadsQuery) -> FunnelLeads:
    """One page of the step's converted or dropped leads, in fingerprint order."""
    after = decode_cursor(q.cursor)
    paths = lead_paths(conn, q.funnel)
    k = q.step
    if q.outcome == "converted":
        chosen = {fp: p for fp, p in paths.walked.items() if len(p) >= k}
    else:
        chosen = {fp: p for fp, p in paths.walked.items() if len(p) == k - 1}
    # The leads that stopped at their entry without being walked: converted at step 1,
    # dropped at step 2 (their paths, just the entry, are looked up for the page only).
    stopped = set(paths.rest()) if k == 1 or (k == 2 and q.outcome == "dropped") else set()
    ordered = sorted(fp for fp in chosen.keys() | stopped if after is None or fp > after)
    page = ordered[:q.limit]
    entries = paths.entry_times([fp for fp in page if fp not in chosen])
    chosen.update({fp: [t] for fp, t in entries.items()})
    rows = {r.fingerprint: r for r in conn.execute(
        select(leads).where(leads.c.app_id == app_id, leads.c.fingerprint.in_(page)))} \
        if page else {}
    data = []
    for fp in page:
        path, row = chosen[fp], rows.get(fp)
        gap = ((path[k - 1] - path[k - 2]) / 1000
               if q.outcome == "converted" and k > 1 else None)
        data.append(FunnelLead(
            fp, row.email if row else None, row.name if row else None,
            row.first_seen if row else path[0], row.last_seen if row else path[-1],
            row.events if row else 0, path[0], len(path), path[-1], gap))
    more = len(ordered) > q.limit
    return FunnelLeads(k, q.funnel.steps[k - 1].event_name, q.outcome,
                       len(chosen.keys() | stopped), data,
                       encode_cursor(page[-1]) if more and page else None)


def time_to_convert(conn: Connection, q: FunnelPlan, step: int, bins: int = 20) -> TimeToConvert:
    """How long the leads reaching `step` (2..n) took from the step before: `bins` equal
    bins from 0 to the longest time (the last bin includes its upper edge)."""
    n = len(q.steps)
    if not 2 <= step <= n:
        raise QueryError("step", f"step: time to convert is measured from step 2 to {n}, "
                             f"not {step}")
    if not 1 <= bins <= MAX_BINS:
        raise QueryError("bins", f"bins: must be between 1 and {MAX_BINS}, not {bins}")
    gaps = [(p[step - 1] - p[step - 2]) / 1000
            for p in lead_paths(conn, q).walked.values() if len(p) >= step]
    name = q.steps[step - 1].event_name
    if not gaps:
        return TimeToConvert(step, name, 0, None, [])
    top = max(gaps) or 1.0
    width = top / bins
    counts = [0] * bins
    for g in gaps:
        counts[min(int(g / width), bins - 1)] += 1
    edges = [round(i * width, 3) for i in range(bins + 1)]
    return TimeToConvert(step, name, len(gaps), statistics.median(gaps),
                         [Bin(edges[i], edges[i + 1], c) for i, c in enumerate(counts)])
