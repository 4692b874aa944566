"""Ingest cost per request in CPU time: parsing, and the store write at several group sizes.

Where benchmarks/ingest.py measures the whole server under wrk (figures that fall with the
machine's load), this times the two halves of a /track request in one process on the CPU
clock (`time.process_time`, best of `--repeat` rounds), which other work on the machine
moves far less: `load_body` + `parse_batch` of the benchmark's 10-event batch, and
`write_batches` of groups of 1, 8 and 32 such requests in one transaction (what the group
writer commits), each on a fresh store. Beside them, the raw bulk-insert rate of the same
store measured in the same run (as in benchmarks/ingest.py).

    python benchmarks/ingest_cpu.py
    python benchmarks/ingest_cpu.py --database-url postgresql://root@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from ingest import CONTEXT, Store, raw_insert_rate  # noqa: E402

from growthkit.core import apps as core_apps  # noqa: E402
from growthkit.core.clock import now_ms  # noqa: E402
from growthkit.core.events import load_body, parse_batch  # noqa: E402
from growthkit.core.ingest import BatchWrite, write_batches  # noqa: E402
from growthkit.core.store import write_connection  # noqa: E402
from growthkit.server.user_agents import describe_user_agent  # noqa: E402

GROUPS = (1, 8, 32)


def batch_body(counter: int, events: int = 10) -> bytes:
    """The body benchmarks/track.lua sends: hex-prefixed ids, 5,000 fingerprints."""
    prefix = f"{int(time.time()):x}{random.randint(0, 0xFFFFFF):06x}"
    return orjson.dumps({
        "fingerprint": f"fp_{random.randint(1, 5000)}",
        "context": {k: CONTEXT[k] for k in ("url", "userAgent", "screenResolution",
                                            "viewport")},
        "events": [{"id": f"{prefix}-{counter}-{i}", "eventName": "page_viewed",
                    "properties": {"path": f"/p/{random.randint(1, 50)}", "n": i}}
                   for i in range(events)]})


def parse(body: bytes):  # noqa: ANN201
    return parse_batch(load_body(body), received_at=now_ms(), retention_days=365,
                       user_agent=CONTEXT["userAgent"], describe_user_agent=describe_user_agent,
                       body=body)


def parse_cost(repeat: int) -> float:
    bodies = [batch_body(n) for n in range(2000)]
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for body in bodies:
            parse(body)
        best = min(best, (time.process_time() - started) / len(bodies))
    return best * 1e6


def write_cost(store: Store, app_id: str, group: int, repeat: int, requests: int) -> float:
    best = float("inf")
    counter = 0
    for _ in range(repeat):
        parsed = []
        for _ in range(requests):
            counter += 1
            parsed.append(parse(batch_body(counter + group * 1_000_000)))
        started = time.process_time()
        for i in range(0, len(parsed), group):
            with write_connection(store.engine) as conn, conn.begin():
                write_batches(conn, [BatchWrite(app_id, [e for _, e in p.events])
                                     for p in parsed[i:i + group]])
        best = min(best, (time.process_time() - started) / len(parsed))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=640, help="per round and group size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    figures = {"parse_us": parse_cost(args.repeat)}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database_url, Path(tmp))
        try:
            with write_connection(store.engine) as conn, conn.begin():
                app = core_apps.create_app(conn, "bench")
                raw_app = core_apps.create_app(conn, "raw-baseline")
            write_cost(store, app.app.id, 32, 1, 64)  # warm the statement caches
            for group in GROUPS:
                figures[f"write_group_{group}_us"] = write_cost(
                    store, app.app.id, group, args.repeat, args.requests)
            figures["store"] = store.kind
            figures["raw_rows_per_s"] = raw_insert_rate(store, raw_app.app.id, 100_000)
        finally:
            store.close()
    figures["load_average"] = [load, os.getloadavg()[0]]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"\nstore: {figures['store']}  load average: {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after  (CPU µs per 10-event request, best of "
          f"{args.repeat})")
    print(f"{'parse (load_body + parse_batch)':<40}{figures['parse_us']:>10.0f} µs")
    for group in GROUPS:
        print(f"{f'store write, groups of {group}':<40}"
              f"{figures[f'write_group_{group}_us']:>10.0f} µs")
    print(f"{'raw bulk insert (baseline, wall clock)':<40}"
          f"{figures['raw_rows_per_s']:>10,.0f} rows/s")


if __name__ == "__main__":
    main()
