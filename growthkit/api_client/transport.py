"""HTTP under the client: one httpx.Client, error mapping, and retries with jittered backoff.

Reads and idempotent writes are retried on connection errors, 5xx and 429 (waiting the
server's Retry-After when it gives one); anything else fails at once with the exception
from errors.py.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from growthkit.api_client.errors import (
    GrowthKitError,
    ServerUnavailable,
    from_response,
    from_transport,
    retry_after_seconds,
)

log = logging.getLogger("growthkit.api_client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits base·2ⁿ (capped), half of it random."""

    retries: int = 5
    base: float = 0.25
    cap: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after + random.uniform(0, self.base)
        step = min(self.cap, self.base * 2 ** attempt)
        return step / 2 + random.uniform(0, step / 2)


def user_agent() -> str:
    from growthkit import __version__

    return f"growthkit-python/{__version__} httpx/{httpx.__version__}"


class Transport:
    """Requests to one server with one key; owns the httpx.Client unless it was handed one."""

    def __init__(self, url: str, key: str, *, http: httpx.Client | None, timeout: float,
                 backoff: Backoff):
        self.url = url.rstrip("/")
        self.key = key
        self.backoff = backoff
        self._owned = http is None
        self.http = http or httpx.Client(timeout=timeout, follow_redirects=True)
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {key}", "User-Agent": user_agent(),
                        "Accept": "application/json"}

    def full_url(self, path: str) -> str:
        return f"{self.url}{path}"

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def _send(self, method: str, path: str, *, params: Any = None, json: Any = None,
              headers: dict[str, str] | None = None, stream: bool = False) -> httpx.Response:
        url = self.full_url(path)
        request = self.http.build_request(method, url, params=params, json=json,
                                          headers={**self.headers, **(headers or {})},
                                          timeout=self.timeout)
        try:
            return self.http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise from_transport(exc, self.url) from exc

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                headers: dict[str, str] | None = None, retry: bool = True,
                stream: bool = False) -> httpx.Response:
        """The answer of a request that succeeded (2xx), retried when `retry` allows."""
        attempt = 0
        while True:
            try:
                response = self._send(method, path, params=params, json=json, headers=headers,
                                      stream=stream)
            except ServerUnavailable as exc:
                error: GrowthKitError = exc
                retry_after = None
            else:
                if response.status_code < 400:
                    return response
                if stream:
                    response.read()
                    response.close()
                error = from_response(response)
                if response.status_code not in RETRY_STATUSES:
                    raise error
                retry_after = getattr(error, "retry_after", None)
                if retry_after is None and response.status_code == 503:
                    retry_after = retry_after_seconds(response)
            if not retry or attempt >= self.backoff.retries:
                raise error
            if retry_after is not None and retry_after > self.backoff.max_retry_after:
                raise error
            wait = self.backoff.delay(attempt, retry_after)
            log.info("%s %s failed (%s); retry %d in %.2f s", method, path, error.message,
                     attempt + 1, wait)
            time.sleep(wait)
            attempt += 1

    def get_json(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params).json()

    def send_json(self, method: str, path: str, body: Any, *, params: Any = None,
                  retry: bool = True) -> Any:
        return self.request(method, path, params=params, json=body, retry=retry).json()

    @contextmanager
    def stream(self, method: str, path: str, *, params: Any = None,
               headers: dict[str, str] | None = None, retry: bool = True
               ) -> Iterator[httpx.Response]:
        response = self.request(method, path, params=params, headers=headers, retry=retry,
                                stream=True)
        try:
            yield response
        finally:
            response.close()

