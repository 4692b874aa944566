"""The client against real servers on sockets: restarts, lost answers, the live stream's
reconnect and resume, and what each connection failure is called."""

from __future__ import annotations

import http.server
import threading

import pytest
from client_harness import CuttingProxy, ServeProcess, create_app, wait_for
from harness import free_port

from growthkit.api_client import (
    Client,
    NotAGrowthKitServer,
    ServerUnavailable,
    TLSError,
)


@pytest.fixture
def serve(database_url):
    """One real server on the test's store, plus its app; stopped at the end."""
    keys = create_app(database_url, rateLimitPerMinute=10_000)
    proc = ServeProcess(database_url).start()
    proc.keys = keys  # type: ignore[attr-defined]
    yield proc
    proc.stop()


def batch(fp: str, *ids: str) -> dict:
    return {"fingerprint": fp, "events": [{"id": i, "eventName": "page_viewed"} for i in ids]}


def test_stream_resumes_after_a_server_restart_without_loss_or_duplicates(serve, database_url):
    keys = serve.keys
    client = Client(serve.url, keys.secret)
    stream = client.stream()
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(a.id for a in stream), daemon=True)
    reader.start()
    wait_for(lambda: stream.connected, "the stream to connect")
    serve.track(keys.public, batch("fp_1", "e1", "e2", "e3"))
    wait_for(lambda: len(got) == 3, "the first three events")

    serve.stop()
    # While it is down, another process on the same store takes two events.
    other = ServeProcess(database_url).start()
    try:
        other.track(keys.public, batch("fp_1", "e4", "e5"))
    finally:
        other.stop()
    serve.start()  # the same URL again
    wait_for(lambda: len(got) == 5, "the missed events replayed")
    serve.track(keys.public, batch("fp_2", "e6"))
    wait_for(lambda: len(got) == 6, "a live event after the resume")
    stream.close()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert got == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert stream.reconnects >= 1
    assert stream.last_event_id is not None

    # A new stream resumes where this one stopped (nothing new: nothing replayed).
    with client.stream(last_event_id=stream.last_event_id, event="signup") as later:
        serve.track(keys.public, {"fingerprint": "fp_3",
                                  "events": [{"id": "e7", "eventName": "signup"}]})
        assert next(later).id == "e7"


def test_reads_and_writes_retry_across_a_restart_applied_once(serve):
    keys = serve.keys
    client = Client(serve.url, keys.secret, retries=10)
    assert client.credit("fp_r", 5, "grant").balance == 5
    serve.stop()
    restarted = threading.Timer(0.5, serve.start)
    restarted.start()
    try:
        result = client.credit("fp_r", 3, "bonus")  # sent while the server is down
        assert result.balance == 8
        assert client.stats(fingerprint="fp_r").events == 0
    finally:
        restarted.join()
    ledger = [(op.action, op.amount) for op in client.lead_credits("fp_r")]
    assert ledger == [("bonus", 3), ("grant", 5), ("initial_credits", 0)]


def test_a_lost_answer_is_retried_without_a_duplicate(serve):
    keys = serve.keys
    proxy = CuttingProxy(serve.port)
    try:
        client = Client(proxy.url, keys.secret)
        client.credit("fp_x", 10, "grant")
        proxy.cut_after_request()
        result = client.credit("fp_x", -4, "export")
        assert proxy.cuts == 1 and result.balance == 6
        ops = [op.amount for op in client.lead_credits("fp_x")]
        assert ops == [-4, 10, 0]  # applied once although sent twice
        proxy.cut_after_request()
        assert [a.id for a in client.activities()] == []
        assert proxy.cuts == 2
    finally:
        proxy.close()


def test_connection_failures_are_told_apart(tmp_path):
    secret = "sk_any"
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnavailable, match="cannot reach .* check that the server runs"):
        Client(closed, secret, retries=0).stats()

    (tmp_path / "index.html").write_text("<h1>not GrowthKit</h1>")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        foreign = Client(f"http://127.0.0.1:{other.server_port}", secret, retries=0)
        with pytest.raises(NotAGrowthKitServer, match="not answer as a GrowthKit server"):
            foreign.server_info()
        with pytest.raises(NotAGrowthKitServer, match="does not answer as a GrowthKit server"):
            foreign.stats()
        # https:// to a plain-HTTP server: a TLS failure, told apart from "not running"
        with pytest.raises(TLSError, match="http:// vs https://"):
            Client(f"https://127.0.0.1:{other.server_port}", secret, retries=0).stats()
    finally:
        other.shutdown()
        other.server_close()
