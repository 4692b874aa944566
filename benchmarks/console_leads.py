"""Console lead views: opening a lead with 10k events (profile, timeline, sessions, credits)
and searching 100k leads as you type, through a real server and the console's own code.

Seeds a fresh store (100k leads, one with 10k events in 400 sessions and 200 credit
operations, one with 10), starts `python -m growthkit serve` on it as a separate process,
and times, with the console's Client and offscreen widgets:

- open a lead: `lead_docks.load_profile` (GET lead, first timeline page, sessions, credits)
  plus `LeadProfileWidget.show_data` — for the 10k-event lead; baseline: the 10-event lead;
- lead search: `lead_docks.search_leads` plus `LeadsWidget.show_data` for an email part, a
  fingerprint prefix and a name — baseline: the unfiltered first page (an index read).

Each figure is the median (and max) of --repeat runs after one warm-up.

    .venv/bin/python benchmarks/console_leads.py
    .venv/bin/python benchmarks/console_leads.py --database-url \
        "postgresql://root@127.0.0.1:5432/test?options=-csearch_path%3Dbench_console"

A PostgreSQL schema named by search_path must exist (CREATE SCHEMA bench_console); it is
emptied first.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).parent))
from queries import _free_port, start_server  # noqa: E402  (the sibling script)
from sqlalchemy import insert, text  # noqa: E402

from growthkit.core import apps as core_apps  # noqa: E402
from growthkit.core.clock import now_ms  # noqa: E402
from growthkit.core.schema import activities, credit_operations, leads, metadata  # noqa: E402
from growthkit.core.store import migrate, open_engine, write_connection  # noqa: E402

LEADS = 100_000
STAR_EVENTS = 10_000
SESSIONS = 400
CREDIT_OPS = 200
TARGET_OPEN_MS = 300.0
TARGET_SEARCH_MS = 100.0
NAMES = ["page_viewed", "button_clicked", "project_created", "export_started", "search"]


def seed(database_url: str, log: Callable[[str], None]) -> tuple[str, str, str]:
    """A fresh store; returns (secret key, the 10k-event fingerprint, the 10-event one)."""
    engine = open_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate(engine)
    now = now_ms()
    with write_connection(engine) as conn, conn.begin():
        app = core_apps.create_app(conn, "Bench", {"rateLimitPerMinute": 1_000_000})
    app_id = app.app.id
    started = time.perf_counter()
    star, small = "fp_star_0001", "fp_small_0001"
    rows = []
    for i in range(LEADS):
        fp = (star if i == 0 else small if i == 1
              else f"fp_{hashlib.md5(str(i).encode()).hexdigest()[:20]}")
        rows.append({"app_id": app_id, "fingerprint": fp, "first_seen": now - 80 * 86_400_000,
                     "last_seen": now - (i % 1000) * 60_000,
                     "email": f"user{i}@{('gmail.com', 'example.com', 'acme.io')[i % 3]}"
                     if i % 5 == 0 else None,
                     "name": f"User {i}" if i % 5 == 0 else None,
                     "events": STAR_EVENTS if i == 0 else 10 if i == 1 else i % 50})
    start = now - 60 * 86_400_000
    events = []
    for fp, n in ((star, STAR_EVENTS), (small, 10)):
        per = max(n // (SESSIONS if n > 100 else 2), 1)
        for k in range(n):
            s = k // per
            ts = start + s * 3 * 3_600_000 + (k % per) * 20_000
            events.append({"id": f"{fp}-{k}", "app_id": app_id, "fingerprint_id": fp,
                           "event_name": NAMES[k % len(NAMES)],
                           "properties": {"path": f"/p/{k % 30}"},
                           "context": {"url": f"https://app.example/p/{k % 30}",
                                       "browser": "Chrome 120", "os": "Windows 10",
                                       "device": "desktop"},
                           "session_id": f"{fp}-s{s}", "timestamp": ts, "received_at": ts})
    ops, balance = [], 0
    for k in range(CREDIT_OPS):
        amount = 10 if k % 3 == 0 else -3
        if balance + amount < 0:
            amount = 10
        balance += amount
        ops.append({"id": f"op-{k}", "app_id": app_id, "fingerprint_id": star,
                    "action": "purchase" if amount > 0 else "create-project", "amount": amount,
                    "balance_after": balance, "reason": None,
                    "timestamp": start + k * 7 * 3_600_000})
    with write_connection(engine) as conn, conn.begin():
        conn.execute(insert(leads), rows)
        conn.execute(insert(activities), events)
        conn.execute(insert(credit_operations), ops)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    log(f"seeded {LEADS:,} leads, {len(events):,} events, {len(ops)} credit operations "
        f"in {time.perf_counter() - started:.1f} s")
    return app.secret_key, star, small


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm-up: connections, caches, Qt's first layout
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gk-console-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    key, star, small = seed(url, log)
    port = _free_port()
    server = start_server(url, port, tmp / "server.log")
    try:
        run(f"http://127.0.0.1:{port}", key, star, small, args.repeat, log,
            "postgresql" if url.startswith("postgresql") else "sqlite")
    finally:
        server.terminate()
        server.wait(timeout=20)


def run(base: str, key: str, star: str, small: str, repeat: int,
        log: Callable[[str], None], store: str) -> None:
    from PySide6.QtWidgets import QApplication

    from growthkit.api_client import Client
    from growthkit.console.docks import LoadContext
    from growthkit.console.lead_docks import load_profile, search_leads
    from growthkit.widgets.lead_profile import LeadProfileWidget
    from growthkit.widgets.leads import LeadsWidget

    qt = QApplication.instance() or QApplication([])
    client = Client(base, key)
    profile, dock = LeadProfileWidget(), LeadsWidget()
    profile.resize(1400, 900)
    dock.resize(900, 600)
    profile.show()
    dock.show()

    split: dict[str, list[float]] = {"fetch": [], "show": []}

    def open_lead(fp: str) -> Callable[[], None]:
        def go() -> None:
            t0 = time.perf_counter()
            data = load_profile(client, LoadContext(lead=fp), {})
            t1 = time.perf_counter()
            profile.show_data(data)
            qt.processEvents()
            split["fetch"].append((t1 - t0) * 1000)
            split["show"].append((time.perf_counter() - t1) * 1000)
        return go

    def search(q: str) -> Callable[[], None]:
        def go() -> None:
            dock.show_data(search_leads(client, {"search": q, "sort": "lastSeen", "seq": None}))
            qt.processEvents()
        return go

    log(f"\nconsole lead views — {store}, {LEADS:,} leads; median (max) of {repeat} runs, ms")
    base_med, base_max = timed(open_lead(small), repeat)
    split["fetch"].clear()
    split["show"].clear()
    med, worst = timed(open_lead(star), repeat)
    shown = len(profile.timeline.model.rows)
    fetch, show = statistics.median(split["fetch"]), statistics.median(split["show"])
    log(f"  open lead, 10 events (baseline)        {base_med:7.1f} ({base_max:.1f})")
    log(f"  open lead, 10k events + timeline       {med:7.1f} ({worst:.1f})   "
        f"target ≤ {TARGET_OPEN_MS:.0f}; {shown} timeline rows, "
        f"{len(profile.sessions.sessions.rows)} sessions shown")
    log(f"    of which: the four API calls {fetch:.1f}, showing them {show:.1f}")
    base_med, base_max = timed(search(""), repeat)
    log(f"  leads, first page unfiltered (baseline){base_med:7.1f} ({base_max:.1f})")
    for label, q in (("email part 'user777'", "user777"), ("fingerprint prefix 'fp_00'", "fp_00"),
                     ("name 'User 4242'", "User 4242"), ("no match 'zzzz'", "zzzz")):
        med, worst = timed(search(q), repeat)
        log(f"  search {label:32s}{med:7.1f} ({worst:.1f})   target ≤ {TARGET_SEARCH_MS:.0f}; "
            f"{len(dock.table.model_.rows)} leads listed")
    client.close()
    for widget in (profile, dock):  # before the interpreter tears Qt down
        widget.close()
        widget.deleteLater()
    qt.processEvents()


if __name__ == "__main__":
    main()
