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

Changes are applied set-based like the daily presence: the touched windows (of every shift,
the changed ones and the next present window of the same hour of the week after each) go
into a temporary table, their steps are subtracted, presence_quarters changes, and their
steps are added back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    delete,
    func,
    literal_column,
    select,
    tuple_,
    union,
)

from growthkit.core.presence import scratch
from growthkit.core.schema import activities, presence_hour_steps, presence_quarters
from growthkit.core.store import insert
from growthkit.core.timezones import HOUR_MS, WEEK_MS

QUARTER_MS = 15 * 60 * 1000
SHIFTS = (0, QUARTER_MS, 2 * QUARTER_MS, 3 * QUARTER_MS)
NO_BUCKET = -(2**62)
KEY_BATCH = 500

# The (lead, shift, window) rows one change touches (per connection; emptied before use).
touched = Table(
    "presence_hour_touched", MetaData(),
    Column("key", String(128), primary_key=True),
    Column("app_id", String(40), primary_key=True),
    Column("shift", BigInteger, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS",
)


def window(ms, shift):  # noqa: ANN001, ANN201 (ints, or SQL expressions of them)
    """Start of the hour window of `shift` holding `ms`."""
    return (ms - shift) // HOUR_MS * HOUR_MS + shift


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


def _stored(t, *where) -> tuple:  # noqa: ANN001, ANN002
    """The touched lead's quarters in windows of the touched one's hour of the week."""
    p = presence_quarters.c
    return (p.key == t.key, p.app_id == t.app_id,
            window(p.bucket, t.shift) % WEEK_MS == t.bucket % WEEK_MS, *where)


def _touch(conn: Connection, where: tuple) -> None:
    """The windows of every shift holding the activities matching `where`, and the next
    present window of the same hour of the week after each."""
    scratch(conn, touched)
    c, t, p = activities.c, touched.c, presence_quarters.c
    own = union(*(select(c.fingerprint_id, c.app_id, literal_column(str(shift)),
                         window(c.timestamp, shift)).where(*where) for shift in SHIFTS))
    conn.execute(touched.insert().from_select(["key", "app_id", "shift", "bucket"], own))
    nxt = select(func.min(p.bucket)).where(
        *_stored(t, p.bucket >= t.bucket + HOUR_MS)).scalar_subquery()
    later = select(t.key, t.app_id, t.shift, window(nxt, t.shift).label("bucket")).subquery()
    conn.execute(insert(conn, touched).from_select(
        ["key", "app_id", "shift", "bucket"],
        select(later).where(later.c.bucket.is_not(None)).distinct()).on_conflict_do_nothing())


def _count_steps(conn: Connection, sign: int) -> None:
    """Add `sign` times the steps of the touched windows that are present now."""
    t, p, s = touched.c, presence_quarters.c, presence_hour_steps.c
    latest = select(func.max(p.bucket)).where(
        *_stored(t, p.bucket < t.bucket + HOUR_MS)).scalar_subquery()
    prev = select(func.max(p.bucket)).where(*_stored(t, p.bucket < t.bucket)).scalar_subquery()
    rows = select(t.app_id, t.shift, t.bucket,
                  func.coalesce(window(prev, t.shift), NO_BUCKET).label("prev_bucket")
                  ).where(latest >= t.bucket).subquery()
    steps = select(rows, (func.count() * sign).label("present")).group_by(*rows.c)
    stmt = insert(conn, presence_hour_steps).from_select([*rows.c.keys(), "present"], steps)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[s.app_id, s.shift, s.bucket, s.prev_bucket],
        set_={"present": s.present + stmt.excluded.present}))


def _change(conn: Connection, where: tuple, gone: tuple[int, int] | None = None) -> None:
    """Add the quarters of the activities matching `where` (or, with `gone` = [start,
    end), remove them), keeping presence_hour_steps in step."""
    c, t, p, s = activities.c, touched.c, presence_quarters.c, presence_hour_steps.c
    _touch(conn, where)
    _count_steps(conn, -1)
    if gone is None:
        quarters = select(c.fingerprint_id, c.app_id,
                          (c.timestamp // QUARTER_MS) * QUARTER_MS).where(*where).distinct()
        conn.execute(insert(conn, presence_quarters).from_select(
            ["key", "app_id", "bucket"], quarters).on_conflict_do_nothing())
    else:
        conn.execute(delete(presence_quarters).where(
            tuple_(p.key, p.app_id).in_(select(t.key, t.app_id).distinct()),
            p.bucket >= gone[0], p.bucket < gone[1]))
    _count_steps(conn, 1)
    conn.execute(delete(presence_hour_steps).where(
        s.present == 0,
        tuple_(s.app_id, s.shift, s.bucket).in_(select(t.app_id, t.shift, t.bucket).distinct())))


def add_weekly_presence(conn: Connection, *where) -> None:  # noqa: ANN002
    """Count the activities matching `where` in (the rows the watermark passes over)."""
    _change(conn, where)


def remove_weekly_days(conn: Connection, app_id: str, start: int, end: int) -> None:
    """Forget [start, end) of one app (whole quarters) before retention deletes its rows."""
    c = activities.c
    _change(conn, (c.app_id == app_id, c.timestamp >= start, c.timestamp < end),
            gone=(start, end))
