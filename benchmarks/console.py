"""The console against a server holding 1M events: connect → every dock filled, the longest
GUI event-loop stall while the live feed takes 200 events/s, and memory with 100k feed rows.

Runs the real server (`python -m growthkit serve`) on a copy of benchmarks/queries.py's
seeded SQLite store (seeded first when missing) and the real console in this process
(offscreen unless DISPLAY is set). Each figure is printed beside a baseline from the same
run: the docks' queries called one after another on one thread through the same Client
(their slowest one is what a perfectly parallel console could reach), the same stall timer
on the idle console, and the same 100k activities held as plain JSON dicts.

    .venv/bin/python benchmarks/console.py            # SQLite, 1M events
    .venv/bin/python benchmarks/console.py --json     # the figures as JSON too
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import queries  # noqa: E402  (the sibling script: server start, machine, git state)
import seed as seeding  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from growthkit.console.app import Console  # noqa: E402
from growthkit.console.settings import ConsoleSettings  # noqa: E402

FILLED_TARGET_MS = 500.0
STALL_TARGET_MS = 50.0
SHARED = Path(tempfile.gettempdir()) / "growthkit-bench-queries-1000000.db"
COPY = Path(tempfile.gettempdir()) / "growthkit-bench-console-1000000.db"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare_store(log) -> tuple[str, seeding.Seeded]:  # noqa: ANN001
    """A private copy of the queries benchmark's 1M store (the feed writes into it)."""
    if not (COPY.exists() and seeding.meta_path(f"sqlite:///{COPY}").exists()):
        if not SHARED.exists() or seeding.load_meta(f"sqlite:///{SHARED}") is None:
            log(f"seeding {SHARED} with 1,000,000 events (about a minute)…")
            engine = seeding.open_engine(f"sqlite:///{SHARED}")
            meta = seeding.seed(engine, 1_000_000, log=log)
            seeding.meta_path(f"sqlite:///{SHARED}").write_text(json.dumps(meta.to_json()))
            engine.dispose()
        log(f"copying {SHARED} to {COPY}")
        shutil.copyfile(SHARED, COPY)
        shutil.copyfile(seeding.meta_path(f"sqlite:///{SHARED}"),
                        seeding.meta_path(f"sqlite:///{COPY}"))
    url = f"sqlite:///{COPY}"
    return url, seeding.load_meta(url)


def public_key(url: str, app_id: str) -> str:
    from growthkit.core import apps as core_apps

    engine = seeding.open_engine(url)
    with engine.connect() as conn:
        key = core_apps.get_app(conn, app_id).public_key
    engine.dispose()
    return key


def wait(app: QApplication, done, timeout: float = 120.0) -> float:  # noqa: ANN001
    """Spin the event loop until done(); returns the seconds it took."""
    started = time.perf_counter()
    while not done():
        if time.perf_counter() - started > timeout:
            raise SystemExit("timed out waiting for the console")
        app.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - started


def loaded_docks(console: Console) -> list[str]:
    return [n for n, d in console.window.docks.items() if d.spec.load is not None]


def visible_docks(console: Console) -> list[str]:
    """Docks with a loader that show on screen (not a tab behind another, not hidden)."""
    return [n for n in loaded_docks(console)
            if not console.window.docks[n].dock.visibleRegion().isEmpty()]


def connect_and_fill(app: QApplication, url: str, key: str, settings: ConsoleSettings
                     ) -> tuple[float, Console, dict[str, Any]]:
    """Milliseconds from console.start(url, key) to every visible dock showing its first
    answer; when the window opened, each dock got there, and the GUI's longest stall."""
    meter = StallMeter()
    meter.start()
    console = Console(app, settings)
    started = time.perf_counter()
    console.start(url=url, key=key)
    wait(app, lambda: console.window is not None)
    window_ms = (time.perf_counter() - started) * 1000
    app.processEvents()
    names = loaded_docks(console)
    when: dict[str, float] = {}

    def filled(wanted: list[str]) -> bool:
        for n in names:
            if n not in when and console.window.docks[n].frame.refreshed_at is not None:
                when[n] = (time.perf_counter() - started) * 1000
        return all(n in when for n in wanted)

    visible = visible_docks(console)
    wait(app, lambda: filled(visible))
    elapsed = (time.perf_counter() - started) * 1000
    wait(app, lambda: filled(names))
    stall = meter.stop()
    return elapsed, console, {"window_ms": window_ms, "visible": visible, "filled_ms": when,
                              "stall_max_ms": stall["max_ms"]}


def serial_baseline(console: Console) -> dict[str, float]:
    """Each dock's loader, one after another on this thread, through the console's Client."""
    window = console.window
    ctx = window.context()
    out = {}
    for name, d in window.docks.items():
        if d.spec.load is None:
            continue
        params = d.widget.query_params() if hasattr(d.widget, "query_params") else {}
        started = time.perf_counter()
        d.spec.load(window.session.source, dataclasses.replace(ctx, params=params))
        out[name] = (time.perf_counter() - started) * 1000
    return out


class StallMeter:
    """A 10 ms precise timer on the GUI thread; lateness = interval - 10 ms."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.late: list[float] = []
        self._last = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.late.append(max(0.0, (now - self._last) * 1000 - 10))
        self._last = now

    def start(self) -> None:
        self.late, self._last = [], 0.0
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        late = sorted(self.late) or [0.0]
        return {"max_ms": late[-1], "p99_ms": late[int(len(late) * 0.99)],
                "ticks": len(late)}

    def run(self, app: QApplication, seconds: float) -> dict[str, float]:
        self.start()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.0005)
        return self.stop()


def send_traffic(base: str, key: str, rate: int, seconds: float) -> int:
    """`rate` events/s to /api/v1/track for `seconds`, in batches of 20 (10 a second at
    200/s); answers how many were accepted. Runs in a process of its own (--traffic), so
    its work does not compete with the console for this process's GIL."""
    batch, sent = 20, 0
    period = batch / rate
    with httpx.Client(base_url=base, timeout=10) as http:
        started = next_at = time.perf_counter()
        while time.perf_counter() - started < seconds:
            events = [{"id": str(uuid.uuid4()), "eventName": "page_viewed",
                       "properties": {"path": "/bench"}} for _ in range(batch)]
            r = http.post("/api/v1/track", headers={"Authorization": f"Bearer {key}"},
                          json={"fingerprint": f"fp_bench_{sent % 97}", "events": events})
            if r.status_code == 200:
                sent += r.json()["accepted"]
            next_at += period
            time.sleep(max(0.0, next_at - time.perf_counter()))
    return sent


def start_traffic(base: str, key: str, rate: int, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--traffic", base, key, str(rate),
                             str(seconds)], stdout=subprocess.PIPE, text=True)


def feed_memory(app: QApplication, console: Console, rows: int) -> dict[str, float]:
    """RSS growth when the live feed holds `rows` activities, against the same activities
    held as plain dicts (the JSON the feed was handed)."""
    feed = console.window.feed()
    sample = [a.to_json() for a in console.window.session.source.activities(limit=1000)]

    def make(n: int) -> list[dict]:
        return [{**sample[i % len(sample)], "id": str(uuid.uuid4()), "seq": 10**9 + i}
                for i in range(n)]

    feed.jump_to_top()
    app.processEvents()
    before = rss_mb()
    shown_before = feed.model.rowCount()
    for lo in range(0, rows, 5000):
        feed.add_events(make(min(5000, rows - lo)))
        feed.flush()
        app.processEvents()
    after = rss_mb()
    held = feed.model.rowCount()
    base_before = rss_mb()
    plain = make(rows)
    base_after = rss_mb()
    del plain
    return {"rows_before": shown_before, "rows_held": held, "feed_mb": after - before,
            "plain_dicts_mb": base_after - base_before}


def main() -> None:
    if sys.argv[1:2] == ["--traffic"]:
        base, key, rate, seconds = sys.argv[2:6]
        print(send_traffic(base, key, int(rate), float(seconds)))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="stall measurement length")
    ap.add_argument("--rate", type=int, default=200, help="live events per second")
    ap.add_argument("--rows", type=int, default=100_000, help="feed rows for the memory figure")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    log = print
    url, meta = prepare_store(log)
    port = queries._free_port()
    server_log = Path(tempfile.gettempdir()) / "growthkit-bench-console-server.log"
    proc = queries.start_server(url, port, server_log)
    base = f"http://127.0.0.1:{port}"
    report: dict[str, Any] = {"machine": queries.machine(), "commit": queries.git_state(),
                              "events": meta.events, "platform": os.environ["QT_QPA_PLATFORM"]}
    try:
        app = QApplication.instance() or QApplication([])
        settings = ConsoleSettings(Path(tempfile.mkdtemp()) / "console.ini")
        cold_ms, console, cold = connect_and_fill(app, base, meta.secret_key, settings)
        report["docks"] = loaded_docks(console)
        report["connect_to_filled_cold_ms"] = cold_ms
        report["cold"] = cold
        console.window.close()
        console.shutdown()
        time.sleep(6)  # past the server's answer cache (5 s)
        warm_ms, console, warm = connect_and_fill(app, base, meta.secret_key, settings)
        report["connect_to_filled_warm_ms"] = warm_ms
        report["warm"] = warm
        time.sleep(6)
        serial = serial_baseline(console)
        report["baseline_serial_ms"] = serial
        shown = warm["visible"]
        report["baseline_slowest_query_ms"] = max(serial[n] for n in shown)
        report["baseline_sum_ms"] = sum(serial[n] for n in shown)
        wait(app, lambda: console.window.connection_state == "live", 30)
        meter = StallMeter()
        report["stall_idle"] = meter.run(app, args.seconds)
        rows_before = console.window.feed().model.rowCount()
        traffic = start_traffic(base, public_key(url, meta.app_id), args.rate, args.seconds)
        report["stall_feed"] = meter.run(app, args.seconds)
        sent = int(traffic.communicate(timeout=60)[0].strip() or 0)
        wait(app, lambda: console.window.feed().model.rowCount() - rows_before >= sent, 30)
        report["feed_events_sent"] = sent
        report["feed_rate_per_s"] = sent / args.seconds
        report["feed_rows_shown"] = console.window.feed().model.rowCount() - rows_before
        report["memory"] = feed_memory(app, console, args.rows)
        report["rss_mb"] = rss_mb()
        console.window.close()
        console.shutdown()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print_report(report)
    if args.json:
        print(json.dumps(report, indent=2))


def print_report(r: dict[str, Any]) -> None:
    m = r["machine"]
    print(f"\nconsole against {r['events']:,} events (SQLite), commit {r['commit']}, "
          f"{m['cpus']} CPUs ({m['cpu']}), load {m['load'][0]:.1f}, Qt {r['platform']}")
    print(f"visible docks: {', '.join(r['warm']['visible'])}; also loaded: "
          f"{', '.join(n for n in r['docks'] if n not in r['warm']['visible'])}")
    print(f"{'figure':<46} {'measured':>9} {'baseline':>9}  target / baseline")
    print(f"{'connect -> visible docks filled, cold (ms)':<46} "
          f"{r['connect_to_filled_cold_ms']:>9.0f} {r['baseline_slowest_query_ms']:>9.0f}  "
          f"<= {FILLED_TARGET_MS:.0f}; slowest visible dock's query alone")
    print(f"{'connect -> visible docks filled, warm (ms)':<46} "
          f"{r['connect_to_filled_warm_ms']:>9.0f} {r['baseline_sum_ms']:>9.0f}  "
          f"<= {FILLED_TARGET_MS:.0f}; their queries one after another")
    print(f"{'  window open (connection checked), warm (ms)':<46} "
          f"{r['warm']['window_ms']:>9.0f}")
    print(f"{'  longest GUI stall while connecting (ms)':<46} "
          f"{r['warm']['stall_max_ms']:>9.0f} {r['cold']['stall_max_ms']:>9.0f}  (warm, cold)")
    for name, ms in sorted(r["baseline_serial_ms"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:<44} {r['warm']['filled_ms'].get(name, 0):>9.0f} {ms:>9.0f}  "
              "filled at (warm) / its query alone")
    print(f"{'longest event-loop stall, feed at 200/s (ms)':<46} "
          f"{r['stall_feed']['max_ms']:>9.1f} {r['stall_idle']['max_ms']:>9.1f}  "
          f"<= {STALL_TARGET_MS:.0f}; idle console")
    print(f"{'  p99 timer lateness (ms)':<46} {r['stall_feed']['p99_ms']:>9.1f} "
          f"{r['stall_idle']['p99_ms']:>9.1f}")
    print(f"{'  feed: events sent / shown':<46} {r['feed_events_sent']:>9} "
          f"{r['feed_rows_shown']:>9}  ({r['feed_rate_per_s']:.0f}/s)")
    mem = r["memory"]
    label = f"memory of {mem['rows_held']:,} feed rows (MB)"
    print(f"{label:<46} {mem['feed_mb']:>9.0f} {mem['plain_dicts_mb']:>9.0f}  "
          "the same rows as plain dicts")
    print(f"{'console process RSS at the end (MB)':<46} {r['rss_mb']:>9.0f}")


if __name__ == "__main__":
    main()
