"""Funnel paths from lead days: who entered a funnel and how far each lead got, without
reading every step event of a long range.

The matching rule is the funnel's (growthkit.core.funnel, `lead_path`); this module only
finds the same paths with less reading:
- the entered leads are those with a step-1 event in the range: counted from the daily
  presence of that event (growthkit.core.distinct), or over lead days (growthkit.core.
  lead_days, one row per lead and day) for ranges shorter than a UTC day;
- a lead without a step-2 event in [start, end + window) stops at step 1, so only leads with
  one are walked (the walk also tells whether they entered), over their per-day (first,
  last, count) summaries of each step;
- a summary holds every event of a day with one or two events, and the first and last of
  busier days; when the walk would need an event between those two (or two events share a
  timestamp, where stored order decides), the lead is walked again on its raw rows.
Funnels with property conditions, or with an event name in two steps, read raw rows.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, func, select

from growthkit.core.distinct import distinct_users_sessions
from growthkit.core.filters import ActivityFilter
from growthkit.core.lead_days import day_events, day_records, event_rows
from growthkit.core.schema import activities
from growthkit.core.timezones import DAY_MS

AMBIGUOUS = -1  # next_after: the summaries cannot tell (a tie: stored order decides)
EXPAND = -2  # next_after: the answer lies among a busy day's events the summary does not hold
EXHAUSTED = -3  # next_after: no event left within reach
ROUNDS = 4  # busy days read as raw events per lead before walking its raw rows instead
# Shorter ranges walk raw rows: measured in process on the benchmark stores (docs/
# performance.md, "second pass"), lead days were as fast or faster from 7 days on (PostgreSQL
# 10M: 1.6 vs 1.7 s at 7 days, 2.2 vs 3.0 s at 14) and slower at 2-3 days, on both stores.
MIN_RANGE_MS = 7 * DAY_MS


class Expand(NamedTuple):
    """summary_path cannot decide until record `index` of step `step` is read as events."""

    step: int
    index: int


@dataclass
class Paths:
    """Entered leads and their best paths (step timestamps, as `lead_path` returns them).

    `walked` holds the path of every entered lead that may have got past step 1; every other
    entered lead (`rest()`) stopped at step 1, its path being its entry (`entry_times`).
    """

    entered: int
    walked: dict[str, list[int]]
    rest: Callable[[], list[str]] = lambda: []
    entry_times: Callable[[Sequence[str]], dict[str, int]] = lambda fps: {}


def summarizable(q: Any) -> bool:
    """Lead days know names and times only: no property conditions, one step per name;
    and they pay off over long ranges only (MIN_RANGE_MS)."""
    names = [s.event_name for s in q.steps]
    return not q.conditions and not any(s.conditions for s in q.steps) and \
        len(set(names)) == len(names) and q.end - q.start >= MIN_RANGE_MS


Record = tuple[int, int, int]  # (first_ts, last_ts, events) of one lead, name and UTC day


def next_after(recs: Sequence[Record], lasts: Sequence[int], prev: int, limit: int) -> int:
    """The index of the step's first record holding an event after `prev`, and that event:
    (i, t), or (i, EXPAND), or (-1, AMBIGUOUS / EXHAUSTED); events from `limit` on are out
    of reach (the raw walk does not read them either)."""
    i = bisect_left(lasts, prev)
    if i == len(recs):
        return -1, EXHAUSTED
    first, last, n = recs[i]
    if first > prev:
        t = first
    elif n == 2 and first < prev < last:
        t = last
    elif n >= 3:
        return i, EXPAND
    else:  # a tie with an event of the previous step
        return -1, AMBIGUOUS
    return (i, t) if t < limit else (-1, EXHAUSTED)


def entries(recs: Sequence[Record], start: int, end: int) -> Iterable[tuple[int, int | None, int]]:
    """Step-1 events in [start, end) in time order as (t, None, i), and (lo, hi, i) for the
    span of a busy day (record i) whose events the summary does not hold."""
    for i, (first, last, n) in enumerate(recs):
        if first >= end:
            return
        if first >= start:
            yield first, None, i
        if n >= 3 and last >= start:
            yield first, last, i
        if n >= 2 and start <= last < end:
            yield last, None, i


def summary_path(recs: Sequence[Sequence[Record]], window_ms: int, start: int,
                 end: int) -> list[int] | Expand | None:
    """`lead_path` over one lead's per-step day records (sorted by time): the path, or the
    record to read as events first (Expand), or None when only raw rows can decide."""
    n_steps = len(recs)
    lasts = [[r[1] for r in step] for step in recs]
    limit = end + window_ms
    best: list[int] = []
    failed_at: int | None = None  # the step event the previous entry could not reach in time
    for t0, hi, i in entries(recs[0], start, end):
        if hi is not None:
            # Unknown entries up to `hi`: their paths lie no earlier than the previous
            # entry's, so none gets further when the event it missed is a window past `hi`.
            if failed_at is not None and failed_at - hi > window_ms:
                continue
            return Expand(0, i)
        path, prev, exhausted, failed_at = [t0], t0, False, None
        for k in range(1, n_steps):
            j, t = next_after(recs[k], lasts[k], prev, limit)
            if t == EXPAND:
                return Expand(k, j)
            if t == AMBIGUOUS:
                return None
            if t == EXHAUSTED:
                exhausted = True
                break
            if t - t0 > window_ms:
                failed_at = t
                break
            path.append(t)
            prev = t
        if len(path) > len(best):
            best = path
        if exhausted or len(best) == n_steps:
            break
    return best


@dataclass
class SummaryWalk:
    """The lead-day plan of one funnel: `raw_paths(fingerprints)` walks leads on raw rows."""

    conn: Connection
    app_id: str
    names: list[str]
    window_ms: int
    start: int
    end: int
    raw_paths: Callable[[Sequence[str]], dict[str, list[int]]]
    _entered: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        e = event_rows(self.conn, self.app_id, self.names[:1], self.start, self.end).subquery()
        self._entered = select(e.c.fp).distinct()

    def _entered_count(self) -> int:
        """Leads with a step-1 event in the range: from the daily presence of the step's
        event (growthkit.core.distinct) when the range holds a whole UTC day, else one
        grouping of its lead-day rows."""
        found = distinct_users_sessions(self.conn, ActivityFilter(
            self.app_id, self.names[:1], self.start, self.end))
        if found is not None:
            return found[0]
        return self.conn.execute(select(func.count()).select_from(self._entered.subquery())
                                 ).scalar_one()

    def _candidates(self) -> Select:
        """Leads with a step-2 event in reach (entered or not: the walk tells)."""
        later = event_rows(self.conn, self.app_id, self.names[1:2], self.start,
                           self.end + self.window_ms).subquery()
        return select(later.c.fp).distinct()

    def paths(self) -> Paths:
        conn, names = self.conn, self.names
        among = self._candidates()
        entered, candidates = self._entered_count(), conn.execute(among).scalars().all()
        per_lead: dict[str, list[list[Record]]] = {fp: [[] for _ in names] for fp in candidates}
        step_of = {name: k for k, name in enumerate(names)}
        for fp, name, first, last, n in day_records(conn, self.app_id, names, candidates, among,
                                                    self.start, self.end + self.window_ms):
            per_lead[fp][step_of[name]].append((first, last, n))
        for recs in per_lead.values():
            for step in recs:
                step.sort()
        walked: dict[str, list[int]] = {}
        unsure: list[str] = []
        pending = list(per_lead)
        for _ in range(ROUNDS):
            expand: dict[str, Expand] = {}
            for fp in pending:
                path = summary_path(per_lead[fp], self.window_ms, self.start, self.end)
                if path is None:
                    unsure.append(fp)
                elif isinstance(path, Expand):
                    expand[fp] = path
                elif path:
                    walked[fp] = path
            if not expand:
                break
            self._expand(per_lead, expand)
            pending = list(expand)
        else:
            unsure += pending
        for i in range(0, len(unsure), 1000):
            walked.update(self.raw_paths(unsure[i:i + 1000]))
        return Paths(entered, walked, lambda: self._rest(walked), self._entry_times)

    def _expand(self, per_lead: dict[str, list[list[Record]]],
                expand: dict[str, Expand]) -> None:
        """Replace each asked-for busy day's summary by one record per event."""
        keys = {}
        for fp, (k, i) in expand.items():
            first = per_lead[fp][k][i][0]
            keys[fp] = (fp, self.names[k], first - first % DAY_MS)
        events = day_events(self.conn, self.app_id, list(keys.values()))
        for fp, (k, i) in expand.items():
            per_lead[fp][k][i:i + 1] = [(t, t, 1) for t in events[keys[fp]]]

    def _rest(self, walked: dict[str, list[int]]) -> list[str]:
        return [r[0] for r in self.conn.execute(self._entered) if r[0] not in walked]

    def _entry_times(self, fingerprints: Sequence[str]) -> dict[str, int]:
        a = activities.c
        return dict(self.conn.execute(
            select(a.fingerprint_id, func.min(a.timestamp))
            .where(a.app_id == self.app_id, a.event_name == self.names[0],
                   a.fingerprint_id.in_(list(fingerprints)), a.timestamp >= self.start,
                   a.timestamp < self.end).group_by(a.fingerprint_id)).all())
