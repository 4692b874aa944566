"""Ingest benchmark: events/s through POST /api/v1/track against the raw bulk-insert rate.

The load comes from wrk (a separate C process, so the generator does not compete with the
server for the GIL), with benchmarks/track.lua making 10-event batches with unique event ids
from many fingerprints. For each server process count (`--workers 1,2,4`) it reports:
10-event batches at full load (events/s stored, p50/p99), p50/p99 at half that rate, and
1-event requests per second sent as browser beacons (text/plain, ?beacon=1). Printed beside
them, measured in the same run on the same store just before each configuration: the raw
bulk-insert rate of the same rows (SQLite: executemany in large transactions; PostgreSQL:
COPY), and the machine's load average.

    python benchmarks/ingest.py                                    # SQLite file in a temp dir
    python benchmarks/ingest.py --database-url postgresql://root@127.0.0.1:5432/test
    python benchmarks/ingest.py --workers 1,2,4 --redis-url redis://127.0.0.1:6379/0 \
        --database-url postgresql://root@127.0.0.1:5432/test --duration 10 --json

Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from sqlalchemy import make_url, text

from growthkit.core import apps as core_apps
from growthkit.core.clock import now_ms
from growthkit.core.store import migrate, normalize_url, open_engine, write_connection

HERE = Path(__file__).parent
TARGET_EVENTS_PER_S = 20_000
TARGET_RATIO = 0.30
TARGET_P99_MS = 50.0
CONTEXT = {"url": "https://app.example/", "userAgent": "Mozilla/5.0 (X11; Linux x86_64) "
           "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
           "screenResolution": "1920x1080", "viewport": "1280x720", "browser": "Chrome 124",
           "os": "Linux", "device": "desktop"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Store:
    """A fresh store for one run: a SQLite file, or a PostgreSQL schema dropped afterwards."""

    def __init__(self, url: str | None, tmp: Path):
        self.admin = None
        if url and url.startswith(("postgresql", "postgres")):
            self.schema = "bench_ingest_" + uuid.uuid4().hex[:8]
            self.admin = open_engine(url)
            with self.admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            # The run's own schema, whatever search_path the given URL named.
            self.url = make_url(normalize_url(url)).update_query_dict(
                {"options": f"-csearch_path={self.schema}"}).render_as_string(
                    hide_password=False)
        else:
            self.url = url or f"sqlite:///{tmp / 'ingest.db'}"
        self.engine = open_engine(self.url)
        migrate(self.engine)

    @property
    def kind(self) -> str:
        return self.engine.dialect.name

    def count(self, app_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM activities WHERE app_id = :a"),
                                {"a": app_id}).scalar()

    def close(self) -> None:
        self.engine.dispose()
        if self.admin is not None:
            with self.admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            self.admin.dispose()


def raw_insert_rate(store: Store, app_id: str, rows: int = 200_000) -> float:
    """Rows/s of the plainest bulk insert of the same rows into the same table."""
    now = now_ms()
    props = [orjson.dumps({"path": f"/p/{i % 50}", "n": i % 10}).decode() for i in range(1000)]
    ctx = orjson.dumps(CONTEXT).decode()
    data = [(f"raw-{i}", app_id, f"fp_{i % 5000}", "page_viewed", props[i % 1000], ctx,
             f"s_{i % 5000}", now - i, now) for i in range(rows)]
    cols = ("id, app_id, fingerprint_id, event_name, properties, context, session_id, "
            "timestamp, received_at")
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        start = time.perf_counter()
        if store.kind == "postgresql":
            with cur.copy(f"COPY activities ({cols}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
            raw.commit()
        else:
            for i in range(0, rows, 20_000):
                cur.execute("BEGIN")
                cur.executemany(f"INSERT INTO activities ({cols}) VALUES (?,?,?,?,?,?,?,?,?)",
                                data[i:i + 20_000])
                cur.execute("COMMIT")
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
    return rows / elapsed


def start_server(store: Store, port: int, workers: int, redis_url: str | None):
    env = {**os.environ, "GROWTHKIT_DATABASE_URL": store.url,
           "GROWTHKIT_LOG_LEVEL": os.environ.get("GROWTHKIT_LOG_LEVEL", "warning")}
    if redis_url:
        env["GROWTHKIT_REDIS_URL"] = redis_url
    # The server's log goes to a file: a pipe nobody reads would stop the server once full.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen([sys.executable, "-m", "growthkit", "serve", "--port", str(port),
                             "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError("server exited: " + log.read().decode()[-2000:]) from None
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the group: --workers children die with it
    raise RuntimeError("server did not start within 120 s")


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process `root` and its descendants (Linux).

    Per request it is a figure that other work on the machine barely moves, where the
    request rate falls with the machine's load."""
    parents, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], used[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(used.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, key: str, seconds: int, connections: int, delay_ms: float = 0,
            fingerprints: int = 5000, events: int = 10, beacon: bool = False) -> dict:
    env = {**os.environ, "GK_KEY": key, "GK_DELAY_MS": str(int(delay_ms)),
           "GK_FINGERPRINTS": str(fingerprints), "GK_EVENTS": str(events),
           "GK_BEACON": "1" if beacon else "0"}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(HERE / "track.lua"), f"http://127.0.0.1:{port}"],
                         env=env, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$", out, re.M))
    if len(latency) < 4:
        print(f"wrk printed no full latency distribution:\n{out}", file=sys.stderr)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": requests, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "p50_ms": _ms(latency.get("50")), "p99_ms": _ms(latency.get("99")),
            "non2xx": int(errors[1]) if errors else 0}


def _ms(value: str | None) -> float:
    if value is None:  # wrk prints no distribution when no request completed
        return float("nan")
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    parser.add_argument("--redis-url", help="share rate limits and the live feed between "
                        "processes (used for more than one)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each load run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1",
                        help="server process counts, comma-separated (e.g. 1,2,4)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed for the load: apt-get install wrk")
    counts = [int(n) for n in args.workers.split(",")]
    if max(counts) > 1 and not args.redis_url:
        sys.exit("several server processes need --redis-url (growthkit serve refuses them "
                 "without Redis: docs/scaling.md)")

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database_url, Path(tmp))
        try:
            for workers in counts:
                runs.append(measure(store, args, workers))
        finally:
            store.close()
    if args.json:
        print(json.dumps(runs, indent=2))
        return
    for figures in runs:
        report(figures, args)


def report(figures: dict, args: argparse.Namespace) -> None:
    full, half, beacon = figures["full"], figures["half"], figures["beacon"]
    print(f"\nstore: {figures['store']}  workers: {figures['workers']}  "
          f"connections: {args.connections}  cores: {os.cpu_count()}  "
          f"load average: {figures['load_before']:.1f} before, {figures['load_after']:.1f} after")
    print(f"{'figure':<38}{'measured':>14}{'baseline/target':>22}")
    print(f"{'raw bulk insert (baseline)':<38}{figures['raw_rows_per_s']:>14,.0f}{'rows/s':>22}")
    print(f"{'ingest, full load':<38}{figures['events_per_s']:>14,.0f}"
          f"{f'target {TARGET_EVENTS_PER_S:,} ev/s':>22}")
    print(f"{'ingest / raw insert':<38}{figures['ratio']:>14.0%}"
          f"{f'target {TARGET_RATIO:.0%}':>22}")
    print(f"{'latency p50 / p99, full load (ms)':<38}"
          f"{full['p50_ms']:>7.1f} /{full['p99_ms']:>5.1f}{'':>22}")
    print(f"{'server CPU per 10-event request (µs)':<38}"
          f"{full['server_cpu_us_per_request']:>14,.0f}{'all its processes':>22}")
    print(f"{'load for the latency run (ev/s)':<38}{half['rps'] * 10:>14,.0f}")
    print(f"{'latency p50 / p99, half load (ms)':<38}{half['p50_ms']:>7.1f} /"
          f"{half['p99_ms']:>5.1f}{f'target p99 < {TARGET_P99_MS:.0f} ms':>22}")
    latency = f"p50/p99 {beacon['p50_ms']:.1f}/{beacon['p99_ms']:.1f} ms"
    print(f"{'1-event beacons (requests/s)':<38}{figures['beacons_per_s']:>14,.0f}"
          f"{latency:>22}")
    print(f"{'server CPU per beacon (µs)':<38}"
          f"{beacon['server_cpu_us_per_request']:>14,.0f}")
    caught = figures["rollup_caught_up_s"]
    print(f"{'rollups behind after the runs (events)':<38}{figures['rollup_lag_rows']:>14,}"
          f"{'caught up in ' + (f'{caught:.0f} s' if caught is not None else '> 600 s'):>22}")
    print(f"{'non-2xx responses (all runs)':<38}"
          f"{full['non2xx'] + half['non2xx'] + beacon['non2xx']:>14,}")


def rollup_lag(store: Store) -> int:
    """Stored events the rollup refresh has not reached yet."""
    with store.engine.connect() as conn:
        return conn.execute(text(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM activities) - COALESCE((SELECT seq "
            "FROM rollup_state WHERE name = 'counts'), 0)")).scalar()


def rollup_catch_up(store: Store, timeout_s: float = 600) -> dict:
    """The server yields the store to ingest and rolls up after a burst: how far behind the
    load left the rollups, and how long the server's refresh (every 30 s) took to catch up."""
    lag, started = rollup_lag(store), time.perf_counter()
    while rollup_lag(store) > 0 and time.perf_counter() - started < timeout_s:
        time.sleep(0.5)
    left = rollup_lag(store)
    return {"rollup_lag_rows": lag, "rollup_caught_up_s": None if left else
            time.perf_counter() - started}


def stored_rate(store: Store, app_id: str, server: int, run) -> tuple[dict, float]:
    """Run the load; (wrk's figures with the server's CPU µs per request, events stored
    per second over the run)."""
    before, cpu = store.count(app_id), cpu_seconds(server)
    started = time.perf_counter()
    figures = run()
    elapsed = time.perf_counter() - started
    figures["server_cpu_us_per_request"] = ((cpu_seconds(server) - cpu) * 1e6
                                            / max(figures["requests"], 1))
    return figures, (store.count(app_id) - before) / elapsed


def measure(store: Store, args: argparse.Namespace, workers: int) -> dict:
    load_before = os.getloadavg()[0]
    with write_connection(store.engine) as conn, conn.begin():
        raw_app = core_apps.create_app(conn, "raw-baseline")
        app = core_apps.create_app(conn, "bench", {"rateLimitPerMinute": 1_000_000_000})
    print(f"[{workers} process(es)] measuring the raw bulk-insert rate …", file=sys.stderr)
    raw_rate = raw_insert_rate(store, raw_app.app.id)
    port = free_port()
    key, seconds, connections = app.app.public_key, args.duration, args.connections
    # Redis only where it is needed: several processes share rate limits and the live feed.
    server = start_server(store, port, workers, args.redis_url if workers > 1 else None)
    try:
        print("warming up …", file=sys.stderr)
        run_wrk(port, key, 3, connections)
        print(f"full load for {seconds} s …", file=sys.stderr)
        full, events_per_s = stored_rate(store, app.app.id, server.pid,
                                         lambda: run_wrk(port, key, seconds, connections))
        # Half the measured event rate: 16 connections, each pausing between requests.
        target_rps = full["rps"] / 2
        delay = max(0.0, 16 * 1000 / target_rps - (full["p50_ms"] or 0) / 2)
        print(f"half load (~{target_rps * 10:,.0f} ev/s) for {seconds} s …", file=sys.stderr)
        half = run_wrk(port, key, seconds, 16, delay_ms=delay)
        print(f"1-event beacons for {seconds} s …", file=sys.stderr)
        beacon, beacons_per_s = stored_rate(store, app.app.id, server.pid, lambda: run_wrk(
            port, key, seconds, connections, events=1, beacon=True))
        print("waiting for the rollups to catch up …", file=sys.stderr)
        catch_up = rollup_catch_up(store)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    return {"store": store.kind, "workers": workers, "raw_rows_per_s": raw_rate,
            "events_per_s": events_per_s, "ratio": events_per_s / raw_rate, "full": full,
            "half": half, "beacon": beacon, "beacons_per_s": beacons_per_s, **catch_up,
            "load_before": load_before, "load_after": os.getloadavg()[0]}


if __name__ == "__main__":
    main()
