"""Daily presence (core/presence.py) and the distinct counts it serves (core/distinct.py),
the weekly presence (core/weekly_presence.py) and the users heatmap it serves, against a
plain recount of the stored activities: ranges whose edges fall anywhere, time zones
(+05:45, +05:30, a daylight-saving change), late and out-of-order events (old timestamps
arriving after the watermark moved), rows not rolled up yet, several apps, retention, and
the HTTP answers.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from growthkit.core.clock import to_iso
from growthkit.core.distinct import distinct_users_sessions
from growthkit.core.events import Event
from growthkit.core.filters import ActivityFilter
from growthkit.core.heatmap import weekly_users
from growthkit.core.ingest import store_events
from growthkit.core.presence import ALL, NO_DAY
from growthkit.core.retention import run_retention
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import alembic_config, migrate, write_connection
from growthkit.core.weekly_presence import NO_BUCKET, QUARTER_MS, SHIFTS, WEEK_MS, window

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_714_521_600_000  # 2024-05-01T00:00:00Z
NAMES = ["page_viewed", "signup_completed", "button_clicked"]


def events_for(rng: random.Random, n: int, start: int, end: int) -> list[tuple]:
    """(ms, fingerprint, session, name): sessions of a few events minutes apart, some
    running over midnight, a few leads and names."""
    rows = []
    while len(rows) < n:
        fp = f"fp_{rng.randrange(12)}"
        session = f"s_{uuid.uuid4().hex[:8]}"
        t = rng.randrange(start, end)
        if rng.random() < 0.2:  # close to a UTC midnight: the session spans two days
            t = t - t % DAY + DAY - rng.randrange(1, 20) * 60_000
        for _ in range(rng.randrange(1, 6)):
            rows.append((t, fp, session, rng.choice(NAMES)))
            t += rng.randrange(1, 25 * 60_000)
    return rows


def store(engine, app_id: str, rows: list[tuple]) -> None:
    events = [Event(str(uuid.uuid4()), fp, name, None, {}, session, ts, ts)
              for ts, fp, session, name in rows]
    with write_connection(engine) as conn, conn.begin():
        assert len(store_events(conn, app_id, events).stored) == len(rows)


def recount(conn, app_id: str, start: int, end: int, name: str | None) -> tuple[int, int]:
    sql = ("SELECT count(DISTINCT fingerprint_id), count(DISTINCT session_id) FROM activities "
           "WHERE app_id = :a AND timestamp >= :s AND timestamp < :e")
    if name:
        sql += " AND event_name = :n"
    u, s = conn.execute(text(sql), {"a": app_id, "s": start, "e": end, "n": name}).one()
    return int(u), int(s)


def ranges(rng: random.Random, lo: int, hi: int) -> list[tuple[int, int]]:
    out = [(lo, hi), (T0 + 2 * DAY, T0 + 5 * DAY),  # aligned on UTC days
           (T0 + 2 * DAY + 5 * HOUR, T0 + 9 * DAY + 5 * HOUR),  # New York midnights
           (T0 + DAY + 1, T0 + 3 * DAY - 1),  # one ms inside the days
           (T0 + DAY - 1, T0 + 2 * DAY + 1)]  # just over one whole day
    for _ in range(25):
        a = rng.randrange(lo, hi)
        out.append((a, min(hi + DAY, a + rng.randrange(DAY, 10 * DAY))))
    return out


def check_counts(engine, app_id: str, spans: list[tuple[int, int]]) -> int:
    """Every span and event name: the fast path equals the recount; returns how many
    answers came from the daily presence."""
    fast_answers = 0
    with engine.connect() as conn:
        for start, end in spans:
            for name in (None, *NAMES):
                flt = ActivityFilter(app_id, [name] if name else [], start, end)
                got = distinct_users_sessions(conn, flt)
                if got is None:
                    assert end - start < 2 * DAY, (start, end)
                    continue
                fast_answers += 1
                assert got == recount(conn, app_id, start, end, name), \
                    (to_iso(start), to_iso(end), name)
    return fast_answers


def check_tables(engine) -> None:
    """presence_days and presence_steps hold exactly what the rolled-up activities say."""
    with engine.connect() as conn:
        w = conn.execute(text("SELECT seq FROM rollup_state WHERE name = 'counts'")).scalar()
        days = defaultdict(set)
        for app, fp, session, name, ts in conn.execute(text(
                "SELECT app_id, fingerprint_id, session_id, event_name, timestamp "
                "FROM activities WHERE seq <= :w"), {"w": w or 0}):
            for kind, key in (("u", fp), ("s", session)):
                for n in (ALL, name):
                    days[(app, kind, key, n)].add(ts - ts % DAY)
        steps = Counter()
        for (app, kind, _key, n), ds in days.items():
            ordered = sorted(ds)
            for prev, d in zip([NO_DAY, *ordered], ordered, strict=False):
                steps[(app, kind, n, d, prev)] += 1
        stored_days = {tuple(r) for r in conn.execute(text(
            "SELECT app_id, kind, key, event_name, day FROM presence_days"))}
        assert stored_days == {(*g, d) for g, ds in days.items() for d in ds}
        stored_steps = {tuple(r[:5]): r[5] for r in conn.execute(text(
            "SELECT app_id, kind, event_name, day, prev_day, present FROM presence_steps"))}
        assert stored_steps == dict(steps)


def test_fast_distinct_counts_match_a_recount_with_late_events(server):
    rng = random.Random(11)
    app = server.create_app(retentionDays=3650)
    other = server.create_app("Other", retentionDays=3650)
    store(server.engine, app.id, events_for(rng, 300, T0 + 3 * DAY, T0 + 10 * DAY))
    store(server.engine, other.id, events_for(rng, 60, T0, T0 + 12 * DAY))
    spans = ranges(rng, T0, T0 + 12 * DAY)
    assert check_counts(server.engine, app.id, spans) > 0  # nothing rolled up: raw rows
    refresh_rollups(server.engine, settle_ms=0)
    check_tables(server.engine)
    assert check_counts(server.engine, app.id, spans) > 0
    # Late and out-of-order: older timestamps than anything rolled up, between and inside
    # the rolled days, for known and new leads and sessions.
    late = events_for(rng, 150, T0, T0 + 12 * DAY)
    store(server.engine, app.id, late)
    check_counts(server.engine, app.id, spans)  # read above the watermark
    refresh_rollups(server.engine, settle_ms=0, chunk=37)  # small chunks: many steps
    check_tables(server.engine)
    check_counts(server.engine, app.id, spans)
    check_counts(server.engine, other.id, spans)


def test_the_last_partial_day_counts_from_its_presence_unless_it_holds_later_events(server):
    """A range ending mid-day (today, for "the last N days") counts that day from its
    presence rows when nothing rolled up on it lies past the end; an event rolled up after
    the end (a client clock ahead) must not be counted, nor a lead seen only then."""
    app = server.create_app(retentionDays=3650)
    end_day, cut = T0 + 5 * DAY, T0 + 5 * DAY + 13 * HOUR
    rows = [(T0 + d * DAY + h * HOUR, f"fp_{(d * 7 + h) % 9}", f"s_{d}_{h % 3}", NAMES[h % 3])
            for d in range(1, 5) for h in range(0, 24, 5)]
    rows += [(end_day + h * HOUR, f"fp_{h}", f"s_end_{h}", NAMES[h % 3]) for h in (1, 6, 12)]
    store(server.engine, app.id, rows)
    refresh_rollups(server.engine, settle_ms=0)
    spans = [(T0 + DAY + 5 * HOUR, cut), (T0 + 2 * DAY, cut), (T0 + DAY + 1, end_day + 1)]
    assert check_counts(server.engine, app.id, spans) == len(spans) * (1 + len(NAMES))
    # Not rolled up yet on the end day: a new lead and a known one, before the end.
    store(server.engine, app.id, [(end_day + 2 * HOUR, "fp_new", "s_new", NAMES[0]),
                                  (end_day + 3 * HOUR, "fp_1", "s_end_1", NAMES[1])])
    check_counts(server.engine, app.id, spans)
    refresh_rollups(server.engine, settle_ms=0)
    check_counts(server.engine, app.id, spans)
    # Rolled up past the end on the end day: only leads and sessions seen after it.
    store(server.engine, app.id, [(cut + HOUR, "fp_later", "s_later", name) for name in NAMES])
    refresh_rollups(server.engine, settle_ms=0)
    check_counts(server.engine, app.id, spans)
    with server.engine.connect() as conn:
        users, _ = distinct_users_sessions(conn, ActivityFilter(app.id, [], T0 + 2 * DAY, cut))
        assert users == recount(conn, app.id, T0 + 2 * DAY, cut, None)[0]
        assert users == len({fp for ts, fp, _, _ in rows if T0 + 2 * DAY <= ts < cut} |
                            {"fp_new"})


def test_retention_keeps_presence_exact(server):
    rng = random.Random(5)
    app = server.create_app(retentionDays=30)
    store(server.engine, app.id, events_for(rng, 250, T0, T0 + 12 * DAY))
    refresh_rollups(server.engine, settle_ms=0)
    # Rows above the watermark in the expired days are rolled (and forgotten) by retention.
    store(server.engine, app.id, events_for(rng, 40, T0, T0 + 12 * DAY))
    [report] = run_retention(server.engine, app=app.id, now=T0 + 35 * DAY)
    assert report.days == 5 and report.events_deleted > 0
    refresh_rollups(server.engine, settle_ms=0)
    check_tables(server.engine)
    assert server.scalar("SELECT count(*) FROM presence_days WHERE day < :d",
                         d=T0 + 5 * DAY) == 0
    check_counts(server.engine, app.id, ranges(rng, T0 + 5 * DAY, T0 + 12 * DAY))


def test_stats_answers_the_recount(server):
    rng = random.Random(3)
    app = server.create_app(retentionDays=3650)
    store(server.engine, app.id, events_for(rng, 200, T0, T0 + 9 * DAY))
    refresh_rollups(server.engine, settle_ms=0)
    store(server.engine, app.id, events_for(rng, 30, T0, T0 + 9 * DAY))  # not rolled up
    start, end = T0 + 4 * DAY + 5 * HOUR + 17, T0 + 8 * DAY + 5 * HOUR
    for name in (None, "page_viewed"):
        params = {"from": to_iso(start), "to": to_iso(end), "tz": "America/New_York"}
        if name:
            params["eventName"] = name
        r = server.client.get("/api/v1/stats", params=params,
                              headers={"Authorization": f"Bearer {app.secret}"})
        assert r.status_code == 200, r.text
        s = r.json()
        with server.engine.connect() as conn:
            assert (s["uniqueUsers"], s["sessions"]) == recount(conn, app.id, start, end, name)
            prev = recount(conn, app.id, 2 * start - end, start, name)
        assert (s["previous"]["uniqueUsers"], s["previous"]["sessions"]) == prev


# --- the users heatmap from the weekly presence ---------------------------------------------

ZONES = ["UTC", "America/New_York", "Asia/Kathmandu", "Asia/Kolkata"]


def heatmap_recount(conn, app_id: str, start: int, end: int, tz) -> list[list[int]]:
    cells = defaultdict(set)
    for fp, ts in conn.execute(text(
            "SELECT fingerprint_id, timestamp FROM activities WHERE app_id = :a AND "
            "timestamp >= :s AND timestamp < :e"), {"a": app_id, "s": start, "e": end}):
        local = datetime.fromtimestamp(ts / 1000, tz)
        cells[(local.weekday(), local.hour)].add(fp)
    matrix = [[0] * 24 for _ in range(7)]
    for (d, h), fps in cells.items():
        matrix[d][h] = len(fps)
    return matrix


def check_heatmaps(engine, app_id: str, spans: list[tuple[int, int]]) -> int:
    fast_answers = 0
    with engine.connect() as conn:
        for start, end in spans:
            for name in ZONES:
                tz = ZoneInfo(name)
                flt = ActivityFilter(app_id, [], start, end)
                got = weekly_users(conn, flt, tz)
                if got is None:
                    continue
                fast_answers += 1
                assert got == heatmap_recount(conn, app_id, start, end, tz), \
                    (to_iso(start), to_iso(end), name)
    return fast_answers


def check_weekly_tables(engine) -> None:
    """presence_quarters and presence_hour_steps hold what the rolled-up activities say."""
    with engine.connect() as conn:
        w = conn.execute(text("SELECT seq FROM rollup_state WHERE name = 'counts'")).scalar()
        quarters = defaultdict(set)
        for app, fp, ts in conn.execute(text(
                "SELECT app_id, fingerprint_id, timestamp FROM activities WHERE seq <= :w"),
                {"w": w or 0}):
            quarters[(app, fp)].add(ts - ts % QUARTER_MS)
        steps = Counter()
        for (app, _fp), qs in quarters.items():
            for shift in SHIFTS:
                chains = defaultdict(set)
                for q in qs:
                    win = window(q, shift)
                    chains[win % WEEK_MS].add(win)
                for chain in chains.values():
                    ordered = sorted(chain)
                    for prev, b in zip([NO_BUCKET, *ordered], ordered, strict=False):
                        steps[(app, shift, b, prev)] += 1
        assert {tuple(r) for r in conn.execute(text(
            "SELECT app_id, key, bucket FROM presence_quarters"))} == \
            {(app, fp, q) for (app, fp), qs in quarters.items() for q in qs}
        assert {tuple(r[:4]): r[4] for r in conn.execute(text(
            "SELECT app_id, shift, bucket, prev_bucket, present FROM presence_hour_steps"))} \
            == dict(steps)


def heatmap_spans(rng: random.Random) -> list[tuple[int, int]]:
    # 2024-11-03 06:00Z: New York leaves daylight saving time (the fast path steps aside).
    out = [(T0, T0 + 28 * DAY), (T0 + 5 * HOUR + 17, T0 + 20 * DAY + 7 * 60_000),
           (NOV + 14 * DAY, NOV + 15 * DAY + 30 * 60_000 + 1)]
    for _ in range(8):
        a = rng.randrange(T0, T0 + 26 * DAY)
        out.append((a, a + rng.randrange(2 * HOUR, 16 * DAY)))
    return out


NOV = 1_729_900_800_000  # 2024-10-26T00:00:00Z


def test_users_heatmap_matches_a_recount_with_late_events_and_retention(server):
    rng = random.Random(7)
    app = server.create_app(retentionDays=30)
    other = server.create_app("Other", retentionDays=3650)
    store(server.engine, app.id, events_for(rng, 250, T0 + 7 * DAY, T0 + 28 * DAY))
    store(server.engine, app.id, events_for(rng, 40, NOV, NOV + 20 * DAY))
    store(server.engine, other.id, events_for(rng, 50, T0, T0 + 28 * DAY))
    spans = heatmap_spans(rng)
    assert check_heatmaps(server.engine, app.id, spans) > 0
    refresh_rollups(server.engine, settle_ms=0)
    check_weekly_tables(server.engine)
    assert check_heatmaps(server.engine, app.id, spans) > 0
    store(server.engine, app.id, events_for(rng, 120, T0, T0 + 28 * DAY))  # late
    check_heatmaps(server.engine, app.id, spans)
    refresh_rollups(server.engine, settle_ms=0, chunk=23)
    check_weekly_tables(server.engine)
    check_heatmaps(server.engine, app.id, spans)
    with server.engine.connect() as conn:  # New York over the change: the plain count
        assert weekly_users(conn, ActivityFilter(app.id, [], NOV, NOV + 14 * DAY),
                            ZoneInfo("America/New_York")) is None
    store(server.engine, app.id, events_for(rng, 30, T0, T0 + 6 * DAY))  # expired, unrolled
    run_retention(server.engine, app=app.id, now=T0 + 35 * DAY)
    refresh_rollups(server.engine, settle_ms=0)
    check_weekly_tables(server.engine)
    check_heatmaps(server.engine, app.id, [(T0 + 5 * DAY, T0 + 28 * DAY),
                                           (T0 + 5 * DAY + 1, T0 + 19 * DAY - 1)])
    r = server.client.get("/api/v1/analytics/heatmap", headers={
        "Authorization": f"Bearer {app.secret}"}, params={
        "metric": "users", "tz": "Asia/Kathmandu", "from": to_iso(T0 + 6 * DAY + 1),
        "to": to_iso(T0 + 27 * DAY)})
    assert r.status_code == 200, r.text
    with server.engine.connect() as conn:
        assert r.json()["matrix"] == heatmap_recount(conn, app.id, T0 + 6 * DAY + 1,
                                                     T0 + 27 * DAY, ZoneInfo("Asia/Kathmandu"))


def test_migration_backfills_what_refresh_keeps(server):
    """The daily-presence migration, run on a populated store, fills the presence tables
    as the refresh would have."""
    rng = random.Random(2)
    app = server.create_app(retentionDays=3650)
    store(server.engine, app.id, events_for(rng, 200, T0, T0 + 20 * DAY))
    refresh_rollups(server.engine, settle_ms=0)
    store(server.engine, app.id, events_for(rng, 20, T0, T0 + 20 * DAY))  # above the mark
    cfg = alembic_config(server.engine)
    [ours] = [r for r in ScriptDirectory.from_config(cfg).walk_revisions()
              if r.path.endswith("_daily_presence.py")]  # migrations get renumbered
    command.downgrade(cfg, ours.down_revision)
    migrate(server.engine)
    check_tables(server.engine)
    check_weekly_tables(server.engine)
    assert server.scalar("SELECT count(*) FROM presence_days") > 0
