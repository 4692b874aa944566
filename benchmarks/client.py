"""Offline snapshots and LocalSource: a 1M-event snapshot through the real server, then every
LocalSource analytic on the snapshot file.

Seeds a SQLite store with benchmarks/seed.py (or reuses the one benchmarks/queries.py left,
/tmp/growthkit-bench-queries-1000000.db), starts `python -m growthkit serve` on it as a
separate process and takes `Client.snapshot()` of every stored event over HTTP. Baseline,
measured in the same run: the raw SQLite insert rate — the same rows, already in memory,
inserted by the driver's executemany into a fresh core-schema file with the same settings
the snapshot writer uses (secondary indexes built after loading). Then each LocalSource
analytic on the snapshot is timed — the first call (cold: a fresh LocalSource) and the
median of --repeat calls — beside the same query through the server over HTTP on the
original store, in the same run (its answer cache off, so every call is computed).

    .venv/bin/python benchmarks/client.py            # seeds or reuses the 1M store
    .venv/bin/python benchmarks/client.py --json     # machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, select

sys.path.insert(0, str(Path(__file__).parent))
import queries  # noqa: E402  (the sibling script: seeding, the server process)

from growthkit.api_client import Client  # noqa: E402
from growthkit.api_client.local import LocalSource  # noqa: E402
from growthkit.api_client.replica import ACTIVITY_COLUMNS, Replica  # noqa: E402
from growthkit.core.schema import activities  # noqa: E402
from growthkit.core.store import open_engine  # noqa: E402

SNAPSHOT_TARGET_S = 30.0
ANALYTIC_TARGET_MS = 200.0
DAY = 86_400_000


def raw_insert_rate(database_url: str, app_id: str, log: Callable[[str], None]) -> dict:
    """Rows/s of executemany into a fresh core-schema file (the baseline)."""
    engine = open_engine(database_url)
    c = activities.c
    with engine.connect() as conn:
        # JSON columns as the text they are stored as (the snapshot inserts text, too).
        rows = [tuple(r) for r in conn.execute(select(
            c.seq, c.id, c.app_id, c.fingerprint_id, c.event_name, cast(c.properties, Text),
            cast(c.context, Text), c.session_id, c.timestamp, c.received_at)
            .where(c.app_id == app_id).order_by(c.seq)).all()]
    engine.dispose()
    log(f"baseline: {len(rows):,} rows read into memory")
    with tempfile.TemporaryDirectory() as tmp:
        replica = Replica(Path(tmp) / "raw.db", app_id, scratch=True)
        replica.drop_activity_indexes()
        sql = (f"INSERT INTO activities ({', '.join(ACTIVITY_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(ACTIVITY_COLUMNS))})")
        started = time.perf_counter()
        with replica.conn:
            replica.conn.executemany(sql, rows)
        inserted = time.perf_counter() - started
        replica.restore_indexes()
        total = time.perf_counter() - started
        replica.close()
    return {"rows": len(rows), "insert_s": inserted, "with_indexes_s": total,
            "rows_per_s": len(rows) / total}


def take_snapshot(url: str, key: str, path: Path, log: Callable[[str], None]) -> dict:
    stages: dict[str, float] = {}
    started = time.perf_counter()
    last = [started]
    current = [None]

    def progress(stage: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if stage != current[0]:
            current[0] = stage
            stages[stage] = now - started
        if now - last[0] > 5:
            last[0] = now
            log(f"  {now - started:5.0f} s  {stage} {done:,}/{total or 0:,}")

    with Client(url, key, timeout=600) as client:
        info = client.snapshot(path, progress=progress)
    elapsed = time.perf_counter() - started
    marks = sorted(stages.items(), key=lambda kv: kv[1]) + [("end", elapsed)]
    return {"seconds": elapsed, "events": info.activities,
            "events_per_s": info.activities / elapsed, "bytes": path.stat().st_size,
            "stages_s": {a: round(marks[i + 1][1] - t, 2)
                         for i, (a, t) in enumerate(marks[:-1])},
            "counts": info.meta["counts"]}


def analytics(source: Any, meta: Any, end: int) -> list[tuple[str, Callable[[], Any]]]:
    """(name, call) of every analytic, on the seeded data's typical queries; `source` a
    LocalSource or a Client (the same methods). Ranges end at `end` explicitly, so both
    answer the same question (a LocalSource's defaults would end there anyway)."""
    week, month = end - 7 * DAY, end - 30 * DAY
    heavy, typical = meta.heavy_fingerprint, meta.typical_fingerprint
    first = lambda listing: next(iter(listing), None)  # noqa: E731
    funnel = ["page_viewed", "signup_completed", "purchase_completed"]
    return [
        ("stats: last 24 h", lambda: source.stats(start=end - DAY, end=end)),
        ("stats: 30 days, America/New_York", lambda: source.stats(
            start=month, end=end, tz="America/New_York")),
        ("stats: 7 days, eventName", lambda: source.stats(start=week, end=end,
                                                          event="page_viewed")),
        ("event_frequency: 7 days by day", lambda: source.event_frequency(
            start=week, end=end, interval="day")),
        ("event_frequency: 7 days by hour", lambda: source.event_frequency(
            start=week, end=end, interval="hour")),
        ("heatmap: events, 28 days", lambda: source.heatmap(
            start=end - 28 * DAY, end=end, tz="America/New_York")),
        ("heatmap: users, 28 days", lambda: source.heatmap(
            start=end - 28 * DAY, end=end, metric="users", tz="America/New_York")),
        ("funnel: 3 steps, 30 days, 7-day window",
         lambda: source.funnel(funnel, window=7 * 86400, start=month, end=end)),
        ("funnel: 3 steps, 7 days, 1-day window",
         lambda: source.funnel(funnel, window=86400, start=week, end=end)),
        ("segments: counts (+ converters)",
         lambda: source.segments(event="purchase_completed", as_of=end)),
        ("segment members: active (50)", lambda: source.segment_members(
            "active", as_of=end, limit=50).to_list()),
        ("segment members: power (50)", lambda: source.segment_members(
            "power", as_of=end, limit=50).to_list()),
        ("segment rule did/didNot (50)", lambda: source.segment_members(
            {"did": ["signup_completed"], "didNot": [{"eventName": "purchase_completed",
                                                      "days": 30}]}, as_of=end,
            limit=50).to_list()),
        ("leads: first page", lambda: source.leads(limit=50).to_list()),
        ("leads: search by email", lambda: source.leads(search=meta.email_fragment,
                                                        limit=50).to_list()),
        ("leads: sort by events", lambda: source.leads(sort="events", limit=50).to_list()),
        ("lead (p90): details", lambda: source.lead(typical)),
        ("lead (heaviest): details", lambda: source.lead(heavy)),
        ("lead (heaviest): activities (100)", lambda: source.lead_activities(
            heavy, limit=100).to_list()),
        ("lead (heaviest): timeline (100)", lambda: source.timeline(heavy,
                                                                    limit=100).to_list()),
        ("lead (heaviest): credits (100)", lambda: source.lead_credits(heavy,
                                                                       limit=100).to_list()),
        ("activities: first page (100)", lambda: source.activities(
            end=end, limit=100).to_list()),
        ("activities: where plan:eq:pro (100)", lambda: source.activities(
            end=end, where="plan:eq:pro", limit=100).to_list()),
        ("activities: search checkout (100)", lambda: source.activities(
            end=end, search="checkout", limit=100).to_list()),
        ("activities: first of 7 days, eventName", lambda: first(source.activities(
            event="signup_completed", start=week, end=end))),
    ]


def _time(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    started = time.perf_counter()
    call()
    cold = (time.perf_counter() - started) * 1000
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        warm.append((time.perf_counter() - started) * 1000)
    return cold, statistics.median(warm)


def time_analytics(path: Path, client: Client, meta: Any, repeat: int,
                   log: Callable[[str], None]) -> list:
    """Each analytic on a fresh LocalSource (cold, then warm), beside the server's."""
    results = []
    with LocalSource(path) as probe:
        end = probe.end
        names = [name for name, _ in analytics(probe, meta, end)]
    served = dict(analytics(client, meta, end))
    for name in names:
        source = LocalSource(path)  # cold: a new connection to the file
        cold, warm = _time(dict(analytics(source, meta, end))[name], repeat)
        source.close()
        _, server = _time(served[name], max(1, repeat // 2))
        results.append({"name": name, "cold_ms": cold, "warm_ms": warm, "server_ms": server,
                        "passed": warm <= ANALYTIC_TARGET_MS})
        log(f"  {name}: cold {cold:.0f} ms, warm {warm:.0f} ms; server {server:.0f} ms")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if args.json else \
        (lambda s: print(s, flush=True))
    database_url = \
        f"sqlite:///{Path(tempfile.gettempdir()) / f'growthkit-bench-queries-{args.events}.db'}"
    reuse = queries.seeding.load_meta(database_url) is not None
    prepared = argparse.Namespace(database_url=database_url, events=args.events, reuse=reuse,
                                  seed=args.seed)
    load_before = os.getloadavg()
    meta = queries.prepare(prepared, log)
    raw = raw_insert_rate(database_url, meta.app_id, log)
    log(f"baseline raw insert: {raw['rows_per_s']:,.0f} rows/s ({raw['with_indexes_s']:.1f} s)")
    port = queries._free_port()
    os.environ["GROWTHKIT_QUERY_CACHE_SECONDS"] = "0"  # the baseline computes every answer
    server = queries.start_server(database_url, port,
                                  Path(tempfile.gettempdir()) / "growthkit-bench-client.log")
    target = Path(tempfile.gettempdir()) / f"growthkit-bench-snapshot-{args.events}.db"
    url = f"http://127.0.0.1:{port}"
    try:
        snap = take_snapshot(url, meta.secret_key, target, log)
        log(f"snapshot: {snap['events']:,} events in {snap['seconds']:.1f} s "
            f"({snap['events_per_s']:,.0f} events/s)")
        with Client(url, meta.secret_key, timeout=600) as client:
            timings = time_analytics(target, client, meta, args.repeat, log)
    finally:
        server.terminate()
        server.wait(30)
    report = {"machine": queries.machine(), "commit": queries.git_state(),
              "store": f"SQLite {sqlite3.sqlite_version}", "events": meta.events,
              "load_before": load_before, "load_after": os.getloadavg(),
              "baseline_raw_insert": raw, "snapshot": snap, "local_source": timings}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = report["machine"]
    print(f"\n{report['store']}, {meta.events:,} events; {m['cpus']} CPUs ({m['cpu']}); load "
          f"{' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in report['load_after'])} after; commit "
          f"{report['commit']}")
    verdict = "pass" if snap["seconds"] <= SNAPSHOT_TARGET_S else \
        f"**fail** ({snap['seconds'] / SNAPSHOT_TARGET_S:.1f}x)"
    print(f"\n| snapshot of {snap['events']:,} events | seconds | events/s | target "
          f"{SNAPSHOT_TARGET_S:.0f} s |\n| --- | ---: | ---: | :---: |")
    print(f"| baseline: raw executemany into a core-schema file | {raw['with_indexes_s']:.1f} | "
          f"{raw['rows_per_s']:,.0f} | — |")
    print(f"| `Client.snapshot()` over HTTP | {snap['seconds']:.1f} | "
          f"{snap['events_per_s']:,.0f} | {verdict} |")
    print(f"\nstages (s): {', '.join(f'{k} {v}' for k, v in snap['stages_s'].items())}; "
          f"file {snap['bytes'] / 1e6:,.0f} MB\n")
    print(f"| analytic | server over HTTP, p50 ms (baseline) | LocalSource cold ms | "
          f"LocalSource warm p50 ms | target {ANALYTIC_TARGET_MS:.0f} ms |")
    print("| --- | ---: | ---: | ---: | :---: |")
    for r in timings:
        verdict = "pass" if r["passed"] else f"**fail** ({r['warm_ms'] / ANALYTIC_TARGET_MS:.1f}x)"
        print(f"| {r['name']} | {r['server_ms']:.0f} | {r['cold_ms']:.0f} | {r['warm_ms']:.0f} "
              f"| {verdict} |")


if __name__ == "__main__":
    main()
