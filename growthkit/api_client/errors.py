"""The client's exceptions: one base, `GrowthKitError`, each message saying what to do."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class FieldError:
    """One rule a request broke: the field (a query parameter or body path) and the rule."""

    field: str
    message: str


class GrowthKitError(Exception):
    """Anything the client could not do; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url


class AuthError(GrowthKitError):
    """The key was missing, unknown, rotated, or of the wrong kind (public vs secret)."""


class NotFound(GrowthKitError):
    """The lead, segment or endpoint does not exist for this app."""


class Conflict(GrowthKitError):
    """The server refused a write that clashes with stored state (e.g. not enough credits)."""


class ValidationError(GrowthKitError):
    """The server refused a parameter; `errors` lists each field and the rule it broke."""

    def __init__(self, message: str, *, errors: list[FieldError], status: int | None = None,
                 url: str | None = None):
        super().__init__(message, status=status, url=url)
        self.errors = errors


class RateLimited(GrowthKitError):
    """Too many requests; `retry_after` is the server's advice in seconds (None if unsaid)."""

    def __init__(self, message: str, *, retry_after: float | None, status: int | None = 429,
                 url: str | None = None):
        super().__init__(message, status=status, url=url)
        self.retry_after = retry_after


class ServerUnavailable(GrowthKitError):
    """The server could not be reached, timed out, or answered 5xx."""


class TLSError(ServerUnavailable):
    """The TLS handshake failed (certificate not trusted, wrong host name, or not TLS)."""


class NotAGrowthKitServer(GrowthKitError):
    """The URL answers, but not as a GrowthKit server (wrong port, path or proxy page)."""


class Cancelled(GrowthKitError):
    """The caller cancelled the operation (an export); nothing was left behind."""


def field_errors(message: str) -> list[FieldError]:
    """The server's `"field: rule; field: rule"` message as FieldErrors."""
    out = []
    for part in message.split("; "):
        field, sep, rule = part.partition(": ")
        if sep and field and " " not in field.strip():
            out.append(FieldError(field.strip(), rule.strip()))
        else:
            out.append(FieldError("request", part.strip()))
    return out


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_body(response: httpx.Response) -> dict[str, Any] | None:
    """The `{"error", "status"}` body our server sends, or None for anything else."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data
    return None


def from_response(response: httpx.Response) -> GrowthKitError:
    """The exception for an error answer (status >= 400)."""
    status, url = response.status_code, str(response.request.url)
    body = _error_body(response)
    text = body["error"] if body else f"HTTP {status}"
    where = f"{response.request.method} {response.request.url.path}"
    if status >= 500:
        return ServerUnavailable(f"the server could not answer {where} ({text}); try again "
                                 "shortly, and check the server's log if it persists",
                                 status=status, url=url)
    if body is None and status in (404, 405):
        return NotAGrowthKitServer(
            f"{response.request.url.host} does not answer as a GrowthKit server (HTTP {status} "
            f"for {where}, without GrowthKit's error body): check the URL (scheme, host, port, "
            "no path)",
            status=status, url=url)
    if status == 401:
        return AuthError(f"{text}: check the app's secret key (sk_…); it may have been "
                         "rotated (growthkit rotate-key)", status=status, url=url)
    if status == 403:
        return AuthError(f"{text}: this key may not do that; the query API needs the app's "
                         "secret key (sk_…)", status=status, url=url)
    if status == 404:
        return NotFound(f"{text} ({where})", status=status, url=url)
    if status == 409:
        return Conflict(text, status=status, url=url)
    if status == 429:
        after = retry_after_seconds(response)
        hint = f"retry in {after:g} s" if after is not None else "retry later"
        return RateLimited(f"{text}: rate limited, {hint}", retry_after=after, status=status,
                           url=url)
    if status in (400, 413, 422):
        return ValidationError(f"{text} ({where})", errors=field_errors(text), status=status,
                               url=url)
    return GrowthKitError(f"{text} ({where}, HTTP {status})", status=status, url=url)


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in type(seen).__name__:
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen) or "WRONG_VERSION_NUMBER" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def from_transport(exc: httpx.TransportError, url: str) -> ServerUnavailable:
    """The exception for a request that got no answer at all."""
    if _is_tls(exc):
        return TLSError(f"TLS failed talking to {url} ({exc}): check the URL's scheme "
                        "(http:// vs https://) and that the server's certificate is trusted "
                        "(pass an httpx.Client with verify= for a private CA)", url=url)
    if isinstance(exc, httpx.TimeoutException):
        return ServerUnavailable(f"{url} did not answer in time ({type(exc).__name__}): the "
                                 "server may be overloaded; try again or raise timeout=",
                                 url=url)
    return ServerUnavailable(f"cannot reach {url} ({exc or type(exc).__name__}): check that "
                             "the server runs (growthkit serve) and the URL and port are right",
                             url=url)
