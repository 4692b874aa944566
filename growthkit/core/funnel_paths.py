"""Funnel paths from lead days: who entered a funnel and how far each lead got, without
reading every step event of a long range.

The matching rule is the funnel's (growthkit.core.funnel, `lead_path`); this module only
finds the same paths with less reading:
- the entered leads are those with a step-1 event in the range: counted over lead days
  (growthkit.core.lead_days, one row per lead and day) in SQL;
- a lead without a step-2 event in [start, end + window) stops at step 1, so only leads with
  both are walked, over their per-day (first, last, count) summaries of each step;
- a summary holds every event of a day with one or two events, and the first and last of
  busier days; when the walk would need an event between those two (or two events share a
  timestamp, where stored order decides), the lead is walked again on its raw rows.
Funnels with property conditions, or with an event name in two steps, read raw rows.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, intersect, select

from growthkit.core.lead_days import day_records, event_rows
from growthkit.core.schema import activities

AMBIGUOUS = -1  # next_after: the summaries cannot tell
EXHAUSTED = -2  # next_after: no event left within reach


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
    """Lead days know names and times only: no property conditions, one step per name."""
    names = [s.event_name for s in q.steps]
    return not q.conditions and not any(s.conditions for s in q.steps) and \
        len(set(names)) == len(names)


Record = tuple[int, int, int]  # (first_ts, last_ts, events) of one lead, name and UTC day


def next_after(recs: Sequence[Record], lasts: Sequence[int], prev: int, limit: int) -> int:
    """The step's first event after `prev` (and before `limit`), EXHAUSTED or AMBIGUOUS."""
    i = bisect_left(lasts, prev)
    if i == len(recs):
        return EXHAUSTED
    first, last, n = recs[i]
    if first > prev:
        t = first
    elif n == 2 and first < prev < last:
        t = last
    else:  # prev falls among events the summary does not hold, or on a tie
        return AMBIGUOUS
    return t if t < limit else EXHAUSTED


def entries(recs: Sequence[Record], start: int, end: int) -> Iterable[tuple[int, int | None]]:
    """Step-1 events in [start, end) in time order as (t, None), and (lo, hi) for spans of a
    busy day whose events the summary does not hold."""
    for first, last, n in recs:
        if first >= end:
            return
        if first >= start:
            yield first, None
        if n >= 3 and last >= start:
            yield first, last
        if n >= 2 and start <= last < end:
            yield last, None


def summary_path(recs: Sequence[Sequence[Record]], window_ms: int, start: int,
                 end: int) -> list[int] | None:
    """`lead_path` over one lead's per-step day records (sorted by day); None when the
    records cannot decide it."""
    n_steps = len(recs)
    lasts = [[r[1] for r in step] for step in recs]
    limit = end + window_ms
    best: list[int] = []
    failed_at: int | None = None  # the step event the previous entry could not reach in time
    for t0, hi in entries(recs[0], start, end):
        if hi is not None:
            # Unknown entries up to `hi`: their paths lie no earlier than the previous
            # entry's, so none gets further when the event it missed is a window past `hi`.
            if failed_at is not None and failed_at - hi > window_ms:
                continue
            return None
        path, prev, exhausted, failed_at = [t0], t0, False, None
        for k in range(1, n_steps):
            t = next_after(recs[k], lasts[k], prev, limit)
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

    def paths(self) -> Paths:
        conn, names = self.conn, self.names
        entered = conn.execute(select(func.count()).select_from(self._entered.subquery())
                               ).scalar_one()
        later = event_rows(conn, self.app_id, names[1:2], self.start,
                           self.end + self.window_ms).subquery()
        both = [r[0] for r in conn.execute(intersect(select(self._entered.subquery().c.fp),
                                                     select(later.c.fp)))]
        per_lead: dict[str, list[list[Record]]] = {fp: [[] for _ in names] for fp in both}
        step_of = {name: k for k, name in enumerate(names)}
        for fp, name, first, last, n in day_records(conn, self.app_id, names, both, self.start,
                                                    self.end + self.window_ms):
            per_lead[fp][step_of[name]].append((first, last, n))
        walked: dict[str, list[int]] = {}
        unsure = []
        for fp, recs in per_lead.items():
            for step in recs:
                step.sort()
            path = summary_path(recs, self.window_ms, self.start, self.end)
            if path is None:
                unsure.append(fp)
            elif path:
                walked[fp] = path
        for i in range(0, len(unsure), 1000):
            walked.update(self.raw_paths(unsure[i:i + 1000]))
        return Paths(entered, walked, lambda: self._rest(walked), self._entry_times)

    def _rest(self, walked: dict[str, list[int]]) -> list[str]:
        return [r[0] for r in self.conn.execute(self._entered) if r[0] not in walked]

    def _entry_times(self, fingerprints: Sequence[str]) -> dict[str, int]:
        a = activities.c
        return dict(self.conn.execute(
            select(a.fingerprint_id, func.min(a.timestamp))
            .where(a.app_id == self.app_id, a.event_name == self.names[0],
                   a.fingerprint_id.in_(list(fingerprints)), a.timestamp >= self.start,
                   a.timestamp < self.end).group_by(a.fingerprint_id)).all())
