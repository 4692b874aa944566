"""docs/client.md's examples, run as written against a real server (URL and keys swapped)."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from pathlib import Path

from growthkit.core.clock import now_ms

DOC = Path(__file__).resolve().parent.parent / "docs" / "client.md"
DAY = 86_400_000


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def seed(server, public: str) -> None:
    now = now_ms()
    for i, plan in enumerate(["pro", "pro", "free"]):
        fp = f"fp_{i}"
        t = now - (i + 1) * DAY
        events = [{"eventName": "page_viewed", "timestamp": t},
                  {"eventName": "signup_completed", "properties": {"plan": plan},
                   "timestamp": t + 60_000}]
        if i == 0:
            events.append({"eventName": "purchase", "properties": {"plan": "pro"},
                           "timestamp": t + 120_000})
        r = server.track(public, {"fingerprint": fp, "events": events})
        assert r.status_code == 200, r.text


def test_every_example_in_docs_client_md_runs(live_server, tmp_path, monkeypatch):
    app = live_server.create_app("Docs", rateLimitPerMinute=10_000)
    seed(live_server, app.public)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the Tracker's queue

    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 10
    namespace: dict = {}
    out = io.StringIO()
    for number, block in enumerate(blocks, 1):
        code = (block.replace("http://127.0.0.1:8000", live_server.base_url)
                .replace("sk_…", app.secret).replace("pk_…", app.public))
        done = threading.Event()
        feeder = None
        if "client.stream(" in code:  # something to watch: signups while the block runs
            def feed(done: threading.Event = done) -> None:
                n = 0
                while not done.wait(0.2):
                    n += 1
                    live_server.track(app.public, {"fingerprint": "fp_live", "events": [
                        {"eventName": "signup_completed", "properties": {"n": n}}]})
            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"docs/client.md block {number}", "exec"), namespace)
        finally:
            done.set()
            if feeder:
                feeder.join()

    printed = out.getvalue()
    assert "up " in printed and "needs the app's secret key" in printed
    assert "export cancelled" in printed
    assert sorted(p.name for p in work.iterdir()) == [
        "shop.gksnap", "signups.csv", "week.parquet"]
    assert "a read-only copy" in printed
    # The cache's first sync fetched every event stored before it (the Tracker's came later).
    synced = live_server.scalar("SELECT count(*) FROM activities WHERE app_id = :a AND "
                                "event_name <> 'invoice_paid'", a=app.id)
    assert f"{synced} events fetched" in printed
    assert len(list((tmp_path / "data" / "growthkit" / "cache").glob("*.db"))) == 1
    assert namespace["resume_from"] is not None
    assert live_server.scalar("SELECT count(*) FROM activities WHERE event_name = "
                              "'invoice_paid'") == 1
    assert live_server.scalar("SELECT email FROM leads WHERE fingerprint = :fp",
                              fp=namespace["fp"]) == "ada@example.com"
