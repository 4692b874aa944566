"""Three real `growthkit serve` processes on one store + Redis, as a user of them sees it:
separate processes on separate ports behind a round-robin TCP balancer, and one
`--workers 3` server. Rate budgets, the live feed, de-duplication, key rotation and the
answer cache are shared (docs/scaling.md)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest
from harness import REDIS_URL, backend_param
from serve_process import ServeProcess, cli, new_app
from tcp_balancer import RoundRobinBalancer

from growthkit.server.settings import MAX_APP_CACHE_SECONDS

pytestmark = [
    pytest.mark.skipif(not REDIS_URL, reason="GROWTHKIT_TEST_REDIS_URL not set: several "
                                             "server processes share their state through Redis"),
    pytest.mark.parametrize("backend", [backend_param("postgresql", "redis"),
                                        backend_param("sqlite", "redis")], indirect=True),
    pytest.mark.xdist_group("multiprocess"),  # three servers each: not two such tests at once
]
PROCESSES = 3
CACHE_TTL_S = 2.0
FRESH = httpx.Limits(max_keepalive_connections=0)  # one connection per request


class Cluster:
    """Three server processes; `urls[i]` reaches process i, `url` the balancer (or the
    shared socket of `--workers 3`)."""

    def __init__(self, database_url: str, redis_url: str, kind: str):
        env = {"GROWTHKIT_QUERY_CACHE_SECONDS": str(CACHE_TTL_S)}
        self.balancer: RoundRobinBalancer | None = None
        if kind == "workers":
            self.servers = [ServeProcess(database_url, redis_url, workers=PROCESSES, **env)]
        else:
            self.servers = [ServeProcess(database_url, redis_url, **env)
                            for _ in range(PROCESSES)]
        with ThreadPoolExecutor(len(self.servers)) as pool:
            list(pool.map(ServeProcess.start, self.servers))
        self.urls = [s.base_url for s in self.servers]
        if kind == "workers":
            self.url = self.urls[0]
        else:
            self.balancer = RoundRobinBalancer([("127.0.0.1", s.port) for s in self.servers])
            self.url = self.balancer.url

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.close()
        for server in self.servers:
            server.stop()


@pytest.fixture(params=["ports", "workers"])
def cluster(request, database_url, redis_url):
    running = Cluster(database_url, redis_url, request.param)
    yield running
    running.stop()


@pytest.fixture
def ports(database_url, redis_url):
    """Three processes on their own ports (for tests that must pick the process)."""
    running = Cluster(database_url, redis_url, "ports")
    yield running
    running.stop()


def track(http: httpx.Client, url: str, key: str, events: list[dict],
          fingerprint: str = "fp_multi") -> httpx.Response:
    return http.post(f"{url}/api/v1/track", json={"fingerprint": fingerprint, "events": events},
                     headers={"Authorization": f"Bearer {key}"})


def stored_count(database_url: str, app_id: str) -> int:
    from sqlalchemy import text

    from growthkit.core.store import open_engine

    engine = open_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM activities WHERE app_id = :a"),
                                {"a": app_id}).scalar()
    finally:
        engine.dispose()


def wait_for_fresh_minute(margin_s: float = 15.0) -> None:
    """A burst that must see one budget whole starts where the minute has `margin_s` left
    (at a minute's turn the sliding window lets the previous minute's count fade)."""
    if 60 - time.time() % 60 < margin_s:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_rate_budget_is_shared_whichever_process_answers(cluster, database_url):
    limit = 12
    app = new_app(database_url, "Budget", rateLimitPerMinute=limit)
    wait_for_fresh_minute()
    statuses = []
    with httpx.Client(timeout=30, limits=FRESH) as http:
        for n in range(limit * 3):
            r = track(http, cluster.url, app["publicKey"], [{"eventName": "ping", "id": f"e{n}"}])
            statuses.append(r.status_code)
    # The first `limit` requests are stored, every later one is refused: one budget for all.
    assert statuses == [200] * limit + [429] * (limit * 2), statuses
    assert stored_count(database_url, app["id"]) == limit
    if cluster.balancer is not None:  # the refusals came from every process
        refused_by = {cluster.balancer.targets_used[n] for n in range(limit, limit * 3)}
        assert refused_by == set(range(PROCESSES))


def test_the_same_events_sent_to_every_process_at_once_are_stored_once(cluster, database_url):
    app = new_app(database_url, "Dedup", rateLimitPerMinute=100_000)
    rounds = 30
    acknowledged: list[int] = []
    lock = threading.Lock()

    def send(proc: int, batch: list[dict], barrier: threading.Barrier) -> None:
        url = cluster.urls[proc % len(cluster.urls)]
        with httpx.Client(timeout=30, limits=FRESH) as http:
            barrier.wait(10)
            r = track(http, url, app["publicKey"], batch)
        assert r.status_code == 200, r.text
        with lock:
            acknowledged.append(r.json()["accepted"])

    with ThreadPoolExecutor(PROCESSES) as pool:
        for n in range(rounds):
            batch = [{"eventName": "dup", "id": f"r{n}-e{i}"} for i in range(5)]
            barrier = threading.Barrier(PROCESSES)
            list(pool.map(lambda p: send(p, batch, barrier), range(PROCESSES)))  # noqa: B023
    # Every event id is acknowledged as stored by exactly one process and stored once.
    assert sum(acknowledged) == rounds * 5
    assert stored_count(database_url, app["id"]) == rounds * 5


class Stream:
    """A live stream read in a background thread: the frames' ids and activities."""

    def __init__(self, url: str, secret: str, last_event_id: int | None = None,
                 stop_after: int | None = None):
        self.ids: list[int] = []
        self.events: list[dict] = []
        self.live = threading.Event()
        self.stop_after = stop_after
        self._closing = False
        headers = {"Authorization": f"Bearer {secret}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()
        assert self.live.wait(30), "the stream did not go live"

    def _read(self, url: str, headers: dict) -> None:
        with httpx.stream("GET", f"{url}/api/v1/stream", headers=headers,
                          timeout=httpx.Timeout(30, read=60)) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line == ": live":
                    self.live.set()
                elif line.startswith("id: "):
                    self.ids.append(int(line[4:]))
                elif line.startswith("data: "):
                    self.events.append(orjson.loads(line[6:]))
                if self._closing or (self.stop_after is not None
                                     and len(self.events) >= self.stop_after):
                    return

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.05)

    def close(self) -> None:
        self._closing = True
        self._thread.join(5)


def ingest_from_every_process(cluster: Cluster, key: str, per_process: int,
                              batch: int = 5) -> list[str]:
    """Each process gets its own sender of `per_process` events (properties proc, n), all
    at once; the ids of the acknowledged events."""

    def send(proc: int) -> list[str]:
        ids = []
        with httpx.Client(timeout=30) as http:
            for start in range(0, per_process, batch):
                events = [{"eventName": "fan", "id": f"p{proc}-{n}",
                           "properties": {"proc": proc, "n": n}}
                          for n in range(start, min(start + batch, per_process))]
                r = track(http, cluster.urls[proc], key, events, fingerprint=f"fp_{proc}")
                assert r.status_code == 200, r.text
                assert r.json()["accepted"] == len(events)
                ids += [e["id"] for e in events]
        return ids

    with ThreadPoolExecutor(PROCESSES) as pool:
        return [i for ids in pool.map(send, range(PROCESSES)) for i in ids]


def test_every_stream_on_every_process_gets_every_event_once_in_order(ports, database_url):
    app = new_app(database_url, "Fan-out", rateLimitPerMinute=100_000)
    streams = [Stream(url, app["secretKey"]) for url in ports.urls]
    sent = ingest_from_every_process(ports, app["publicKey"], per_process=200)
    for stream in streams:
        stream.wait_for(len(sent))
        stream.close()
    assert stored_count(database_url, app["id"]) == len(sent)
    for stream in streams:
        received = [e["id"] for e in stream.events]
        assert sorted(received) == sorted(sent)  # every event, each once
        assert stream.ids == [e["seq"] for e in stream.events]
        # In seq order across processes too: so the last id a client saw is an exact place
        # to resume from, on any process (Last-Event-ID).
        assert stream.ids == sorted(stream.ids)
        for proc in range(PROCESSES):  # each process's events in the order it stored them
            ns = [e["properties"]["n"] for e in stream.events if e["properties"]["proc"] == proc]
            assert ns == sorted(ns)


def test_a_stream_resumed_on_another_process_misses_nothing_and_repeats_nothing(
        ports, database_url):
    app = new_app(database_url, "Resume", rateLimitPerMinute=100_000)
    per_process = 80
    total = per_process * PROCESSES
    first = Stream(ports.urls[0], app["secretKey"], stop_after=total // 3)
    sent: list[str] = []
    sender = threading.Thread(target=lambda: sent.extend(
        ingest_from_every_process(ports, app["publicKey"], per_process)))
    sender.start()
    first.wait_for(total // 3)
    first.close()
    assert first.ids, "the first stream saw nothing"
    # The client reconnects, to another process, while events keep arriving.
    second = Stream(ports.urls[2], app["secretKey"], last_event_id=first.ids[-1])
    sender.join(120)
    second.wait_for(total - len(first.events))
    second.close()
    received = [e["id"] for e in first.events + second.events]
    assert sorted(received) == sorted(sent)
    assert len(set(received)) == len(received)


def test_key_rotation_and_cached_answers_reach_every_process(ports, database_url):
    app = new_app(database_url, "Rotate", rateLimitPerMinute=100_000)
    with httpx.Client(timeout=30) as http:
        def stats(proc: int) -> httpx.Response:
            r = http.get(f"{ports.urls[proc]}/api/v1/stats",
                         headers={"Authorization": f"Bearer {app['secretKey']}"})
            assert r.status_code == 200, r.text
            return r

        before = [stats(p) for p in range(PROCESSES)]  # each process caches its answer
        computed_at = time.monotonic()
        assert all(r.headers["X-Cache"] == "miss" for r in before)
        for proc in range(PROCESSES):  # written through the other processes
            assert track(http, ports.urls[proc], app["publicKey"],
                         [{"eventName": "late"}]).status_code == 200
        # An answer is at most the documented TTL old: after it, every process counts them.
        time.sleep(max(0.0, computed_at + CACHE_TTL_S + 0.1 - time.monotonic()))
        for proc in range(PROCESSES):
            assert stats(proc).json()["events"] == PROCESSES

        new = cli("rotate-key", app["id"], "--which", "both", database_url=database_url)
        time.sleep(MAX_APP_CACHE_SECONDS + 0.1)
        for url in ports.urls:  # the old keys are refused everywhere, the new ones work
            assert track(http, url, app["publicKey"], [{"eventName": "x"}]).status_code == 401
            assert http.get(f"{url}/api/v1/stats", headers={
                "Authorization": f"Bearer {app['secretKey']}"}).status_code == 401
            assert track(http, url, new["publicKey"], [{"eventName": "x"}]).status_code == 200
            assert http.get(f"{url}/api/v1/stats", headers={
                "Authorization": f"Bearer {new['secretKey']}"}).status_code == 200


def test_processes_started_together_on_an_empty_store_all_migrate_it(ports, database_url):
    # The `ports` fixture started three processes at once on an empty store: each ran the
    # migrations at start, one after another (a lock), and each of them serves.
    from growthkit.core.store import current_revision, open_engine

    engine = open_engine(database_url)
    try:
        from alembic.script import ScriptDirectory

        from growthkit.core.store import alembic_config

        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        assert current_revision(engine) == head
    finally:
        engine.dispose()
    with httpx.Client(timeout=30) as http:
        assert all(http.get(f"{url}/health").json()["status"] == "up" for url in ports.urls)
