"""The Python Tracker against real servers: batches, the on-disk queue across restarts of
the server and of the process, flush at exit, retries without duplicates, a bounded queue."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time

import pytest
from client_harness import CuttingProxy, ServeProcess, create_app, wait_for
from harness import free_port
from sqlalchemy import text

from growthkit.api_client import AuthError, Tracker
from growthkit.core.store import open_engine


@pytest.fixture
def serve(database_url):
    keys = create_app(database_url, rateLimitPerMinute=10_000)
    proc = ServeProcess(database_url).start()
    proc.keys = keys  # type: ignore[attr-defined]
    engine = open_engine(database_url)

    def stored() -> list[str]:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT id FROM activities ORDER BY seq"))]
    proc.stored = stored  # type: ignore[attr-defined]
    yield proc
    proc.stop()
    engine.dispose()


def test_batches_of_n_leave_by_themselves_and_flush_sends_the_rest(serve, tmp_path):
    with Tracker(serve.url, serve.keys.public, batch_size=3, flush_interval=3600,
                 queue_path=tmp_path / "q.sqlite3") as tracker:
        ids = [tracker.track("fp_1", "page_viewed", {"path": f"/{i}"}) for i in range(3)]
        wait_for(lambda: tracker.pending == 0, "a full batch to be sent")
        assert serve.stored() == ids
        ids.append(tracker.track("fp_1", "signup", session_id="s_1"))
        assert tracker.pending == 1  # not a full batch, the interval is far away
        assert tracker.flush() is True
        assert serve.stored() == ids and tracker.pending == 0


def test_the_queue_survives_a_server_outage_and_a_process_restart(serve, tmp_path):
    queue = tmp_path / "q.sqlite3"
    serve.stop()
    tracker = Tracker(serve.url, serve.keys.public, queue_path=queue, flush_interval=3600)
    ids = [tracker.track(f"fp_{i}", "page_viewed") for i in range(5)]
    assert tracker.flush(timeout=5) is False  # unreachable: nothing lost, all still queued
    tracker.close(timeout=1)
    serve.start()
    again = Tracker(serve.url, serve.keys.public, queue_path=queue, flush_interval=3600)
    assert again.pending == 5
    wait_for(lambda: again.pending == 0, "the earlier process's events to be sent")
    again.close()
    assert serve.stored() == ids


def test_flush_at_exit(serve, tmp_path):
    queue = tmp_path / "q.sqlite3"
    script = textwrap.dedent(f"""
        from growthkit.api_client import Tracker
        t = Tracker({serve.url!r}, {serve.keys.public!r}, queue_path={str(queue)!r},
                    flush_interval=3600, batch_size=50)
        for i in range(3):
            print(t.track("fp_exit", "job_finished", {{"n": i}}))
    """)  # no flush(), no close(): the process just ends
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    assert serve.stored() == out.stdout.split()


def test_a_lost_answer_is_sent_again_and_stored_once(serve, tmp_path):
    proxy = CuttingProxy(serve.port)
    try:
        tracker = Tracker(proxy.url, serve.keys.public, queue_path=tmp_path / "q.sqlite3",
                          flush_interval=3600)
        ids = [tracker.track("fp_1", "page_viewed") for _ in range(4)]
        proxy.cut_after_request()
        assert tracker.flush() is False  # stored by the server, but the answer was lost
        assert serve.stored() == ids and tracker.pending == 4
        assert tracker.flush() is True   # the same ids again: duplicates, stored once
        tracker.close()
        assert serve.stored() == ids and proxy.cuts == 1
    finally:
        proxy.close()


def test_rejected_events_are_dropped_and_logged_rate_limited_ones_wait(serve, tmp_path,
                                                                       caplog):
    caplog.set_level(logging.INFO, logger="growthkit.tracker")
    limited = create_app(serve.database_url, "Limited", rateLimitPerMinute=2)
    with Tracker(serve.url, limited.public, queue_path=tmp_path / "q.sqlite3",
                 flush_interval=3600) as tracker:
        old = tracker.track("fp_1", "page_viewed", timestamp=time.time() - 200 * 86400)
        kept = [tracker.track("fp_1", "page_viewed") for _ in range(3)]
        assert tracker.flush() is False  # one event waits out the rate limit
        assert tracker.pending == 1
        assert [q.id for q in tracker.queue.take(10, time.time() + 120)] == [kept[2]]
    assert f"event {old} (page_viewed) rejected by the server: timestamp is older" in caplog.text
    assert "over the rate limit wait" in caplog.text


def test_a_full_queue_drops_the_oldest_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="growthkit.tracker")
    down = f"http://127.0.0.1:{free_port()}"
    tracker = Tracker(down, "pk_x", queue_path=tmp_path / "q.sqlite3", max_queue=3,
                      flush_interval=3600)
    ids = [tracker.track("fp_1", "page_viewed") for _ in range(5)]
    assert tracker.pending == 3 and tracker.queue.dropped == 2
    assert [q.id for q in tracker.queue.take(10, time.time())] == ids[2:]
    assert "is full (3 events): dropped the oldest" in caplog.text
    tracker.close(timeout=1)


def test_bad_input_is_refused_at_once(tmp_path):
    with pytest.raises(AuthError, match="public key"):
        Tracker("http://127.0.0.1:9", "sk_secret", queue_path=tmp_path / "a.sqlite3")
    tracker = Tracker("http://127.0.0.1:9", "pk_x", queue_path=tmp_path / "b.sqlite3")
    with pytest.raises(ValueError, match="event_name must be 1-200 characters"):
        tracker.track("fp_1", "bad<name>")
    with pytest.raises(ValueError, match="fingerprint"):
        tracker.track("", "ok")
    with pytest.raises(ValueError, match="JSON-serializable"):
        tracker.track("fp_1", "ok", {"when": object()})
    assert tracker.pending == 0
    tracker.close(timeout=1)
