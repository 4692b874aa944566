"""PostgreSQL partitions: the conversion's time, and retention dropping a week vs deleting rows.

On a store seeded by benchmarks/seed.py (it changes the store: run it after queries.py):

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

    report = run_retention(engine, now=now, progress=progress)[0]
    whole = steps[:1]  # the partition pass reports once, after the week went
    rows = steps[1:]
    drop_s, drop_n = sum(s for s, _ in whole), sum(n for _, n in whole)
    row_s, row_n = sum(s for s, _ in rows), sum(n for _, n in rows)
    with engine.connect() as conn:
        left = partitions.list_partitions(conn)[0]
    assert report.partitions_dropped == 1 and left.lo >= oldest.hi, report
    return {"week_events": drop_n, "week_s": round(drop_s, 2),
            "week_s_per_100k": round(drop_s / max(drop_n, 1) * 1e5, 2),
            "edge_days": len(rows), "edge_events": row_n, "edge_s": round(row_s, 2),
            "baseline_row_by_row_s_per_100k": round(row_s / max(row_n, 1) * 1e5, 2),
            "week": partitions.partition_name(oldest.lo)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["unpartition", "convert", "retention"])
    ap.add_argument("database_url")
    ap.add_argument("--edge-days", type=int, default=3)
    args = ap.parse_args()
    out = retention(args.database_url, args.edge_days) if args.what == "retention" else \
        {"unpartition": unpartition, "convert": convert}[args.what](args.database_url)
    out["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
