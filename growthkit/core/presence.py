"""Daily presence: which leads and sessions were active on which UTC day, and the "steps"
between a key's consecutive days, kept from the rollup watermark (never at ingest).

For each app, kind ('u': fingerprint, 's': session) and event name ('*': any event),
`presence_days` holds one row per key and day it was present, and `presence_steps` counts
the keys present on `day` whose previous day present was `prev_day` (NO_DAY: none). Every
key present somewhere in whole days [d1, d2) has exactly one day there whose previous day
is before d1 (its first one), so the number of distinct keys is

    sum(present) over presence_steps where d1 <= day < d2 and prev_day < d1

— a few thousand rows for any range, whatever the number of events (growthkit/core/
distinct.py adds the partial days at the edges).

Adding or removing a key's day changes only that key's steps: (p, n) becomes (p, d), (d, n)
when d is added between p and n. Late events (old timestamps, new seq) therefore fit in
exactly; the steps of the keys a change touches are recomputed from their days.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from sqlalchemy import Connection, and_, bindparam, delete, or_, select

from growthkit.core.schema import activities, presence_days, presence_steps
from growthkit.core.store import insert
from growthkit.core.timezones import DAY_MS

NO_DAY = -(2**62)  # prev_day of a key's first day
ALL = "*"  # any event (not a valid event name)
USERS, SESSIONS = "u", "s"
KEY_BATCH = 500  # keys per lookup of their stored days

Group = tuple[str, str, str, str]  # app_id, kind, key, event_name


def _touched(conn: Connection, where: Iterable) -> dict[Group, set[int]]:
    """Per (app, kind, key, event name): the UTC days of the activities matching `where`."""
    c = activities.c
    day = ((c.timestamp // DAY_MS) * DAY_MS).label("day")
    rows = conn.execute(select(c.app_id, c.event_name, c.fingerprint_id, c.session_id, day)
                        .where(*where).distinct())
    out: dict[Group, set[int]] = defaultdict(set)
    for app_id, name, fp, session, d in rows:
        for kind, key in ((USERS, fp), (SESSIONS, session)):
            out[(app_id, kind, key, ALL)].add(int(d))
            out[(app_id, kind, key, name)].add(int(d))
    return out


def _stored(conn: Connection, groups: Iterable[Group]) -> dict[Group, set[int]]:
    """The stored days of each group (looked up by key, all its event names at once)."""
    by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    for app_id, kind, key, _ in groups:
        by_key[(app_id, kind)].add(key)
    p = presence_days.c
    out: dict[Group, set[int]] = defaultdict(set)
    for (app_id, kind), keys in by_key.items():
        keys = sorted(keys)
        for i in range(0, len(keys), KEY_BATCH):
            for key, name, d in conn.execute(
                    select(p.key, p.event_name, p.day).where(
                        p.app_id == app_id, p.kind == kind,
                        p.key.in_(keys[i:i + KEY_BATCH]))):
                out[(app_id, kind, key, name)].add(int(d))
    return out


def _steps(days: Iterable[int]) -> list[tuple[int, int]]:
    ordered = sorted(days)
    return list(zip([NO_DAY, *ordered], ordered, strict=False))


def _apply(conn: Connection, changes: dict[Group, set[int]], adding: bool) -> None:
    """Add (or remove) the given days of each group, keeping presence_steps in step."""
    if not changes:
        return
    stored = _stored(conn, changes)
    delta: Counter = Counter()
    new_rows, gone_rows = [], []
    for group, days in changes.items():
        old = stored.get(group, set())
        new = old | days if adding else old - days
        if new == old:
            continue
        app_id, kind, _key, name = group
        for prev, day in _steps(old):
            delta[(app_id, kind, name, day, prev)] -= 1
        for prev, day in _steps(new):
            delta[(app_id, kind, name, day, prev)] += 1
        rows = new_rows if adding else gone_rows
        rows.extend({"app_id": app_id, "kind": kind, "key": group[2], "event_name": name,
                     "day": d} for d in (new - old if adding else old - new))
    p = presence_days.c
    for i in range(0, len(new_rows), 1000):
        conn.execute(insert(conn, presence_days).on_conflict_do_nothing(), new_rows[i:i + 1000])
    for i in range(0, len(gone_rows), 1000):
        conn.execute(delete(presence_days).where(
            p.app_id == bindparam("a"), p.kind == bindparam("k"), p.key == bindparam("y"),
            p.event_name == bindparam("n"), p.day == bindparam("d")),
            [{"a": r["app_id"], "k": r["kind"], "y": r["key"], "n": r["event_name"],
              "d": r["day"]} for r in gone_rows[i:i + 1000]])
    changed = [{"app_id": a, "kind": k, "event_name": n, "day": d, "prev_day": pd, "present": v}
               for (a, k, n, d, pd), v in delta.items() if v]
    stmt = insert(conn, presence_steps)
    stmt = stmt.on_conflict_do_update(
        index_elements=[presence_steps.c.app_id, presence_steps.c.kind,
                        presence_steps.c.event_name, presence_steps.c.day,
                        presence_steps.c.prev_day],
        set_={"present": presence_steps.c.present + stmt.excluded.present})
    for i in range(0, len(changed), 1000):
        conn.execute(stmt, changed[i:i + 1000])
    emptied = [r for r in changed if r["present"] < 0]
    s = presence_steps.c
    for i in range(0, len(emptied), 200):
        conn.execute(delete(presence_steps).where(s.present == 0, or_(*(
            and_(s.app_id == r["app_id"], s.kind == r["kind"], s.event_name == r["event_name"],
                 s.day == r["day"], s.prev_day == r["prev_day"])
            for r in emptied[i:i + 200]))))


def add_presence(conn: Connection, *where) -> None:  # noqa: ANN002
    """Count the activities matching `where` into the daily presence (called with the
    rows the rollup watermark passes over, in the same transaction)."""
    _apply(conn, _touched(conn, where), adding=True)


def remove_days(conn: Connection, app_id: str, start: int, end: int) -> None:
    """Forget the presence of whole UTC days [start, end) of one app, before their
    activities are deleted (retention); the days must be fully rolled up."""
    c = activities.c
    _apply(conn, _touched(conn, [c.app_id == app_id, c.timestamp >= start, c.timestamp < end]),
           adding=False)
