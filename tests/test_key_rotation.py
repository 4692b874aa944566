"""Key rotation by the real CLI while a real server runs (two worker processes): every request
that reaches any process more than 1 s after `growthkit rotate-key` finished is refused."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from harness import REDIS_URL
from serve_process import ServeProcess, cli, new_app

from growthkit.server.settings import MAX_APP_CACHE_SECONDS

BOUND_S = MAX_APP_CACHE_SECONDS  # the documented guarantee (docs/operations.md)
POLL_UNTIL_S = BOUND_S + 0.75
STREAM_BOUND_S = 10.0  # generous: documented as about 1.25 s (live.AUTH_CHECK_S + the bound)


@pytest.fixture
def running(database_url, redis_url):
    # The poller sends one fingerprint ~50 times a second: lift its budget, so only the
    # rotation can refuse it.
    app = new_app(database_url, "Rotating", rateLimitPerMinute=100_000)
    # Several workers share their live feed and budgets through Redis (serve refuses
    # --workers without it); the rotation itself needs no message between them.
    if not (redis_url or REDIS_URL):
        pytest.skip("GROWTHKIT_TEST_REDIS_URL not set: --workers 2 needs Redis")
    server = ServeProcess(database_url, redis_url or REDIS_URL, workers=2).start()
    yield app, server
    server.stop()


class OpenStream:
    """A live stream opened with the old secret key, read in a background thread."""

    def __init__(self, base_url: str, secret: str):
        self.ended_at: float | None = None
        self.live = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(base_url, secret),
                                        daemon=True)
        self._thread.start()
        assert self.live.wait(30), "the stream did not go live"

    def _read(self, base_url: str, secret: str) -> None:
        with httpx.stream("GET", f"{base_url}/api/v1/stream", timeout=30,
                          headers={"Authorization": f"Bearer {secret}"}) as r:
            for line in r.iter_lines():
                if line == ": live":
                    self.live.set()
        self.ended_at = time.monotonic()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class OldKeyPoller:
    """Requests with the old keys in a background thread, each on a fresh connection (so
    the kernel spreads them over both worker processes): (sent at, /track, /app status)."""

    def __init__(self, base_url: str, public: str, secret: str):
        self.base_url, self.public, self.secret = base_url, public, secret
        self.answers: list[tuple[float, int, int]] = []
        self.until = float("inf")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> OldKeyPoller:
        self._thread.start()
        return self

    def __exit__(self, failed, *_exc) -> None:  # noqa: ANN001, ANN002
        if failed or self.until == float("inf"):
            self.until = 0  # stop at once
        self._thread.join(timeout=30)

    def _run(self) -> None:
        body = {"fingerprint": "fp_rotation", "events": [{"eventName": "ping"}]}
        with httpx.Client(base_url=self.base_url, timeout=10,
                          limits=httpx.Limits(max_keepalive_connections=0)) as http:
            while (sent := time.monotonic()) < self.until:
                track = http.post("/api/v1/track", json=body,
                                  headers={"Authorization": f"Bearer {self.public}"})
                app = http.get("/api/v1/app",
                               headers={"Authorization": f"Bearer {self.secret}"})
                self.answers.append((sent, track.status_code, app.status_code))
                time.sleep(0.02)


def test_rotate_key_cli_refuses_old_keys_within_1s_on_every_process(running, database_url,
                                                                     capsys):
    app, server = running
    public, secret = app["publicKey"], app["secretKey"]
    body = {"fingerprint": "fp_rotation", "events": [{"eventName": "ping"}]}
    with httpx.Client(base_url=server.base_url, timeout=10,
                      limits=httpx.Limits(max_keepalive_connections=0)) as http:
        for _ in range(10):  # both processes have the old keys cached now
            assert http.post("/api/v1/track", json=body,
                             headers={"Authorization": f"Bearer {public}"}).status_code == 200
            assert http.get("/api/v1/app", headers={
                "Authorization": f"Bearer {secret}"}).status_code == 200

    stream = OpenStream(server.base_url, secret)
    # The old keys are in use (and cached by both processes) while the CLI rotates them.
    with OldKeyPoller(server.base_url, public, secret) as poller:
        time.sleep(0.3)
        cli_started = time.monotonic()
        new = cli("rotate-key", app["id"], "--which", "both", database_url=database_url)
        rotated = time.monotonic()  # the CLI has committed and exited
        poller.until = rotated + POLL_UNTIL_S
    answers = poller.answers

    before = [a for a in answers if a[0] < cli_started]
    assert before and all(a[1:] == (200, 200) for a in before)  # the poll itself works
    late = [a for a in answers if a[0] - rotated > BOUND_S]
    assert late, "the poll did not run past the bound"
    assert all(track == 401 and app_status == 401 for _, track, app_status in late), late
    accepted = [a[0] - rotated for a in answers if a[1] == 200 or a[2] == 200]
    stream.join(STREAM_BOUND_S)
    assert stream.ended_at is not None, "a stream opened with the old key stayed open"
    with capsys.disabled():
        print(f"\n[rotation] old keys last accepted {max(accepted) * 1000:.0f} ms after "
              f"rotate-key exited (bound {BOUND_S * 1000:.0f} ms); {len(answers)} requests; "
              f"the old key's stream ended {(stream.ended_at - rotated) * 1000:.0f} ms after")

    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert http.post("/api/v1/track", json=body, headers={
            "Authorization": f"Bearer {new['publicKey']}"}).status_code == 200
        assert http.get("/api/v1/app", headers={
            "Authorization": f"Bearer {new['secretKey']}"}).json()["id"] == app["id"]
