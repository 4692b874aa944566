"""Rollups: event counts per hour and per 15 minutes kept up to date from a seq watermark,
and the query plans that combine them with raw rows so counts stay fast and exact.

`rollup_hourly` and `rollup_counts` hold, per app, event name and UTC hour / 15-minute
bucket, the number of events; `rollup_presence` (and `_15m`) which fingerprints and
sessions were active in each UTC hour / 15 minutes (distinct counts cannot be added up, so
they are counted over these).
`refresh_rollups` adds activities with seq above the watermark (never touching the ingest
path). A query over [start, end) then reads whole buckets inside the range from a rollup,
plus raw rows for the partial buckets at the edges and for rows not yet rolled up
(seq > watermark). Late events (old timestamps, new seq) are therefore counted exactly.

Why two sizes of counts: a UTC bucket can be re-bucketed into local hours, days and weeks only if it
lies inside one local hour. For zones whose offsets are whole hours (most) UTC hours do;
the 15-minute buckets serve zones such as Asia/Kathmandu (+05:45) or India (+05:30): every
zone in use has an offset that is a multiple of 15 minutes and changes it on a 15-minute
boundary. Zones or periods with other offsets (historic local mean time) fall back to raw
rows (`aligned`).

Run `refresh_rollups` before timing queries on a fresh store (benchmarks): until it has
run, every count reads raw rows (correct, only slower).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Subquery,
    func,
    literal,
    select,
    union_all,
    update,
)

from growthkit.core.clock import now_ms
from growthkit.core.errors import QueryError
from growthkit.core.filters import ActivityFilter
from growthkit.core.lead_days import add_days
from growthkit.core.presence import add_presence
from growthkit.core.schema import (
    activities,
    retention_state,
    rollup_counts,
    rollup_hourly,
    rollup_presence,
    rollup_presence_15m,
    rollup_state,
)
from growthkit.core.store import insert, write_connection
from growthkit.core.timezones import HOUR_MS, offsets
from growthkit.core.weekly_presence import add_weekly_presence

QUARTER_MS = 15 * 60 * 1000
STATE = "counts"
# PostgreSQL hands out seq values at insert time but commits in any order, so rows below
# the newest visible seq may still be in flight. The watermark only advances to a max(seq)
# seen at least this long ago: by then every transaction that held a lower seq has ended
# (ingest writes time out after a few seconds). SQLite has one writer at a time: no wait.
SETTLE_MS = 20_000
# Rows per refresh transaction: on SQLite each holds the write lock (ingest waits), so short.
CHUNK_ROWS = 20_000
# Below this many unrolled rows, read them by seq (a short primary-key range) rather than
# through the time index: that keeps the "not yet rolled up" part cheap at any range.
TAIL_BY_SEQ_ROWS = 200_000


def floor_to(ms: int, unit: int) -> int:
    return ms - ms % unit


def ceil_to(ms: int, unit: int) -> int:
    return -((-ms) // unit) * unit


def closed(flt: ActivityFilter) -> None:
    """Counting needs a closed range: QueryError when `from` or `to` is open (see `span`)."""
    if flt.start is None or flt.end is None:
        raise QueryError("from", "this count needs a range with both from and to")


def rollup_usable(flt: ActivityFilter) -> bool:
    """Rollups know app, event name and time only; other filters need raw rows."""
    return not (flt.fingerprint or flt.session_id or flt.conditions or flt.search)


def aligned(tz: ZoneInfo | None, start: int, end: int, unit: int) -> bool:
    """True when the zone's offsets and their changes over the range fall on `unit` ms."""
    if tz is None:
        return True
    return all((i == 0 or t % unit == 0) and off % unit == 0
               for i, (t, off) in enumerate(offsets(tz, start, end)))


def watermark(conn: Connection) -> int:
    seq = conn.execute(select(rollup_state.c.seq).where(rollup_state.c.name == STATE)).scalar()
    return int(seq or 0)


def rolled_until(conn: Connection, app_id: str) -> int:
    """Events before this time were rolled into daily aggregates and deleted (0: none)."""
    value = conn.execute(select(retention_state.c.rolled_until)
                         .where(retention_state.c.app_id == app_id)).scalar()
    return int(value or 0)


def max_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.max(activities.c.seq))).scalar() or 0)


@dataclass
class CountRows:
    """A subquery of (ts, event_name, n) rows whose sums are the filter's event counts."""

    rows: Subquery
    start: int
    end: int
    rolled_until: int

    @property
    def source(self) -> str:
        return source_of(self.start, self.end, self.rolled_until)


def source_of(start: int, end: int, rolled: int) -> str:
    """'events' (stored events), 'rollup' (all before the retention cut), or 'partial'."""
    if rolled <= start:
        return "events"
    return "rollup" if end <= rolled else "partial"


def span(conn: Connection, flt: ActivityFilter) -> tuple[int, int] | None:
    """The filter's [start, end); open ends are closed on stored rows and rollups."""
    if flt.start is not None and flt.end is not None:
        return flt.start, flt.end
    lo, hi = conn.execute(select(func.min(activities.c.timestamp),
                                 func.max(activities.c.timestamp)).where(flt.where())).one()
    if rollup_usable(flt):
        rc = rollup_counts.c
        where = [rc.app_id == flt.app_id]
        if flt.event_names:
            where.append(rc.event_name.in_(flt.event_names))
        rlo, rhi = conn.execute(select(func.min(rc.bucket), func.max(rc.bucket))
                                .where(*where)).one()
        if rlo is not None:
            lo = rlo if lo is None else min(lo, rlo)
            hi = rhi + QUARTER_MS - 1 if hi is None else max(hi, rhi + QUARTER_MS - 1)
    if lo is None:
        return None
    return (flt.start if flt.start is not None else int(lo),
            flt.end if flt.end is not None else int(hi) + 1)


def _count_columns() -> list:
    c = activities.c
    return [c.timestamp.label("ts"), c.event_name.label("event_name"), literal(1).label("n")]


def _user_columns() -> list:
    c = activities.c
    return [c.timestamp.label("ts"), c.fingerprint_id.label("fingerprint_id"),
            c.session_id.label("session_id")]


def _with_raw(conn: Connection, flt: ActivityFilter, lo: int, hi: int, rolled_part: Select,
              columns: Callable[[], list], name: str) -> Subquery:
    """`rolled_part` (whole buckets in [lo, hi)) plus the raw rows it does not hold: the
    partial buckets at the range's edges and the rows above the watermark."""
    closed(flt)
    parts: list[Select] = [rolled_part]
    # Each edge slice gets its own bounds, so the time index is used for exactly that slice.
    if flt.start < lo:
        parts.append(select(*columns()).where(replace(flt, end=lo).where()))
    if hi < flt.end:
        parts.append(select(*columns()).where(replace(flt, start=hi).where()))
    parts.append(unrolled(conn, flt, lo, hi, columns))
    return union_all(*parts).subquery(name)


def unrolled(conn: Connection, flt: ActivityFilter, lo: int, hi: int,
             columns: Callable[[], list]) -> Select:
    """The filter's rows in [lo, hi) that the rollups do not hold yet (seq > watermark)."""
    c = activities.c
    w = watermark(conn)
    if max_seq(conn) - w <= TAIL_BY_SEQ_ROWS:
        # `|| ''` and `+ 0` keep the planner off the time/name indexes: read by seq instead.
        names = [c.event_name.concat("").in_(flt.event_names)] if flt.event_names else []
        return select(*columns()).where(
            c.seq > w, c.app_id.concat("") == flt.app_id, (c.timestamp + 0) >= lo,
            (c.timestamp + 0) < hi, *names)
    inner = ActivityFilter(flt.app_id, list(flt.event_names), lo, hi)
    return select(*columns()).where(inner.where(), c.seq > w)


def count_rows(conn: Connection, flt: ActivityFilter, tz: ZoneInfo | None = None) -> CountRows:
    """Rows to sum for the filter's event counts (rollup where it can, raw rows elsewhere).

    `tz`: the zone the caller will bucket in; it picks the hourly or the 15-minute rollup
    (or raw rows). The filter must have start and end (see `span`).
    """
    closed(flt)
    start, end = flt.start, flt.end
    rolled = rolled_until(conn, flt.app_id)
    table, unit = None, QUARTER_MS
    if rollup_usable(flt):
        for size, candidate in ((HOUR_MS, rollup_hourly), (QUARTER_MS, rollup_counts)):
            if aligned(tz, start, end, size):
                table, unit = candidate, size
                break
    lo, hi = ceil_to(start, unit), floor_to(end, unit)
    if table is None or lo >= hi:
        raw = select(*_count_columns()).where(flt.where()).subquery("counted")
        return CountRows(raw, start, end, rolled)
    rc = table.c
    rolled_part = select(rc.bucket.label("ts"), rc.event_name.label("event_name"),
                         rc.events.label("n")).where(
        rc.app_id == flt.app_id, rc.bucket >= lo, rc.bucket < hi,
        *([rc.event_name.in_(flt.event_names)] if flt.event_names else []))
    return CountRows(_with_raw(conn, flt, lo, hi, rolled_part, _count_columns, "counted"),
                     start, end, rolled)


def user_rows(conn: Connection, flt: ActivityFilter, tz: ZoneInfo | None = None) -> Subquery:
    """(ts, fingerprint_id, session_id) rows whose distinct values are the filter's users
    and sessions: the hourly or 15-minute presence rollup (by `tz`, like `count_rows`) where
    it can, raw rows elsewhere. Presence knows no event names: `eventName` reads raw rows.
    """
    closed(flt)
    table, unit = None, QUARTER_MS
    if rollup_usable(flt) and not flt.event_names:
        for size, candidate in ((HOUR_MS, rollup_presence), (QUARTER_MS, rollup_presence_15m)):
            if aligned(tz, flt.start, flt.end, size):
                table, unit = candidate, size
                break
    lo, hi = ceil_to(flt.start, unit), floor_to(flt.end, unit)
    if table is None or lo >= hi:
        return select(*_user_columns()).where(flt.where()).subquery("users")
    rp = table.c
    rolled_part = select(rp.bucket.label("ts"), rp.fingerprint_id, rp.session_id).where(
        rp.app_id == flt.app_id, rp.bucket >= lo, rp.bucket < hi)
    return _with_raw(conn, flt, lo, hi, rolled_part, _user_columns, "users")


@dataclass
class RefreshResult:
    rows: int
    watermark: int


def _lock_state(conn: Connection) -> tuple[int, int | None, int | None]:
    """Read (and on PostgreSQL lock) the watermark row, creating it on first use."""
    conn.execute(insert(conn, rollup_state).values(name=STATE, seq=0)
                 .on_conflict_do_nothing(index_elements=[rollup_state.c.name]))
    row = conn.execute(select(rollup_state.c.seq, rollup_state.c.pending_seq,
                              rollup_state.c.pending_at)
                       .where(rollup_state.c.name == STATE).with_for_update()).one()
    return int(row.seq), row.pending_seq, row.pending_at


def add_counts(conn: Connection, *where) -> int:  # noqa: ANN002
    """Add the activities matching `where` into the rollups and lead days; returns how
    many rows. Each table is one INSERT ... SELECT in the store (no rows through Python)."""
    c = activities.c
    rows = conn.execute(select(func.count()).where(*where)).scalar_one()
    if not rows:
        return 0
    for table, size in ((rollup_counts, QUARTER_MS), (rollup_hourly, HOUR_MS)):
        bucket = (c.timestamp // size) * size
        grouped = (select(c.app_id, bucket.label("bucket"), c.event_name,
                          func.count().label("events"))
                   .where(*where).group_by(c.app_id, bucket, c.event_name))
        stmt = insert(conn, table).from_select(["app_id", "bucket", "event_name", "events"],
                                               grouped)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.app_id, table.c.bucket, table.c.event_name],
            set_={"events": table.c.events + stmt.excluded.events}))
    for table, size in ((rollup_presence, HOUR_MS), (rollup_presence_15m, QUARTER_MS)):
        bucket = ((c.timestamp // size) * size).label("bucket")
        present = (select(c.app_id, bucket, c.fingerprint_id, c.session_id).where(*where)
                   .group_by(c.app_id, bucket, c.fingerprint_id, c.session_id))
        conn.execute(insert(conn, table)
                     .from_select(["app_id", "bucket", "fingerprint_id", "session_id"], present)
                     .on_conflict_do_nothing())
    add_days(conn, *where)
    add_presence(conn, *where)
    add_weekly_presence(conn, *where)
    return int(rows)


def _target(conn: Connection, settle_ms: int) -> int:
    """How far the watermark may advance now (see SETTLE_MS); records a new pending seq."""
    seq, pending_seq, pending_at = _lock_state(conn)
    top = max_seq(conn)
    if settle_ms <= 0:
        return top
    now = now_ms()
    settled = pending_seq is not None and pending_at is not None and \
        now - pending_at >= settle_ms
    if pending_seq is None or pending_at is None or settled:
        # Start waiting on what is visible now; a settled observation is used up here.
        conn.execute(update(rollup_state).where(rollup_state.c.name == STATE)
                     .values(pending_seq=top, pending_at=now))
    return max(seq, int(pending_seq)) if settled else seq


def refresh_rollups(engine: Engine, *, settle_ms: int | None = None,
                    chunk: int | Callable[[], int] = CHUNK_ROWS,
                    progress: Callable[[int, int], None] | None = None,
                    upto: int | None = None,
                    turn: Callable[[], AbstractContextManager] = nullcontext) -> RefreshResult:
    """Roll activities above the watermark into the rollups, in chunks of `chunk` seqs
    (or of `chunk()`, asked before each chunk).

    Each chunk is its own short write transaction that re-reads the locked watermark, so
    several processes may run this at once without counting a row twice. `settle_ms`
    defaults to 0 on SQLite and SETTLE_MS on PostgreSQL (pass 0 when nothing is writing).
    `progress(done_seq, target_seq)` is called after each chunk. `upto`: roll no row above
    this seq (a copy of a store knows which of its rows may still get lower neighbours).
    `turn()` is held around each chunk's transaction (the server's writers take turns on
    SQLite through it: growthkit.server.writer.WriteTurn).
    """
    if settle_ms is None:
        settle_ms = 0 if engine.dialect.name == "sqlite" else SETTLE_MS
    with write_connection(engine) as conn:
        with conn.begin():
            target = _target(conn, settle_ms)
        if upto is not None:
            target = min(target, upto)
        total = 0
        while True:
            with turn(), conn.begin():
                seq, _, _ = _lock_state(conn)
                hi = min(seq + (chunk() if callable(chunk) else chunk), target)
                if hi <= seq:
                    return RefreshResult(total, seq)
                total += add_counts(conn, activities.c.seq > seq, activities.c.seq <= hi)
                conn.execute(update(rollup_state).where(rollup_state.c.name == STATE)
                             .values(seq=hi))
            if progress:
                progress(hi, target)


def lower_watermark(conn: Connection) -> None:
    """After deleting activities: keep the watermark at or below the newest stored seq.

    SQLite reuses rowids above the largest remaining one, so a watermark left above it
    would skip the next inserted rows.
    """
    top = max_seq(conn)
    st = rollup_state.c
    conn.execute(update(rollup_state).where(st.name == STATE, st.seq > top).values(seq=top))
    conn.execute(update(rollup_state).where(st.name == STATE, st.pending_seq > top)
                 .values(pending_seq=top))
