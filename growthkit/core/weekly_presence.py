"""Weekly presence: which leads were active in which 15 minutes, and per hour of the week
how many came back after which earlier week — exact users-heatmap cells without a
distinct over rows, kept from the rollup watermark like growthkit/core/presence.py.

A heatmap cell (local weekday and hour) over a range with one UTC offset is one UTC
"hour of the week": the windows [w, w + 1 h) with w = shift + k hours, shift = -offset mod
1 h (0, 15, 30 or 45 minutes: every zone in use), w congruent modulo a week. For each
shift `presence_hour_steps` counts, per window, the leads active in it whose previous
active window of the same hour of the week was `prev_bucket` (NO_BUCKET: none), so the
distinct leads of a cell over whole windows [lo, hi) are the rows with lo <= bucket < hi
and prev_bucket < lo. `presence_quarters` holds the leads' 15-minute buckets the windows
of every shift are made of (and that edge keys are checked against).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from sqlalchemy import Connection, and_, bindparam, delete, or_, select

from growthkit.core.schema import activities, presence_hour_steps, presence_quarters
from growthkit.core.store import insert
from growthkit.core.timezones import HOUR_MS, WEEK_MS

QUARTER_MS = 15 * 60 * 1000
SHIFTS = (0, QUARTER_MS, 2 * QUARTER_MS, 3 * QUARTER_MS)
NO_BUCKET = -(2**62)
KEY_BATCH = 500


def window(ms: int, shift: int) -> int:
    """Start of the hour window of `shift` holding `ms`."""
    return (ms - shift) // HOUR_MS * HOUR_MS + shift


def _touched(conn: Connection, where: Iterable) -> dict[tuple[str, str], set[int]]:
    c = activities.c
    quarter = ((c.timestamp // QUARTER_MS) * QUARTER_MS).label("q")
    out: dict[tuple[str, str], set[int]] = defaultdict(set)
    for app_id, fp, q in conn.execute(select(c.app_id, c.fingerprint_id, quarter)
                                      .where(*where).distinct()):
        out[(app_id, fp)].add(int(q))
    return out


def quarters_of(conn: Connection, app_id: str, keys: Iterable[str], lo: int | None = None,
                hi: int | None = None) -> dict[str, set[int]]:
    """The stored quarters of each lead (within [lo, hi) when given)."""
    p = presence_quarters.c
    keys = sorted(set(keys))
    out: dict[str, set[int]] = defaultdict(set)
    for i in range(0, len(keys), KEY_BATCH):
        where = [p.app_id == app_id, p.key.in_(keys[i:i + KEY_BATCH])]
        if lo is not None:
            where += [p.bucket >= lo, p.bucket < hi]
        for key, q in conn.execute(select(p.key, p.bucket).where(*where)):
            out[key].add(int(q))
    return out


def _chain_steps(windows: Iterable[int]) -> list[tuple[int, int]]:
    ordered = sorted(windows)
    return list(zip([NO_BUCKET, *ordered], ordered, strict=False))


def _delta(old: set[int], new: set[int], changed: set[int]) -> Counter:
    """Step changes of one lead, for the hours of the week its changed quarters touch."""
    out: Counter = Counter()
    for shift in SHIFTS:
        classes = {window(q, shift) % WEEK_MS for q in changed}
        for quarters, sign in ((old, -1), (new, 1)):
            chains: dict[int, set[int]] = defaultdict(set)
            for q in quarters:
                w = window(q, shift)
                if w % WEEK_MS in classes:
                    chains[w % WEEK_MS].add(w)
            for chain in chains.values():
                for prev, w in _chain_steps(chain):
                    out[(shift, w, prev)] += sign
    return out


def _apply(conn: Connection, changes: dict[tuple[str, str], set[int]], adding: bool) -> None:
    by_app: dict[str, list[str]] = defaultdict(list)
    for app_id, key in changes:
        by_app[app_id].append(key)
    delta: Counter = Counter()
    new_rows, gone_rows = [], []
    for app_id, keys in by_app.items():
        stored = quarters_of(conn, app_id, keys)
        for key in keys:
            old = stored.get(key, set())
            new = old | changes[(app_id, key)] if adding else old - changes[(app_id, key)]
            changed = new ^ old
            if not changed:
                continue
            for (shift, w, prev), n in _delta(old, new, changed).items():
                delta[(app_id, shift, w, prev)] += n
            (new_rows if adding else gone_rows).extend(
                {"app_id": app_id, "key": key, "bucket": q} for q in changed)
    p = presence_quarters.c
    for i in range(0, len(new_rows), 1000):
        conn.execute(insert(conn, presence_quarters).on_conflict_do_nothing(),
                     new_rows[i:i + 1000])
    for i in range(0, len(gone_rows), 1000):
        conn.execute(delete(presence_quarters).where(
            p.app_id == bindparam("a"), p.key == bindparam("k"), p.bucket == bindparam("b")),
            [{"a": r["app_id"], "k": r["key"], "b": r["bucket"]} for r in gone_rows[i:i + 1000]])
    s = presence_hour_steps.c
    rows = [{"app_id": a, "shift": sh, "bucket": w, "prev_bucket": pw, "present": n}
            for (a, sh, w, pw), n in delta.items() if n]
    stmt = insert(conn, presence_hour_steps)
    stmt = stmt.on_conflict_do_update(
        index_elements=[s.app_id, s.shift, s.bucket, s.prev_bucket],
        set_={"present": s.present + stmt.excluded.present})
    for i in range(0, len(rows), 1000):
        conn.execute(stmt, rows[i:i + 1000])
    emptied = [r for r in rows if r["present"] < 0]
    for i in range(0, len(emptied), 200):
        conn.execute(delete(presence_hour_steps).where(s.present == 0, or_(*(
            and_(s.app_id == r["app_id"], s.shift == r["shift"], s.bucket == r["bucket"],
                 s.prev_bucket == r["prev_bucket"]) for r in emptied[i:i + 200]))))


def add_weekly_presence(conn: Connection, *where) -> None:  # noqa: ANN002
    """Count the activities matching `where` in (the rows the watermark passes over)."""
    _apply(conn, _touched(conn, where), adding=True)


def remove_weekly_days(conn: Connection, app_id: str, start: int, end: int) -> None:
    """Forget [start, end) of one app (whole quarters) before retention deletes its rows."""
    c = activities.c
    _apply(conn, _touched(conn, [c.app_id == app_id, c.timestamp >= start,
                                 c.timestamp < end]), adding=False)
