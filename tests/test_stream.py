"""GET /api/v1/stream over a real socket: delivery, filters, resume with Last-Event-ID,
heartbeats, dropping a subscriber that falls behind, and Redis fan-out between servers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from harness import REDIS_URL, Keys, Server, make_settings, start_live_server

# A frame that does not come within this long fails the test instead of hanging it.
READ_TIMEOUT = 10


@dataclass
class Frame:
    event: str = "message"
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def activity(self) -> dict:
        return json.loads(self.data)


class Stream:
    """A server-sent-event reader over a real HTTP response, comments included."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self._lines = response.iter_lines()
        self.retry: int | None = None
        self.replayed: list[Frame] = []  # activity frames before the `: live` comment

    def next_frame(self) -> Frame:
        frame, fields = Frame(), False
        for line in self._lines:
            if line == "":
                if fields or frame.comments:
                    return frame
                continue
            if line.startswith(":"):
                frame.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields = True
            if name == "data":
                frame.data = value if not frame.data else frame.data + "\n" + value
            elif name == "event":
                frame.event = value
            elif name == "id":
                frame.id = value
            elif name == "retry":
                self.retry = int(value)
        raise EOFError("the stream ended")

    def until_comment(self, text: str) -> list[Frame]:
        """Frames before the comment `text` (e.g. 'live': the end of a replay)."""
        frames = []
        while True:
            frame = self.next_frame()
            if text in frame.comments:
                return frames
            if frame.event != "message" or frame.data:
                frames.append(frame)

    def activities(self, n: int) -> list[Frame]:
        out: list[Frame] = []
        while len(out) < n:
            frame = self.next_frame()
            if frame.event == "activity":
                out.append(frame)
        return out


@contextlib.contextmanager
def subscribe(server: Server, key: str, *, wait_live: bool = True,
              headers: dict | None = None, **params) -> Iterator[Stream]:
    timeout = httpx.Timeout(30, read=READ_TIMEOUT)
    with server.client.stream("GET", "/api/v1/stream", params=params, timeout=timeout,
                              headers={"Authorization": f"Bearer {key}",
                                       **(headers or {})}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = Stream(r)
        if wait_live:
            stream.replayed = stream.until_comment("live")
        yield stream


def track(server: Server, app: Keys, *events: dict, fingerprint: str = "fp_a") -> None:
    r = server.track(app.public, {"fingerprint": fingerprint, "events": list(events)})
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def stored(server: Server, app: Keys) -> dict[str, dict]:
    r = server.client.get("/api/v1/activities", params={"limit": 1000},
                          headers={"Authorization": f"Bearer {app.secret}"})
    return {a["id"]: a for a in r.json()["data"]}


def ev(eid: str, name: str = "page_viewed", **fields) -> dict:
    return {"id": eid, "eventName": name, **fields}


def test_new_events_arrive_as_stored_activities(live_server):
    app = live_server.create_app(rateLimitPerMinute=10_000)
    other = live_server.create_app("Other")
    with subscribe(live_server, app.secret) as s:
        assert s.retry is not None and s.retry > 0
        track(live_server, other, ev("other-1"))
        track(live_server, app, ev("a1", properties={"plan": "pro", "n": [1, 2]}),
              ev("a2", "button_clicked"))
        frames = s.activities(2)
    rows = stored(live_server, app)
    assert [f.activity["id"] for f in frames] == ["a1", "a2"]  # never the other app's
    for frame in frames:
        assert frame.event == "activity"
        assert frame.activity == rows[frame.activity["id"]]
        assert frame.id == str(frame.activity["seq"])


def test_stream_filters_by_event_name_fingerprint_and_session(live_server):
    app = live_server.create_app(rateLimitPerMinute=10_000)
    params = {"eventName": ["signup_completed", "purchase"], "fingerprint": "fp_a"}
    with subscribe(live_server, app.secret, **params) as s:
        track(live_server, app, ev("x1"), ev("x2", "signup_completed"), ev("x3", "purchase"))
        track(live_server, app, ev("x4", "signup_completed"), fingerprint="fp_b")
        track(live_server, app, ev("x5", "purchase"))  # the last one: a sentinel
        got = [f.activity["id"] for f in s.activities(3)]
    assert got == ["x2", "x3", "x5"]
    with subscribe(live_server, app.secret, sessionId="s_2") as s:
        track(live_server, app, ev("y1", sessionId="s_1"), ev("y2", sessionId="s_2"),
              ev("y3", sessionId="s_1"), ev("y4", sessionId="s_2"))
        assert [f.activity["id"] for f in s.activities(2)] == ["y2", "y4"]


@pytest.mark.parametrize("how", ["header", "query"])
def test_resume_replays_missed_events_then_goes_live_without_duplicates(live_server, how):
    app = live_server.create_app(rateLimitPerMinute=10_000)
    names = {"eventName": "page_viewed"}
    with subscribe(live_server, app.secret, **names) as s:
        track(live_server, app, ev("r1"), ev("r2"))
        last = s.activities(2)[-1].id
    # While disconnected: two matching events and one the filter leaves out.
    track(live_server, app, ev("r3"), ev("skip", "button_clicked"), ev("r4"))
    resume = ({"headers": {"Last-Event-ID": last}} if how == "header"
              else {"lastEventId": last})
    with subscribe(live_server, app.secret, **names, **resume) as s:
        replayed = [f.activity["id"] for f in s.replayed]
        track(live_server, app, ev("r5"))
        after = [f.activity["id"] for f in s.activities(1)]
        track(live_server, app, ev("r6"))
        after += [f.activity["id"] for f in s.activities(1)]
    assert replayed == ["r3", "r4"]
    assert after == ["r5", "r6"]
    assert all(f.id == str(f.activity["seq"]) for f in s.replayed)


def test_resume_replays_more_than_one_page(live_server):
    from growthkit.server.live import REPLAY_PAGE

    app = live_server.create_app(rateLimitPerMinute=100_000)
    with subscribe(live_server, app.secret) as s:
        track(live_server, app, ev("first"))
        last = s.activities(1)[0].id
    total = REPLAY_PAGE + 150
    for start in range(0, total, 100):
        track(live_server, app, *[ev(f"m{i:04d}") for i in range(start, min(start + 100, total))])
    with subscribe(live_server, app.secret, headers={"Last-Event-ID": last}) as s:
        ids = [f.activity["id"] for f in s.replayed]
    assert ids == [f"m{i:04d}" for i in range(total)]


@pytest.fixture
def custom_server(database_url, redis_url):
    """Start a server with extra settings: custom_server(stream_queue_size=3)."""
    started = []

    def start(**overrides) -> Server:
        from growthkit.core.store import open_engine

        url = overrides.pop("redis_url", redis_url)
        srv, thread, base = start_live_server(make_settings(database_url, url, **overrides))
        server = Server(client=httpx.Client(base_url=base, timeout=30),
                        engine=open_engine(database_url), base_url=base)
        started.append((srv, thread, server))
        return server

    yield start
    for srv, thread, server in started:
        server.client.close()
        srv.should_exit = True
        thread.join(timeout=10)
        server.engine.dispose()


def test_idle_streams_get_heartbeats(custom_server):
    server = custom_server(stream_heartbeat_seconds=0.2)
    app = server.create_app()
    with subscribe(server, app.secret) as s:
        assert "heartbeat" in s.next_frame().comments
        assert "heartbeat" in s.next_frame().comments


def test_a_subscriber_that_falls_behind_is_dropped_and_resumes(custom_server):
    server = custom_server(stream_queue_size=3)
    app = server.create_app(rateLimitPerMinute=10_000)
    with subscribe(server, app.secret) as s:
        track(server, app, ev("q0"))
        last = s.activities(1)[0].id
        # One commit of five events overflows a queue of three before the stream can read.
        track(server, app, *[ev(f"q{i}") for i in range(1, 6)])
        frame = s.next_frame()
        assert frame.event == "dropped"
        assert "Last-Event-ID" in json.loads(frame.data)["error"]
        with pytest.raises(EOFError):
            s.next_frame()
    with subscribe(server, app.secret, headers={"Last-Event-ID": last}) as s:
        assert [f.activity["id"] for f in s.replayed] == ["q1", "q2", "q3", "q4", "q5"]


def test_stream_needs_a_secret_key_and_a_valid_last_event_id(server):
    app = server.create_app()
    assert server.client.get("/api/v1/stream").status_code == 401
    r = server.client.get("/api/v1/stream", headers={"Authorization": f"Bearer {app.public}"})
    assert r.status_code == 403
    r = server.client.get("/api/v1/stream", headers={"Authorization": f"Bearer {app.secret}",
                                                     "Last-Event-ID": "abc"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json()["error"]
    r = server.client.get("/api/v1/stream", params={"lastEventId": "-4"},
                          headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 400 and "lastEventId" in r.json()["error"]


def test_stream_is_documented(server):
    spec = server.client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/stream"]["get"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert {p["name"] for p in op["parameters"]} >= {"eventName", "fingerprint", "sessionId",
                                                     "lastEventId"}


@pytest.mark.skipif(not REDIS_URL, reason="GROWTHKIT_TEST_REDIS_URL not set")
def test_redis_carries_events_between_server_processes(custom_server, database_url):
    """Two servers share the store and Redis and nothing else: a subscriber on one sees
    events stored through the other, live and on resume."""
    one = custom_server(redis_url=REDIS_URL)
    two = custom_server(redis_url=REDIS_URL)
    app = one.create_app(rateLimitPerMinute=10_000)
    with subscribe(one, app.secret) as s:
        track(two, app, ev("via-two-1"), ev("via-two-2"))
        track(one, app, ev("via-one"))
        frames = s.activities(3)
    assert [f.activity["id"] for f in frames] == ["via-two-1", "via-two-2", "via-one"]
    assert frames[0].activity == stored(one, app)["via-two-1"]
    track(two, app, ev("missed"))
    with subscribe(one, app.secret, headers={"Last-Event-ID": frames[-1].id}) as s:
        assert [f.activity["id"] for f in s.replayed] == ["missed"]
        track(two, app, ev("after"))
        assert [f.activity["id"] for f in s.activities(1)] == ["after"]


def test_open_streams_end_when_the_server_stops(tmp_path):
    """`growthkit serve` told to stop (SIGTERM) ends its open streams instead of waiting for
    the subscribers to leave, and exits."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from harness import free_port

    from growthkit.core import apps as core_apps
    from growthkit.core.store import migrate, open_engine, write_connection

    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = open_engine(url)
    migrate(engine)
    with write_connection(engine) as conn, conn.begin():
        new = core_apps.create_app(conn, "Serve", {})
    engine.dispose()
    port = free_port()
    env = {**os.environ, "GROWTHKIT_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "growthkit", "serve", "--port", str(port),
                             "--database-url", url], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=base) as client:
            server = Server(client=client, engine=None, base_url=base)  # type: ignore[arg-type]
            with subscribe(server, new.secret_key) as s:
                proc.send_signal(signal.SIGTERM)
                with pytest.raises(EOFError):  # a clean end of the stream, not a timeout
                    s.next_frame()
        # uvicorn re-raises the signal it handled once it has shut down cleanly.
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM), proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
