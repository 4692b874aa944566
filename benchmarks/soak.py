"""Soak benchmark: does ingest throughput stay flat while a server runs and sees new visitors?

Starts the real server (`python -m growthkit serve`, one process) on a fresh store and loads
it with wrk (a separate C process) for several minutes, one wrk run per minute, every
request from a new fingerprint (benchmarks/soak.lua) as real traffic brings all day. Prints,
per minute: requests/s, events stored/s (counted in the store), the server process's CPU
time per request (which, unlike the rate, does not depend on what else the machine's cores
are doing), its resident memory and the machine's load average; then the last minute
against the first (the baseline of the same run). The target is a difference under 10%.

    python benchmarks/soak.py                                  # SQLite, 5 minutes
    python benchmarks/soak.py --database-url postgresql://root@127.0.0.1:5432/test \\
        --redis-url redis://127.0.0.1:6379/0 --events 10 --minutes 6

Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingest import Store, free_port, start_server

from growthkit.core import apps as core_apps
from growthkit.core.store import write_connection
from growthkit.server.ratelimit import MemoryWindows

HERE = Path(__file__).parent
TARGET_DIFFERENCE = 0.10


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)[1]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_minute(port: int, key: str, seconds: int, connections: int, events: int,
               run: str) -> tuple[int, int]:
    """(requests answered, non-2xx answers) of one wrk run."""
    env = {**os.environ, "GK_KEY": key, "GK_EVENTS": str(events), "GK_PREFIX": run}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                          "-s", str(HERE / "soak.lua"), f"http://127.0.0.1:{port}"],
                         env=env, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(re.search(r"(\d+) requests in", out)[1]), int(errors[1]) if errors else 0


def limiter_cost_us(budgets: int, hits: int = 200_000) -> float:
    """µs per grant of the in-memory limiter once it holds `budgets` budgets, each hit a
    new fingerprint (as in the soak), in this process."""
    windows = MemoryWindows(max_keys=max(budgets, 1))
    now = time.time()
    for i in range(budgets):
        windows.grant(("app", f"warm{i}"), 1, 100, now)
    started = time.perf_counter()
    for i in range(hits):
        windows.grant(("app", f"fp{i}"), 1, 100, now)
    return (time.perf_counter() - started) / hits * 1e6


def soak(store: Store, args: argparse.Namespace) -> dict:
    with write_connection(store.engine) as conn, conn.begin():
        # The default per-fingerprint limit (100/min) stays on: the limiter does real work.
        app = core_apps.create_app(conn, "soak")
    port = free_port()
    server = start_server(store, port, 1, args.redis_url)
    minutes = []
    try:
        start_rss = rss_mb(server.pid)
        before = store.count(app.app.id)
        for minute in range(1, args.minutes + 1):
            started, cpu = time.perf_counter(), cpu_seconds(server.pid)
            requests, non2xx = wrk_minute(port, app.app.public_key, args.minute_seconds,
                                          args.connections, args.events, f"m{minute}")
            elapsed = time.perf_counter() - started
            stored = store.count(app.app.id)
            row = {"minute": minute, "requests_per_s": requests / elapsed,
                   "events_per_s": (stored - before) / elapsed, "non2xx": non2xx,
                   "cpu_us_per_request": (cpu_seconds(server.pid) - cpu) / requests * 1e6,
                   "rss_mb": rss_mb(server.pid), "load": os.getloadavg()[0],
                   "events_total": stored}
            before = stored
            minutes.append(row)
            print(f"minute {minute}: {row['requests_per_s']:8,.0f} req/s "
                  f"{row['events_per_s']:8,.0f} events/s  "
                  f"{row['cpu_us_per_request']:6.0f} µs CPU/request  "
                  f"RSS {row['rss_mb']:6.1f} MB  load {row['load']:.1f}  non-2xx {non2xx}",
                  file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=60)
    first, last = minutes[0], minutes[-1]
    limiter = {n: limiter_cost_us(n) for n in (1_000, 200_000)}
    return {"limiter_us": limiter, "store": store.kind, "redis": bool(args.redis_url),
            "events_per_request": args.events,
            "connections": args.connections, "minute_seconds": args.minute_seconds,
            "start_rss_mb": start_rss, "minutes": minutes,
            "difference": (last["events_per_s"] - first["events_per_s"]) / first["events_per_s"],
            "cpu_difference": (last["cpu_us_per_request"] - first["cpu_us_per_request"])
            / first["cpu_us_per_request"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    parser.add_argument("--redis-url", help="rate limits in Redis instead of in memory")
    parser.add_argument("--minutes", type=int, default=5, help="how many minutes of load")
    parser.add_argument("--minute-seconds", type=int, default=60,
                        help="length of one measured 'minute' (shorter only for a try-out)")
    parser.add_argument("--events", type=int, default=1, help="events per request")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed for the load: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database_url, Path(tmp))
        try:
            figures = soak(store, args)
        finally:
            store.close()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    limiter = "Redis" if figures["redis"] else "memory"
    print(f"\nstore: {figures['store']}  rate limits: {limiter}  events/request: {args.events}"
          f"  connections: {args.connections}  cores: {os.cpu_count()}")
    print(f"{'minute':<8}{'requests/s':>12}{'events/s':>12}{'CPU µs/req':>12}{'RSS MB':>9}"
          f"{'load':>7}{'non-2xx':>9}")
    for row in figures["minutes"]:
        print(f"{row['minute']:<8}{row['requests_per_s']:>12,.0f}{row['events_per_s']:>12,.0f}"
              f"{row['cpu_us_per_request']:>12,.0f}{row['rss_mb']:>9.1f}{row['load']:>7.1f}"
              f"{row['non2xx']:>9}")
    first, last = figures["minutes"][0], figures["minutes"][-1]
    print(f"server RSS before the load: {figures['start_rss_mb']:.1f} MB")
    print(f"last minute vs first (baseline): {last['events_per_s']:,.0f} vs "
          f"{first['events_per_s']:,.0f} events/s = {figures['difference']:+.1%} "
          f"(target within ±{TARGET_DIFFERENCE:.0%}); "
          f"{last['events_total']:,} events and leads stored in all")
    small, big = figures["limiter_us"][1_000], figures["limiter_us"][200_000]
    print(f"in-memory rate limiter, per grant: {big:.2f} µs holding 200,000 budgets vs "
          f"{small:.2f} µs holding 1,000 (baseline)")
    print(f"server CPU per request, last minute vs first: {last['cpu_us_per_request']:,.0f} vs "
          f"{first['cpu_us_per_request']:,.0f} µs = {figures['cpu_difference']:+.1%}")


if __name__ == "__main__":
    main()
