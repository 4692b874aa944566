"""The demo's visitors and their visits: a signup funnel inside realistic sessions, and the
weeks of history (events, leads, profiles, credit ledgers) written through core's ingest."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine

from growthkit.core import leads as core_leads
from growthkit.core.events import Event
from growthkit.core.ingest import BatchWrite, write_batches
from growthkit.core.rollups import refresh_rollups
from growthkit.core.schema import credit_operations
from growthkit.core.store import insert, write_connection
from growthkit.server.demo_vocabulary import (
    DAY,
    DEVICES,
    HOUR,
    HOUR_WEIGHTS,
    NAMES,
    PATHS,
    REFERRERS,
    WEEKDAY_WEIGHTS,
    base_context,
    credit_ledger,
    page_title,
    properties_pool,
    uuids,
)

# The signup funnel, in order; these never appear at random, only as a visitor's journey.
FUNNEL = ("signup_started", "signup_completed", "checkout_started", "purchase_completed")
_BROWSE = [n for n in NAMES[1:] if n not in FUNNEL]
_BROWSE_P = 1 / (np.array([NAMES.index(n) for n in _BROWSE]) + 1) ** 1.1
_BROWSE_P /= _BROWSE_P.sum()
_PATH_P = 1 / np.arange(1, len(PATHS) + 1) ** 1.3
_PATH_P /= _PATH_P.sum()
_POOL, _POOL_START, _POOL_SIZE = properties_pool()
FIRST_NAMES = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances",
               "Ken", "Radia", "Tim", "Hedy", "Edsger", "Joan", "Donald", "Sophie"]


@dataclass
class Visitor:
    """A lead of the demo: its device, where it came from and how far down the funnel."""

    fingerprint: str
    device: int
    referrer: int
    stage: int = 0  # 0 visitor, 1 signed up, 2 customer


@dataclass
class Step:
    timestamp: int
    name: str
    properties: dict | None
    path: str


def new_visitor(rng: np.random.Generator) -> Visitor:
    h = uuids(rng, 1)[0].replace("-", "")
    return Visitor(f"fp_{h[:7]}_{h[7:19]}", int(rng.integers(len(DEVICES))),
                   int(rng.integers(len(REFERRERS))))


def _properties(rng: np.random.Generator, name: str, path: str) -> dict | None:
    i = NAMES.index(name)
    raw = _POOL[int(_POOL_START[i] + rng.integers(_POOL_SIZE[i]))]
    return None if raw is None else json.loads(raw.replace("@PATH", path))


def visit(rng: np.random.Generator, visitor: Visitor, start: int,
          mean_gap_ms: float = 40_000) -> list[Step]:
    """One session: a page view, browsing, and now and then the visitor's next funnel steps
    (a first signup, later a checkout and purchase). Advances `visitor.stage`."""
    names = ["page_viewed"] + rng.choice(_BROWSE, size=min(int(rng.geometric(1 / 7)), 40),
                                         p=_BROWSE_P).tolist()
    funnel: list[str] = []
    if visitor.stage == 0 and rng.random() < 0.3:
        funnel = ["signup_started"]
        if rng.random() < 0.55:
            funnel.append("signup_completed")
            visitor.stage = 1
    elif visitor.stage == 1 and rng.random() < 0.2:
        funnel = ["checkout_started"]
        if rng.random() < 0.6:
            funnel.append("purchase_completed")
            visitor.stage = 2
    at = sorted(rng.integers(1, len(names) + 1, len(funnel)).tolist())
    for offset, (pos, name) in enumerate(zip(at, funnel, strict=True)):
        names.insert(pos + offset, name)
    steps, t, path = [], start, PATHS[int(rng.choice(len(PATHS), p=_PATH_P))]
    for name in names:
        if name == "page_viewed" and steps:
            path = PATHS[int(rng.choice(len(PATHS), p=_PATH_P))]
        elif name.startswith("signup"):
            path = "/signup"
        elif name in ("checkout_started", "purchase_completed"):
            path = "/checkout"
        steps.append(Step(t, name, _properties(rng, name, path), path))
        t += int(min(rng.exponential(mean_gap_ms), 20 * 60_000)) + 500
    return steps


def step_context(visitor: Visitor, step: Step, session_start: int, page_views: int) -> dict:
    return {**base_context(visitor.device, visitor.referrer),
            "url": f"https://app.example.com{step.path}", "title": page_title(step.path),
            "sessionDuration": step.timestamp - session_start, "pageViews": page_views}


def traffic_level(t: int) -> float:
    """The traffic intensity at time t (UTC), 0-1: the daily and weekly cycles."""
    return float(HOUR_WEIGHTS[(t % DAY) // HOUR] * WEEKDAY_WEIGHTS[((t // DAY) + 3) % 7]
                 / HOUR_WEIGHTS.max())


def _session_starts(rng: np.random.Generator, first: int, last: int, n: int) -> list[int]:
    """Up to n visit starts in [first, last], following the daily and weekly cycles, at
    least 31 minutes apart (the first one at `first`)."""
    starts = [first]
    for _ in range(n * 20):
        if len(starts) >= n or last <= first:
            break
        t = int(rng.integers(first, last))
        if rng.random() < traffic_level(t) and all(abs(t - s) > 31 * 60_000 for s in starts):
            starts.append(t)
    return sorted(starts)


class _TrafficTime:
    """The running sum of hourly traffic intensity from start to end, so that the busy
    time of any span is two lookups (in average days)."""

    def __init__(self, start: int, end: int) -> None:
        self.t0 = start // HOUR * HOUR
        hours = np.arange(self.t0, end + HOUR, HOUR)
        weight = (HOUR_WEIGHTS[(hours % DAY) // HOUR] * WEEKDAY_WEIGHTS[((hours // DAY) + 3) % 7])
        self.cum = np.concatenate(([0.0], np.cumsum(weight)))
        self.per_day = 24 * float(HOUR_WEIGHTS.mean() * WEEKDAY_WEIGHTS.mean())

    def days(self, a: int, b: int) -> float:
        if b <= a:
            return 0.0
        i, j = ((np.array([a, b]) - self.t0) // HOUR).clip(0, len(self.cum) - 1)
        return float(self.cum[j] - self.cum[i]) / self.per_day


@dataclass
class History:
    events: int
    leads: int
    sessions: int
    credit_operations: int


def write_history(engine: Engine, app_id: str, *, start: int, end: int, leads: int,
                  seed: int, credits: bool = True,
                  log: Callable[[str], None] = print) -> History:
    """Visitors arriving between start and end (more later: the app grows), 40% once and
    the others for days or weeks; their visits, profiles for those who signed up, and
    credit ledgers. Written in core's ingest path, then rolled up."""
    rng = np.random.default_rng(seed)
    span = end - start
    visitors, arrivals = [], []
    for _ in range(leads):
        v = new_visitor(rng)
        first = start + int(rng.random() ** 0.8 * span)
        while rng.random() > traffic_level(first):  # people arrive in the busy hours
            first = start + int(rng.random() * span)
        visitors.append(v)
        arrivals.append(first)
    steps: list[tuple[Visitor, str, list[Step]]] = []
    traffic = _TrafficTime(start, end + 180 * DAY)
    for v, first in zip(visitors, arrivals, strict=True):
        life = 0 if rng.random() < 0.4 else int(rng.exponential(12) * DAY)
        # A visit every second average day (in traffic time) over the whole life; the
        # visits after now are dropped, so leads that arrived lately are not crowded.
        n = 1 if life == 0 else 1 + int(rng.poisson(traffic.days(first, first + life) / 2))
        starts = _session_starts(rng, first, first + life, min(n, 30))
        for s in [t for t in starts if t < end - 10 * 60_000]:
            session = [st for st in visit(rng, v, s) if st.timestamp < end]
            steps.append((v, "s_" + uuid.uuid4().hex, session))
    events: list[tuple[Visitor, Event]] = []
    for v, session_id, session in steps:
        page_views = 0
        for st in session:
            page_views += st.name == "page_viewed"
            events.append((v, Event(str(uuid.uuid4()), v.fingerprint, st.name, st.properties,
                                    step_context(v, st, session[0].timestamp, page_views),
                                    session_id, st.timestamp,
                                    st.timestamp + int(rng.integers(30, 4000)))))
    events.sort(key=lambda item: item[1].timestamp)
    for i in range(0, len(events), 5000):
        with write_connection(engine) as conn, conn.begin():
            write_batches(conn, [BatchWrite(app_id, [e for _, e in events[i:i + 5000]])])
    log(f"  {len(events):,} events of {leads} leads in {len(steps):,} sessions")
    ops = _profiles_and_credits(engine, app_id, rng, visitors, events, credits)
    refresh_rollups(engine, settle_ms=0)
    return History(len(events), leads, len(steps), ops)


def _profiles_and_credits(engine: Engine, app_id: str, rng: np.random.Generator,
                          visitors: list[Visitor], events: list[tuple[Visitor, Event]],
                          credits: bool) -> int:
    """Signed-up leads get a name and email; leads seen get credit ledgers (initial
    credits at first sight, spends, purchases) when `credits`."""
    fps = [v.fingerprint for v in visitors]
    index = {fp: i for i, fp in enumerate(fps)}
    first = np.full(len(fps), np.iinfo(np.int64).max)
    last = np.zeros(len(fps), np.int64)
    counts = np.zeros(len(fps), np.int64)
    for v, e in events:
        i = index[v.fingerprint]
        first[i], last[i] = min(first[i], e.timestamp), max(last[i], e.timestamp)
        counts[i] += 1
    seen = counts > 0
    ops = []
    if credits and seen.any():
        keep = np.flatnonzero(seen)
        ops = credit_ledger(rng, app_id, [fps[i] for i in keep], first[keep], last[keep],
                            counts[keep], [])
    with write_connection(engine) as conn, conn.begin():
        for n, v in enumerate(visitors):
            if v.stage and seen[n]:
                name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {v.fingerprint[3:7].upper()}"
                core_leads.update_lead(conn, app_id, v.fingerprint, {
                    "name": name, "email": f"{name.split()[0].lower()}.{n}@example.com",
                    "traits": {"plan": ("free", "pro")[v.stage - 1]}})
        if ops:
            cols = ("id", "app_id", "fingerprint_id", "action", "amount", "balance_after",
                    "reason", "timestamp")
            conn.execute(insert(conn, credit_operations), [dict(zip(cols, op, strict=True))
                                                           for op in ops])
    return len(ops)
