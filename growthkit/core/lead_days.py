"""Lead days: per app, event name, UTC day and lead, how many events and the first and last
time; and per lead and session the last event's time. Kept from the rollup watermark
(refresh_rollups), never at ingest.

Funnels and "did X" segment rules ask which leads did an event in a range: over whole days
that is a scan of these rows (one per lead and day, not one per event), plus raw rows for
the partial days at the range's edges and for events above the watermark (`event_rows`),
so the answers stay exact with late and out-of-order events. A lead's details count its
events by name and its sessions from here too (`lead_event_counts`, `lead_session_count`).
The same events summed per lead and day whatever their names (lead_day_totals) give each
lead's events over a window (`lead_totals`: power users). Retention deletes a day's rows
with the day's events (`forget_day`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, func, literal, select, union, union_all

from growthkit.core.schema import activities, lead_day_totals, lead_event_days, lead_sessions
from growthkit.core.store import insert, plain_rows
from growthkit.core.timezones import DAY_MS

# Below this many rows above the watermark, read them by seq (a short primary-key range).
TAIL_BY_SEQ_ROWS = 200_000


def _upsert_from(conn: Connection, table, rows: Select, keys: list[str], set_) -> None:  # noqa: ANN001
    """INSERT the grouped `rows` into `table`, merged into existing rows by `set_(t, new)`:
    one statement in the store, no rows through Python."""
    stmt = insert(conn, table).from_select(list(rows.selected_columns.keys()), rows)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys],
                                      set_=set_(table.c, stmt.excluded))
    conn.execute(stmt)


def add_days(conn: Connection, *where) -> None:  # noqa: ANN002
    """Add the activities matching `where` (a seq range) into lead_event_days,
    lead_day_totals and lead_sessions."""
    c = activities.c
    day = (c.timestamp // DAY_MS) * DAY_MS
    least, greatest = ((func.least, func.greatest) if conn.dialect.name == "postgresql"
                       else (func.min, func.max))
    _upsert_from(conn, lead_event_days, select(
        c.app_id, c.event_name, day.label("day"), c.fingerprint_id,
        func.count().label("events"), func.min(c.timestamp).label("first_ts"),
        func.max(c.timestamp).label("last_ts"))
        .where(*where).group_by(c.app_id, c.event_name, day, c.fingerprint_id),
        ["app_id", "event_name", "day", "fingerprint_id"],
        lambda t, new: {"events": t.events + new.events,
                        "first_ts": least(t.first_ts, new.first_ts),
                        "last_ts": greatest(t.last_ts, new.last_ts)})
    _upsert_from(conn, lead_day_totals, select(
        c.app_id, day.label("day"), c.fingerprint_id, func.count().label("events"),
        func.max(c.timestamp).label("last_ts"))
        .where(*where).group_by(c.app_id, day, c.fingerprint_id),
        ["app_id", "day", "fingerprint_id"],
        lambda t, new: {"events": t.events + new.events,
                        "last_ts": greatest(t.last_ts, new.last_ts)})
    _upsert_from(conn, lead_sessions, select(
        c.app_id, c.fingerprint_id, c.session_id, func.max(c.timestamp).label("last_ts"))
        .where(*where).group_by(c.app_id, c.fingerprint_id, c.session_id),
        ["app_id", "fingerprint_id", "session_id"],
        lambda t, new: {"last_ts": greatest(t.last_ts, new.last_ts)})


def forget_day(conn: Connection, app_id: str, day: int) -> None:
    """Retention deleted the UTC day's events (and every earlier day's): its lead days go,
    and the sessions that had no later event."""
    t, s = lead_event_days.c, lead_sessions.c
    conn.execute(lead_event_days.delete().where(t.app_id == app_id, t.day >= day,
                                                t.day < day + DAY_MS))
    d = lead_day_totals.c
    conn.execute(lead_day_totals.delete().where(d.app_id == app_id, d.day >= day,
                                                d.day < day + DAY_MS))
    conn.execute(lead_sessions.delete().where(s.app_id == app_id, s.last_ts < day + DAY_MS))


def _lead_tail(conn: Connection, app_id: str, fingerprint: str, columns: list) -> Select:
    """`columns` of one lead's activities not yet rolled up."""
    from growthkit.core.rollups import max_seq, watermark  # rollups imports this module

    a = activities.c
    w = watermark(conn)
    if max_seq(conn) - w <= TAIL_BY_SEQ_ROWS:
        # By seq: the lead's index would visit every event of a busy lead to check its seq.
        return select(*columns).where(a.seq > w, a.app_id.concat("") == app_id,
                                      a.fingerprint_id.concat("") == fingerprint)
    return select(*columns).where(a.app_id == app_id, a.fingerprint_id == fingerprint,
                                  a.seq > w)


def lead_event_counts(conn: Connection, app_id: str, fingerprint: str) -> dict[str, int]:
    """{event name: stored events} of one lead over its whole stored history."""
    t, a = lead_event_days.c, activities.c
    rows = union_all(
        select(t.event_name, t.events.label("n")).where(t.app_id == app_id,
                                                        t.fingerprint_id == fingerprint),
        _lead_tail(conn, app_id, fingerprint, [a.event_name, literal(1).label("n")])).subquery()
    return {name: int(n) for name, n in conn.execute(
        select(rows.c.event_name, func.sum(rows.c.n)).group_by(rows.c.event_name))}


def lead_session_count(conn: Connection, app_id: str, fingerprint: str) -> int:
    """How many distinct sessions one lead's stored events have."""
    s, a = lead_sessions.c, activities.c
    ids = union(select(s.session_id).where(s.app_id == app_id, s.fingerprint_id == fingerprint),
                _lead_tail(conn, app_id, fingerprint, [a.session_id])).subquery()
    return int(conn.execute(select(func.count()).select_from(ids)).scalar_one())


def _raw_columns() -> list:
    a = activities.c
    return [a.fingerprint_id.label("fp"), a.event_name.label("event_name"),
            literal(1).label("n")]


def _raw(app_id: str, names: Sequence[str], start: int, end: int) -> Select:
    a = activities.c
    return select(*_raw_columns()).where(a.app_id == app_id, a.event_name.in_(names),
                                         a.timestamp >= start, a.timestamp < end)


def unrolled(conn: Connection, app_id: str, names: Sequence[str] | None, start: int, end: int,
             columns: list) -> Select:
    """`columns` of the activities of `names` (None: any) in [start, end) not yet in lead
    days."""
    from growthkit.core.rollups import max_seq, watermark  # rollups imports this module

    a = activities.c
    w = watermark(conn)
    if max_seq(conn) - w <= TAIL_BY_SEQ_ROWS:
        # `|| ''` and `+ 0` keep the planner off the time/name indexes: read by seq instead.
        named = [] if names is None else [a.event_name.concat("").in_(names)]
        return select(*columns).where(
            a.seq > w, a.app_id.concat("") == app_id, *named,
            (a.timestamp + 0) >= start, (a.timestamp + 0) < end)
    named = [] if names is None else [a.event_name.in_(names)]
    return select(*columns).where(a.app_id == app_id, *named,
                                  a.timestamp >= start, a.timestamp < end, a.seq > w)


def lead_totals(conn: Connection, app_id: str, start: int, end: int) -> Select:
    """(fp, n, last) per lead with events in [start, end): how many and the latest one's
    time — lead_day_totals for the whole UTC days inside, raw rows for the partial days at
    the edges and for the rows not yet rolled up."""
    a, d = activities.c, lead_day_totals.c
    lo = -(-start // DAY_MS) * DAY_MS
    hi = end - end % DAY_MS
    raw = [a.fingerprint_id.label("fp"), literal(1).label("n"), a.timestamp.label("last")]

    def edge(lo_: int, hi_: int) -> Select:
        return select(*raw).where(a.app_id == app_id, a.timestamp >= lo_, a.timestamp < hi_)

    if lo >= hi:
        parts = [edge(start, end)]
    else:
        parts = [select(d.fingerprint_id.label("fp"), d.events.label("n"), d.last_ts.label("last"))
                 .where(d.app_id == app_id, d.day >= lo, d.day < hi),
                 unrolled(conn, app_id, None, lo, hi, raw)]
        parts += [edge(x, y) for x, y in ((start, lo), (hi, end)) if x < y]
    rows = union_all(*parts).subquery()
    return (select(rows.c.fp, func.sum(rows.c.n).label("n"), func.max(rows.c.last).label("last"))
            .group_by(rows.c.fp))


def event_rows(conn: Connection, app_id: str, names: Sequence[str], start: int,
               end: int) -> Select:
    """(fp, event_name, n) rows whose sums per lead and name are its events of `names` with
    start <= timestamp < end: lead days for the whole UTC days inside, raw rows for the
    partial days at the edges and for the rows not yet rolled up."""
    names = sorted(set(names))
    lo = -(-start // DAY_MS) * DAY_MS
    hi = end - end % DAY_MS
    if lo >= hi:
        return _raw(app_id, names, start, end)
    t = lead_event_days.c
    parts: list[Select] = [select(t.fingerprint_id.label("fp"), t.event_name,
                                  t.events.label("n")).where(
        t.app_id == app_id, t.event_name.in_(names), t.day >= lo, t.day < hi)]
    if start < lo:
        parts.append(_raw(app_id, names, start, lo))
    if hi < end:
        parts.append(_raw(app_id, names, hi, end))
    parts.append(unrolled(conn, app_id, names, lo, hi, _raw_columns()))
    return union_all(*parts)


def day_records(conn: Connection, app_id: str, names: Sequence[str], fingerprints: Sequence[str],
                among: Select, start: int, end: int) -> list[tuple[str, str, int, int, int]]:
    """(fp, event_name, first_ts, last_ts, events) per lead, name and UTC day touching
    [start, end), for the leads `among` selects (its one column; `fingerprints` holds the
    same leads): lead days merged with the rows not yet rolled up (their days may then hold
    events outside the range: callers treat them as such)."""
    t, a = lead_event_days.c, activities.c
    lo, names = start - start % DAY_MS, sorted(set(names))
    merged: dict[tuple[str, str, int], list[int]] = {}
    # One statement with the leads as a subquery: the store reads the names' days once
    # (or probes each lead), where IN lists of a few hundred leads made it scan the names'
    # days again for every list.
    for fp, name, day, first, last, n in plain_rows(conn,
            select(t.fingerprint_id, t.event_name, t.day, t.first_ts, t.last_ts, t.events)
            .where(t.app_id == app_id, t.event_name.in_(names), t.day >= lo, t.day < end,
                   t.fingerprint_id.in_(among))):
        merged[(fp, name, day)] = [first, last, n]
    wanted = set(fingerprints)
    for fp, name, ts in conn.execute(unrolled(conn, app_id, names, lo, end, [
            a.fingerprint_id, a.event_name, a.timestamp])):
        if fp not in wanted:
            continue
        rec = merged.get((fp, name, ts - ts % DAY_MS))
        if rec is None:
            merged[(fp, name, ts - ts % DAY_MS)] = [ts, ts, 1]
        else:
            rec[0], rec[1], rec[2] = min(rec[0], ts), max(rec[1], ts), rec[2] + 1
    return [(fp, name, r[0], r[1], r[2]) for (fp, name, _), r in merged.items()]


def day_events(conn: Connection, app_id: str, days: Sequence[tuple[str, str, int]],
               ) -> dict[tuple[str, str, int], list[int]]:
    """The timestamps of each (fp, event_name, UTC day)'s events, sorted, from raw rows."""
    a = activities.c
    out: dict[tuple[str, str, int], list[int]] = {key: [] for key in days}
    by_day: dict[int, set[str]] = {}
    for fp, _, day in out:
        by_day.setdefault(day, set()).add(fp)
    names = sorted({name for _, name, _ in out})
    for day, fps in by_day.items():
        # An index range of (app, fingerprint, timestamp) per lead: `|| ''` keeps the
        # planner off the name index, which would read the whole day of every lead.
        for fp, name, ts in conn.execute(
                select(a.fingerprint_id, a.event_name, a.timestamp).where(
                    a.app_id == app_id, a.fingerprint_id.in_(sorted(fps)),
                    a.timestamp >= day, a.timestamp < day + DAY_MS,
                    a.event_name.concat("").in_(names))):
            got = out.get((fp, name, day))
            if got is not None:
                got.append(ts)
    for ts in out.values():
        ts.sort()
    return out
