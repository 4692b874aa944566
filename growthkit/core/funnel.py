"""Funnels: how many leads went through ordered steps within a conversion window.

Matching rule (documented in docs/api.md, "Funnels and segments"):
- A lead enters the funnel with a step-1 event inside the range [start, end).
- From that entry, each next step is the lead's earliest matching event after the event that
  matched the step before (same timestamp counts when it was stored later), no later than
  `window_ms` after the entry (exactly at the window still counts).
- A lead with several step-1 events is counted once, on the earliest entry that gets
  furthest; its times to convert are measured on that entry's path.
- Out-of-order events never count: a step only matches after the previous step matched.

One query fetches only (fingerprint, step mask, timestamp) rows of events that match any
step, ordered by lead and time; Python walks them once, lead by lead.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Connection, and_, case, literal, or_, select

from growthkit.core.apps import App
from growthkit.core.clock import to_iso
from growthkit.core.errors import QueryError
from growthkit.core.filters import ActivityFilter, PropertyCondition
from growthkit.core.funnel_paths import Paths, SummaryWalk, summarizable
from growthkit.core.params import check_path, resolve_range
from growthkit.core.results import Result, result
from growthkit.core.schema import activities
from growthkit.core.store import plain_rows

MIN_STEPS = 2
MAX_STEPS = 10
MAX_WINDOW_SECONDS = 366 * 86_400
DEFAULT_RANGE_MS = 30 * 86_400_000
FETCH_BATCH = 20_000
# Per sort or hash node of one analytic query (SET LOCAL, so only these transactions).
WORK_MEM = "128MB"


@dataclass(frozen=True)
class FunnelStep:
    event_name: str
    conditions: Sequence[PropertyCondition] = ()


@result
class StepResult(Result):
    event_name: str
    users: int
    conversion_from_start: float
    conversion_from_previous: float
    drop_off: int
    median_seconds_to_convert: float | None


@result
class FunnelResult(Result):
    """The POST /analytics/funnel answer."""

    from_: str
    to: str
    window_seconds: int
    steps: list[StepResult]


@dataclass
class FunnelQuery:
    """POST /analytics/funnel: steps, window and range (open ends: the DEFAULT_RANGE_MS up to
    `now`, the wall clock when None); `conditions` apply to every step."""

    steps: Sequence[FunnelStep]
    window_seconds: int
    start: int | None = None
    end: int | None = None
    conditions: Sequence[PropertyCondition] = field(default_factory=list)
    now: int | None = None


@dataclass
class FunnelPlan:
    """A funnel over one app's activities, range resolved; epoch ms, `end` exclusive."""

    app_id: str
    steps: Sequence[FunnelStep]
    window_ms: int
    start: int
    end: int
    conditions: Sequence[PropertyCondition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not MIN_STEPS <= len(self.steps) <= MAX_STEPS:
            raise QueryError("steps", f"steps: a funnel has {MIN_STEPS}-{MAX_STEPS} steps, "
                                      f"not {len(self.steps)}")
        if not 0 < self.window_ms <= MAX_WINDOW_SECONDS * 1000:
            raise QueryError("windowSeconds", f"windowSeconds: the conversion window is 1 to "
                                              f"{MAX_WINDOW_SECONDS} seconds")
        if self.start >= self.end:
            raise QueryError("from", f"from: the range must start before it ends (from "
                                     f"{to_iso(self.start)}, to {to_iso(self.end)})")


def _statement(q: FunnelPlan, dialect: str = "sqlite", fingerprints: Sequence[str] | None = None):
    """Rows (fingerprint, mask, timestamp); bit k of mask set when the event matches step k
    (of the given leads only, when `fingerprints` is not None)."""
    a = activities.c
    matches = [and_(a.event_name == s.event_name, *(c.clause() for c in s.conditions))
               for s in q.steps]
    mask = sum((case((m, 1 << k), else_=0) for k, m in enumerate(matches)), literal(0))
    # Later steps may happen up to one window after the range ends.
    base = ActivityFilter(app_id=q.app_id, event_names=sorted({s.event_name for s in q.steps}),
                          start=q.start, end=q.end + q.window_ms,
                          conditions=list(q.conditions))
    stmt = select(a.fingerprint_id, mask.label("mask"), a.timestamp, a.seq).where(base.where())
    if fingerprints is not None:
        stmt = stmt.where(a.fingerprint_id.in_(list(fingerprints)))
    if any(s.conditions for s in q.steps):
        # Events of a step's name that fail its conditions match no step: leave them out.
        stmt = stmt.where(or_(*matches))
    # On SQLite, ORDER BY fingerprint alone would make the planner walk the app's whole
    # (app, fingerprint, timestamp) index to skip a sort; materializing lets it read just
    # the steps' events by (app, event_name, timestamp) and sort those. PostgreSQL inlines
    # the CTE and plans as usual.
    rows = stmt.cte("funnel_rows").prefix_with("MATERIALIZED", dialect="sqlite")
    lead = rows.c.fingerprint_id
    if dialect == "postgresql":
        # The walk only needs each lead's rows together, in any lead order: byte order sorts
        # with abbreviated keys instead of a locale comparison per pair (much faster).
        lead = lead.collate("C")
    return (select(rows.c.fingerprint_id, rows.c.mask, rows.c.timestamp)
            .order_by(lead, rows.c.timestamp, rows.c.seq))


def tune_for_scans(conn: Connection) -> None:
    """On PostgreSQL, for the rest of this transaction: no JIT (compiling these plans costs
    more than it saves) and room to sort and hash a month of steps in memory."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")


def step_rows(conn: Connection, q: FunnelPlan, fingerprints: Sequence[str] | None = None,
              ) -> Iterator[tuple[str, int, int]]:
    """The (fingerprint, mask, timestamp) rows the walk reads (of the given leads only, when
    `fingerprints` is not None), streamed in batches."""
    tune_for_scans(conn)
    stmt = _statement(q, conn.dialect.name, fingerprints)
    if q.conditions or any(s.conditions for s in q.steps):
        # Property conditions may bind typed (processed) parameters: let SQLAlchemy bind.
        result = conn.execute(stmt, execution_options={"yield_per": FETCH_BATCH})
        for part in result.partitions():
            yield from part
        return
    # Only strings and integers on either side: the driver's plain rows.
    yield from plain_rows(conn, stmt, FETCH_BATCH)


def lead_path(events: Sequence[tuple[str, int, int]], n_steps: int, window_ms: int,
              start: int, end: int) -> list[int]:
    """The timestamps of one lead's best path: the earliest entry that gets furthest.

    `events` are one lead's (fingerprint, mask, timestamp) rows in stored order.
    Returns [] when the lead never entered.
    """
    positions: list[list[int]] = [[] for _ in range(n_steps)]
    for i, row in enumerate(events):
        mask = row[1]
        if not mask:
            continue
        if not mask & (mask - 1):  # one step only: the usual case
            positions[mask.bit_length() - 1].append(i)
            continue
        k = 0
        while mask:
            if mask & 1:
                positions[k].append(i)
            mask >>= 1
            k += 1
    best: list[int] = []
    for entry in positions[0]:
        t0 = events[entry][2]
        if not start <= t0 < end:
            continue
        path, prev, exhausted = [t0], entry, False
        for k in range(1, n_steps):
            later = positions[k]
            j = bisect_right(later, prev)
            if j == len(later):
                exhausted = True
                break
            t = events[later[j]][2]
            if t - t0 > window_ms:
                break
            path.append(t)
            prev = later[j]
        if len(path) > len(best):
            best = path
        # A later entry's greedy path never lies before this one's, so once a step had no
        # event left (or every step matched) no later entry can get further.
        if exhausted or len(best) == n_steps:
            break
    return best


def raw_paths(conn: Connection, q: FunnelPlan,
              fingerprints: Sequence[str] | None = None) -> dict[str, list[int]]:
    """Every entered lead's best path (its step times) by fingerprint, walked on raw rows."""
    out: dict[str, list[int]] = {}
    for fp, group in groupby(step_rows(conn, q, fingerprints), key=itemgetter(0)):
        path = lead_path(list(group), len(q.steps), q.window_ms, q.start, q.end)
        if path:
            out[fp] = path
    return out


def lead_paths(conn: Connection, q: FunnelPlan) -> Paths:
    """The funnel's entered leads and their paths: from lead days where the funnel allows
    (growthkit.core.funnel_paths), else from raw rows. Funnels, drill-downs and time to
    convert all count from here, so they always agree."""
    if not summarizable(q):
        paths = raw_paths(conn, q)
        return Paths(len(paths), paths)
    tune_for_scans(conn)
    return SummaryWalk(conn, q.app_id, [s.event_name for s in q.steps], q.window_ms, q.start,
                       q.end, lambda fps: raw_paths(conn, q, fps)).paths()


def walk(paths: Paths, n_steps: int) -> list[StepResult]:
    """Per-step results of the entered leads' paths."""
    reached = [paths.entered] + [0] * (n_steps - 1)
    gaps: list[list[int]] = [[] for _ in range(n_steps)]
    for path in paths.walked.values():
        for k in range(1, len(path)):
            reached[k] += 1
            gaps[k].append(path[k] - path[k - 1])
    return summarize(reached, gaps)


def summarize(reached: Sequence[int], gaps: Sequence[list[int]]) -> list[StepResult]:
    """Per-step figures from the number of leads reaching each step and their step gaps."""
    out = []
    for k, users in enumerate(reached):
        first, prev = reached[0], reached[k - 1] if k else reached[0]
        out.append(StepResult(
            event_name="",
            users=users,
            conversion_from_start=round(users / first, 4) if first else 0.0,
            conversion_from_previous=round(users / prev, 4) if prev else 0.0,
            drop_off=prev - users,
            median_seconds_to_convert=(statistics.median(gaps[k]) / 1000
                                       if k and gaps[k] else None),
        ))
    return out


def run_funnel(conn: Connection, q: FunnelPlan) -> list[StepResult]:
    """The funnel's per-step results, in step order."""
    results = walk(lead_paths(conn, q), len(q.steps))
    for step, step_result in zip(q.steps, results, strict=True):
        step_result.event_name = step.event_name
    return results


def plan(app: App, query: FunnelQuery) -> FunnelPlan:
    """The funnel of `query` over the app's activities, its default range resolved."""
    start, end = resolve_range(query.start, query.end, DEFAULT_RANGE_MS, query.now)
    for i, step in enumerate(query.steps):
        for cond in step.conditions:
            check_path(cond.path, f"steps[{i}].where")
    for cond in query.conditions:
        check_path(cond.path, "where")
    return FunnelPlan(app_id=app.id, steps=query.steps, window_ms=query.window_seconds * 1000,
                      start=start, end=end, conditions=query.conditions)


def funnel(conn: Connection, app: App, query: FunnelQuery) -> FunnelResult:
    """The funnel of `query` over the app's activities, with its resolved range."""
    resolved = plan(app, query)
    return FunnelResult(from_=to_iso(resolved.start), to=to_iso(resolved.end),
                        window_seconds=query.window_seconds, steps=run_funnel(conn, resolved))
