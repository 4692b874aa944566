"""PostgreSQL partitions: the conversion's time, and retention dropping a week vs deleting rows.

On a store seeded by benchmarks/seed.py (it changes the store: run it after queries.py):

    queries    times a few raw queries of the dashboard's shapes on the current layout.
    unpartition  converts activities back to one table (the conversion migration's
               downgrade alone; later migrations' tables stay), timed: the layout before,
               for a "before" run of queries.py with the same code.
    convert    converts it to partitions (the migration's upgrade), timed; the baseline,
               measured in the same run, is a plain copy of the table (CREATE TABLE ... AS
               SELECT, no indexes).
    retention  runs retention as if `now` were so late that the oldest week is wholly
               expired and --edge-days days of the next are too: the whole week goes with
               its partition, the edge days row by row (the baseline, in the same run);
               each is reported per 100k events.

    .venv/bin/python benchmarks/partitions.py convert \\
        "postgresql://root@127.0.0.1:5432/test?options=-csearch_path%3Dbench_partitions"
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from growthkit.core import partitions
from growthkit.core.retention import run_retention
from growthkit.core.store import MIGRATIONS, open_engine
from growthkit.core.timezones import DAY_MS


def _count(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM activities")).scalar()


def _conversion():  # noqa: ANN202
    """The conversion migration's module (found by file name: migrations get renumbered)."""
    path = next(MIGRATIONS.glob("versions/*_partitioned_activities.py"))
    spec = importlib.util.spec_from_file_location("partitioned_activities", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_migration_step(url: str, step: str) -> float:
    """The conversion's upgrade or downgrade alone, in one transaction; the store's
    revision stays where it is, so later migrations' tables stay (and the current code
    runs on both layouts)."""
    engine = open_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        getattr(_conversion(), step)()
    return time.perf_counter() - started


def unpartition(url: str) -> dict:
    """Back to one table (the migration's downgrade): the layout before it."""
    seconds = _run_migration_step(url, "downgrade")
    return {"events": _count(open_engine(url)), "back_to_one_table_s": round(seconds, 1)}


def convert(url: str) -> dict:
    """The conversion (the migration's upgrade), beside a plain copy of the table."""
    engine = open_engine(url)
    events = _count(engine)
    with engine.connect() as conn:
        assert not partitions.is_partitioned(conn), "run `unpartition` first"
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_copy AS SELECT * FROM activities"))
        conn.execute(text("DROP TABLE bench_copy"))
    copy_s = time.perf_counter() - started
    convert_s = _run_migration_step(url, "upgrade")
    with engine.connect() as conn:
        assert partitions.is_partitioned(conn)
    assert _count(engine) == events
    return {"events": events, "convert_s": round(convert_s, 1),
            "baseline_plain_copy_s": round(copy_s, 1)}


def _removal(engine) -> dict:  # noqa: ANN001
    """The removal step alone, on the fullest week, each way in a transaction rolled back:
    deleting its rows (and their ids) against emptying and dropping its partition."""
    with engine.connect() as conn:
        sizes = [(conn.execute(text(f"SELECT count(*) FROM {p.name}")).scalar(), p)
                 for p in partitions.list_partitions(conn)]
    n, p = max(sizes, key=lambda x: x[0])
    timings = {}
    for way in ("rows", "partition"):
        with engine.connect() as conn:
            tx = conn.begin()
            started = time.perf_counter()
            if way == "rows":
                conn.execute(text(
                    "DELETE FROM activity_ids i USING activities a WHERE a.timestamp >= :lo "
                    "AND a.timestamp < :hi AND i.app_id = a.app_id AND i.id = a.id"),
                    {"lo": p.lo, "hi": p.hi})
                conn.execute(text("DELETE FROM activities WHERE timestamp >= :lo AND "
                                  "timestamp < :hi"), {"lo": p.lo, "hi": p.hi})
            else:
                partitions.empty_partition(conn, p)
                conn.execute(text(f"DROP TABLE {p.name}"))
            timings[way] = time.perf_counter() - started
            tx.rollback()
    return {"removal_week": p.name, "removal_events": n,
            "delete_rows_s": round(timings["rows"], 2),
            "drop_partition_s": round(timings["partition"], 2)}


def retention(url: str, edge_days: int) -> dict:
    engine = open_engine(url)
    with engine.connect() as conn:
        oldest = partitions.list_partitions(conn)[0]
        retention_days = conn.execute(text(
            "SELECT min(CAST(settings->>'retentionDays' AS int)) FROM apps")).scalar() or 90
    # The cutoff (floor(now - retentionDays) to the day) lands edge_days into the next week.
    now = oldest.hi + edge_days * DAY_MS + retention_days * DAY_MS + 1
    steps: list[tuple[float, int]] = []
    last = [time.perf_counter(), 0]

    def progress(report, _day) -> None:  # noqa: ANN001
        t = time.perf_counter()
        steps.append((t - last[0], report.events_deleted - last[1]))
        last[0], last[1] = t, report.events_deleted

    removal = _removal(engine)
    report = run_retention(engine, now=now, progress=progress)[0]
    whole = steps[:1]  # the partition pass reports once, after the week went
    rows = steps[1:]
    drop_s, drop_n = sum(s for s, _ in whole), sum(n for _, n in whole)
    row_s, row_n = sum(s for s, _ in rows), sum(n for _, n in rows)
    with engine.connect() as conn:
        left = partitions.list_partitions(conn)[0]
    assert report.partitions_dropped == 1 and left.lo >= oldest.hi, report
    return {**removal, "week_events": drop_n, "week_s": round(drop_s, 2),
            "week_s_per_100k": round(drop_s / max(drop_n, 1) * 1e5, 2),
            "edge_days": len(rows), "edge_events": row_n, "edge_s": round(row_s, 2),
            "baseline_row_by_row_s_per_100k": round(row_s / max(row_n, 1) * 1e5, 2),
            "week": partitions.partition_name(oldest.lo)}


def queries(url: str, repeat: int = 5) -> dict:
    """A few raw queries of the dashboard's shapes (median of `repeat` ms), the same SQL on
    either layout: run before `convert` (one table) and after it (partitions)."""
    engine = open_engine(url)
    with engine.connect() as conn:
        app, top, fp = conn.execute(text(
            "SELECT app_id, max(timestamp), (SELECT fingerprint_id FROM activities "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1) FROM activities GROUP BY 1")).one()
    day = DAY_MS
    shapes = {
        "count(*) of the app's events": ("SELECT count(*) FROM activities WHERE app_id = :a",
                                         {}),
        "events of the last 24 h": ("SELECT count(*) FROM activities WHERE app_id = :a "
                                    "AND timestamp >= :t - :d AND timestamp < :t", {"d": day}),
        "events by name, last 7 days": (
            "SELECT event_name, count(*) FROM activities WHERE app_id = :a AND timestamp >= "
            ":t - :d AND timestamp < :t GROUP BY 1", {"d": 7 * day}),
        "distinct users, last 7 days": (
            "SELECT count(DISTINCT fingerprint_id) FROM activities WHERE app_id = :a AND "
            "timestamp >= :t - :d AND timestamp < :t", {"d": 7 * day}),
        "signups' users, last 30 days": (
            "SELECT count(DISTINCT fingerprint_id) FROM activities WHERE app_id = :a AND "
            "event_name = 'signup_completed' AND timestamp >= :t - :d AND timestamp < :t",
            {"d": 30 * day}),
        "heaviest lead's newest 100": (
            "SELECT * FROM activities WHERE app_id = :a AND fingerprint_id = :fp "
            "ORDER BY timestamp DESC, seq DESC LIMIT 100", {}),
        "feed: newest 100 of the last hour": (
            "SELECT * FROM activities WHERE app_id = :a AND timestamp >= :t - :d "
            "ORDER BY timestamp DESC LIMIT 100", {"d": 3_600_000}),
        "next 1000 by seq (sync cursor)": (
            "SELECT * FROM activities WHERE app_id = :a AND seq > :s ORDER BY seq LIMIT 1000",
            {"s": 1_000_000}),
        "max(seq) (rollup watermark)": ("SELECT max(seq) FROM activities", {}),
    }
    out = {}
    with engine.connect() as conn:
        for name, (sql, extra) in shapes.items():
            params = {"a": app, "t": int(top) + 1, "fp": fp, **extra}
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                conn.execute(text(sql), params).all()
                times.append((time.perf_counter() - started) * 1000)
            out[name] = round(sorted(times)[len(times) // 2], 1)
        out["layout"] = "partitions" if partitions.is_partitioned(conn) else "one table"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["queries", "unpartition", "convert", "retention"])
    ap.add_argument("database_url")
    ap.add_argument("--edge-days", type=int, default=3)
    args = ap.parse_args()
    out = retention(args.database_url, args.edge_days) if args.what == "retention" else \
        {"unpartition": unpartition, "convert": convert, "queries": queries}[args.what](
            args.database_url)
    out["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
