"""PostgreSQL's weekly partitions of activities: the migration converts a populated store
keeping every row, seq and index; an event of a time without a partition is still stored;
a retried event id is a duplicate in whichever partition its first copy went; retention
drops wholly expired partitions (and deletes the edge row by row) with the same answers
SQLite gives, which stays one table.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from harness import backend_param, make_settings
from sqlalchemy import text
from test_retention import get, span

from growthkit.core import apps as core_apps
from growthkit.core import partitions
from growthkit.core.clock import now_ms
from growthkit.core.events import Event
from growthkit.core.ingest import BatchWrite, store_events, write_batches
from growthkit.core.retention import run_retention
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import alembic_config, migrate, open_engine, write_connection
from growthkit.core.timezones import DAY_MS, WEEK_MS
from growthkit.server import maintenance
from growthkit.server.app import create_app

PG = pytest.mark.parametrize("backend", [backend_param("postgresql", "memory")], indirect=True)
NOW = now_ms()
WEEK = partitions.week_start(NOW)
LAST_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


def event(ts: int, fp: str = "fp_1", name: str = "page_viewed", eid: str | None = None
          ) -> Event:
    return Event(eid or str(uuid.uuid4()), fp, name, {"n": ts % 97}, {"url": "/"}, "s_1", ts,
                 ts)


def store(engine, app_id: str, evs: list[Event]) -> list[Event]:
    with write_connection(engine) as conn, conn.begin():
        return store_events(conn, app_id, evs).stored


def where_rows(engine) -> dict[str, str]:
    """Event id -> the table (partition) holding it."""
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql(
            "SELECT id, tableoid::regclass::text FROM activities").all())


@PG
def test_migration_converts_a_populated_store(database_url):
    engine = open_engine(database_url)
    cfg = alembic_config(engine)
    conversion = next(r for r in ScriptDirectory.from_config(cfg).walk_revisions()
                      if r.path.endswith("_partitioned_activities.py"))
    command.upgrade(cfg, conversion.down_revision)  # the schema just before the conversion
    with write_connection(engine) as conn, conn.begin():
        app = core_apps.create_app(conn, "Old", {}).app.id
    boundary = WEEK - 5 * WEEK_MS
    times = [NOW, boundary + 5, boundary - 1, 1_000, boundary, LAST_MS, boundary + WEEK_MS - 1,
             boundary + WEEK_MS, NOW - 30 * WEEK_MS, boundary - 1]
    with engine.begin() as conn:
        for n, ts in enumerate(times):  # seq order is not time order
            conn.execute(text(
                "INSERT INTO activities (id, app_id, fingerprint_id, event_name, properties, "
                "context, session_id, timestamp, received_at) VALUES (:id, :a, 'fp', 'e', "
                "CAST(:p AS jsonb), '{}', 's', :ts, :ts)"), {"id": f"e{n}", "a": app, "ts": ts,
                                                             "p": f'{{"n": {n}}}'})
        conn.execute(text("CREATE INDEX ix_activities_received ON activities (received_at)"))
        conn.execute(text("DELETE FROM activities WHERE id = 'e9'"))  # a gap in seq
    columns = "seq, id, app_id, fingerprint_id, event_name, properties, context, session_id, " \
              "timestamp, received_at"

    def rows() -> list:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT {columns} FROM activities ORDER BY seq")).all()

    def indexes() -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'activities'")).scalars())

    before, before_indexes = rows(), indexes()
    migrate(engine)
    assert rows() == before
    assert indexes() == before_indexes - {"uq_activities_app_event_id"}
    with engine.connect() as conn:
        assert partitions.is_partitioned(conn)
        assert set(conn.execute(text("SELECT app_id, id FROM activity_ids")).all()) == \
            {(app, r.id) for r in before}
        weeks = {p.lo for p in partitions.list_partitions(conn)}
    assert {boundary - WEEK_MS, boundary, boundary + WEEK_MS, WEEK + WEEK_MS} <= weeks
    held = where_rows(engine)
    assert held["e3"] == held["e5"] == partitions.DEFAULT  # 1970 and 9999: no partition
    assert held["e2"] == partitions.partition_name(boundary - WEEK_MS)
    assert held["e4"] == held["e1"] == partitions.partition_name(boundary)
    assert held["e6"] == partitions.partition_name(boundary)
    assert held["e7"] == partitions.partition_name(boundary + WEEK_MS)
    assert held["e8"] == partitions.partition_name(partitions.week_start(NOW - 30 * WEEK_MS))

    # Ingest after the conversion: new seqs continue; an old id is still a duplicate,
    # although its retry's time puts it in another partition.
    with write_connection(engine) as conn, conn.begin():
        result = write_batches(conn, [BatchWrite(app, [event(NOW, eid="e2"),
                                                       event(NOW, eid="new")])])[0]
    assert result.duplicates == 1 and [e.id for e in result.stored] == ["new"]
    assert result.stored[0].seq > before[-1].seq
    engine.dispose()


@PG
def test_retried_event_is_a_duplicate_across_partitions(server):
    app = server.create_app()
    first = {"fingerprint": "fp_1", "events": [
        {"id": "ev-1", "eventName": "page_viewed", "timestamp": NOW - 9 * DAY_MS}]}
    assert server.track(app.public, first).json()["accepted"] == 1
    retry = {"fingerprint": "fp_1", "events": [{"id": "ev-1", "eventName": "page_viewed"}]}
    assert server.track(app.public, retry).json()["duplicates"] == 1
    assert server.scalar("SELECT count(*) FROM activities") == 1
    assert server.rows("SELECT events FROM leads")[0].events == 1

    # Two writers of the same new id at once: the second waits for the first, then skips.
    holder = write_connection(server.engine)
    tx = holder.begin()
    assert len(store_events(holder, app.id, [event(NOW - 3 * WEEK_MS, eid="ev-2")]).stored) == 1
    second: list = []
    thread = threading.Thread(target=lambda: second.append(
        store(server.engine, app.id, [event(NOW, eid="ev-2")])))
    thread.start()
    time.sleep(0.5)  # let it reach the id table (correct either way)
    tx.commit()
    holder.close()
    thread.join(timeout=30)
    assert second == [[]]
    assert server.scalar("SELECT count(*) FROM activities WHERE id = 'ev-2'") == 1
    assert server.scalar("SELECT count(*) FROM activity_ids") == 2


@PG
def test_events_without_a_partition_are_stored_and_later_moved(server):
    app = server.create_app(retentionDays=30_000)  # accepts events back to the 1940s
    r = server.track(app.public, {"fingerprint": "fp_1", "events": [
        {"id": "old", "eventName": "page_viewed", "timestamp": "1970-01-02T00:00:00Z"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    far = store(server.engine, app.id, [event(LAST_MS, eid="far")])
    months_ago = store(server.engine, app.id, [event(NOW - 20 * WEEK_MS, eid="months")])
    held = where_rows(server.engine)
    assert held == {"old": partitions.DEFAULT, "far": partitions.DEFAULT,
                    "months": partitions.DEFAULT}

    with server.engine.begin() as conn:  # the maintenance's upkeep
        made = partitions.ensure_partitions(conn, now_ms())
    assert [p.lo for p in made] == [partitions.week_start(NOW - 20 * WEEK_MS)]
    held = where_rows(server.engine)
    assert held["months"] == made[0].name
    assert held["old"] == held["far"] == partitions.DEFAULT
    assert server.scalar("SELECT seq FROM activities WHERE id = 'months'") == months_ago[0].seq
    assert server.scalar("SELECT seq FROM activities WHERE id = 'far'") == far[0].seq
    with server.engine.begin() as conn:
        assert partitions.ensure_partitions(conn, now_ms()) == []


def test_retention_drops_expired_partitions_and_deletes_the_edge(server, database_url):
    app = server.create_app(rateLimitPerMinute=1000)
    cutoff = (NOW - 90 * DAY_MS) // DAY_MS * DAY_MS
    old = partitions.week_start(NOW - 130 * DAY_MS)
    edge = partitions.week_start(cutoff - 1)
    rows = [event(old + 3_600_000, "fp_a"), event(old + WEEK_MS - 1, "fp_b", "signup"),
            event(old + WEEK_MS, "fp_a"), event(old + WEEK_MS + DAY_MS, "fp_c", "signup"),
            event(cutoff - 7_200_000, "fp_a"), event(cutoff + 7_200_000, "fp_b")]
    store(server.engine, app.id, rows)
    assert server.track(app.public, {"fingerprint": "fp_a", "events": [
        {"eventName": "page_viewed"}]}).json()["accepted"] == 1
    with server.engine.begin() as conn:
        partitions.ensure_partitions(conn, now_ms(), since=old)
    refresh_rollups(server.engine, settle_ms=0)
    before = old_answers(server, app.secret, old)
    assert before["events"] == 4 and sum(before["daily"]) == 4

    report = run_retention(server.engine)[0]
    pg = server.engine.dialect.name == "postgresql"
    assert report.events_deleted == 5 and report.days == 5
    assert report.partitions_dropped == (2 if pg else 0)
    if pg:
        with server.engine.connect() as conn:
            left = {p.lo for p in partitions.list_partitions(conn)}
        assert old not in left and old + WEEK_MS not in left and edge in left
        assert server.scalar("SELECT count(*) FROM activity_ids") == 2
    assert sorted(server.rows("SELECT fingerprint_id, timestamp FROM activities")) == sorted(
        [("fp_b", cutoff + 7_200_000), ("fp_a", server.scalar(
            "SELECT max(timestamp) FROM activities"))])
    assert dict(server.rows("SELECT fingerprint, events FROM leads")) == \
        {"fp_a": 1, "fp_b": 1, "fp_c": 0}
    assert server.scalar("SELECT sum(events) FROM daily_rollups WHERE event_name = '*'") == 5
    assert old_answers(server, app.secret, old) == before
    assert run_retention(server.engine)[0].events_deleted == 0



def old_answers(server, key: str, start: int) -> dict:
    """Event counts over [start, start + 2 weeks): what retention must keep exact."""
    s = span(start, start + 2 * WEEK_MS)
    return {"events": get(server, key, "/stats", **s, tz="UTC")["events"],
            "daily": get(server, key, "/analytics/events", **s, interval="day",
                         tz="UTC")["totals"],
            "signups": get(server, key, "/analytics/events", **s, interval="hour",
                           tz="Asia/Kathmandu", eventName="signup")["totals"],
            "heatmap": get(server, key, "/analytics/heatmap", **s, tz="UTC")["matrix"]}


@PG
def test_server_upkeep_gives_a_week_in_the_default_its_partition(database_url, monkeypatch):
    monkeypatch.setattr(maintenance, "FIRST_RETENTION_AFTER_S", 0.1)
    engine = open_engine(database_url)
    migrate(engine)
    with write_connection(engine) as conn, conn.begin():
        app = core_apps.create_app(conn, "Long", {"retentionDays": 400}).app.id
    store(engine, app, [event(NOW - 200 * DAY_MS, eid="kept")])
    assert where_rows(engine) == {"kept": partitions.DEFAULT}
    with TestClient(create_app(make_settings(database_url, None))):
        deadline = time.monotonic() + 20
        while where_rows(engine)["kept"] == partitions.DEFAULT and time.monotonic() < deadline:
            time.sleep(0.05)
    assert where_rows(engine) == {
        "kept": partitions.partition_name(partitions.week_start(NOW - 200 * DAY_MS))}
    engine.dispose()
