"""A real `growthkit serve` process for tests that need one (kill -9, several workers, the
CLI acting on a running server), and the real `growthkit` CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import httpx
from harness import free_port

from growthkit.core import apps as core_apps
from growthkit.core.store import migrate, open_engine, write_connection

GROWTHKIT = str(Path(sys.executable).with_name("growthkit"))
START_TIMEOUT_S = 60.0


def new_app(database_url: str, name: str, **settings: object) -> dict:
    """An app created straight in the store (faster than the CLI), as create-app --json."""
    engine = open_engine(database_url)
    try:
        migrate(engine)
        with write_connection(engine) as conn, conn.begin():
            new = core_apps.create_app(conn, name, settings)
    finally:
        engine.dispose()
    return {"id": new.app.id, "publicKey": new.app.public_key, "secretKey": new.secret_key}


def cli(*args: str, database_url: str) -> dict:
    """Run `growthkit ARGS --json` and return what it printed."""
    done = subprocess.run([GROWTHKIT, *args, "--database-url", database_url, "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class ServeProcess:
    """`growthkit serve` on 127.0.0.1 in its own process group; start() waits for /health."""

    def __init__(self, database_url: str, redis_url: str | None = None, *,
                 workers: int = 1, port: int | None = None, **env: str):
        self.database_url = database_url
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {**os.environ, "GROWTHKIT_LOG_LEVEL": "warning", **env}
        self.env.pop("GROWTHKIT_REDIS_URL", None)
        if redis_url:
            self.env["GROWTHKIT_REDIS_URL"] = redis_url
        self.proc: subprocess.Popen | None = None
        # stderr goes to a file, so a chatty server never blocks on a full pipe.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)

    def start(self) -> ServeProcess:
        self.proc = subprocess.Popen(
            [GROWTHKIT, "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--database-url", self.database_url, "--workers", str(self.workers)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.log,
            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"growthkit serve exited: {self.output()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"growthkit serve did not answer /health within {START_TIMEOUT_S} s")

    def kill9(self) -> None:
        """SIGKILL the server (with --workers 1 it is one process: nothing runs cleanup)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM this server's process group; SIGKILL whatever is left after 15 s."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        with suppress(ProcessLookupError):  # workers of a killed supervisor
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def output(self) -> str:
        """What the server wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
