"""Real servers for the client's failure tests: the app on uvicorn that can be stopped
and started again on the same port and store, and a TCP proxy that can cut a
connection after the request went through (the answer is lost, the write was done)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import httpx
import uvicorn
from harness import Keys, free_port, make_settings

from growthkit.core import apps as core_apps
from growthkit.core.store import migrate, open_engine, write_connection
from growthkit.server.app import create_app as create_server_app


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def create_app(database_url: str, name: str = "Live", **settings) -> Keys:
    engine = open_engine(database_url)
    try:
        migrate(engine)
        with write_connection(engine) as conn, conn.begin():
            new = core_apps.create_app(conn, name, settings)
    finally:
        engine.dispose()
    return Keys(new.app.id, new.app.public_key, new.secret_key)


class ServeProcess:
    """The real app on uvicorn in a thread, on a fixed port and store: stop() drops every
    connection (open streams included) as a crashing or restarting server does, and
    start() brings it back on the same URL."""

    def __init__(self, database_url: str, port: int | None = None):
        self.database_url = database_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ServeProcess:
        settings = make_settings(self.database_url, None)
        config = uvicorn.Config(create_server_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server.started or not self._thread.is_alive(),
                 "the server to start")
        assert self._server.started, f"the server did not start on port {self.port}"
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True  # do not wait for open streams to end
        self._thread.join(timeout=20)
        self._server = None

    def track(self, public_key: str, body: dict) -> httpx.Response:
        r = httpx.post(f"{self.url}/api/v1/track", json=body, timeout=10,
                       headers={"Authorization": f"Bearer {public_key}"})
        assert r.status_code == 200, r.text
        return r


class CuttingProxy:
    """A TCP proxy to `target_port`; after `cut_after_request()` it forwards the next
    request whole but closes the client's side before any answer comes back."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._cut = threading.Event()
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after_request(self) -> None:
        self._cut.set()

    def close(self) -> None:
        self._closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        dropping = threading.Event()

        def requests() -> None:  # client -> server; marks the request to be cut
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    if self._cut.is_set():
                        self._cut.clear()
                        dropping.set()
                    upstream.sendall(data)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)

        threading.Thread(target=requests, daemon=True).start()
        try:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    if dropping.is_set():  # the server answered: the client never hears it
                        self.cuts += 1
                        return
                    client.sendall(data)
        finally:
            for sock in (upstream, client):  # shutdown wakes the other thread's recv
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
