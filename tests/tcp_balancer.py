"""A round-robin TCP balancer on 127.0.0.1 for tests that run several server processes
behind one address (as HAProxy or nginx `stream` would): each new connection goes to the
next target in turn, and `targets_used` records which target each connection got."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading

from tcp_proxy import pipe


class RoundRobinBalancer:
    def __init__(self, targets: list[tuple[str, int]]) -> None:
        self.targets = targets
        self.targets_used: list[int] = []  # index of the target of each accepted connection
        self._next = itertools.cycle(range(len(targets)))
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept()
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                n = next(self._next)
                self.targets_used.append(n)
            try:
                upstream = socket.create_connection(self.targets[n], timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()
