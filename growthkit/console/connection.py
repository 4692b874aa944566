"""Opening a session: check the server and key, and say plainly why a connection failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from growthkit.console.main_window import Session

# (headline, advice) per kind of failure; the client's own message follows the headline.
FAILURES = {
    "public_key": ("That is a public key",
                   "The console reads data, which needs the app's secret key (sk_…). The "
                   "public key (pk_…) can only send events."),
    "wrong_key": ("Wrong secret key",
                  "The server does not know this key. It may have been rotated "
                  "(growthkit rotate-key) or belong to another server."),
    "unreachable": ("Server unreachable",
                    "Nothing answered at this URL. Check that the server runs "
                    "(growthkit serve) and the host and port are right."),
    "tls": ("TLS error",
            "The secure connection failed: check http:// vs https:// and that the server's "
            "certificate is trusted."),
    "not_growthkit": ("Not a GrowthKit server",
                      "Something answered, but not as a GrowthKit server: check the URL "
                      "(scheme, host, port, no path)."),
    "wrong_app": ("Another app's key",
                  "This secret key belongs to a different app than the one asked for."),
    "bad_input": ("Check the connection details", ""),
    "other": ("Could not connect", ""),
}


class ConnectionFailed(Exception):
    """A connection attempt that failed, sorted into one of FAILURES."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail

    @property
    def headline(self) -> str:
        return FAILURES[self.kind][0]

    def text(self) -> str:
        advice = FAILURES[self.kind][1]
        return "\n\n".join(x for x in (f"{self.headline}.", advice, self.detail) if x)


def classify(exc: BaseException, key: str = "") -> ConnectionFailed:
    from growthkit.api_client import errors

    if isinstance(exc, ConnectionFailed):
        return exc
    detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if isinstance(exc, errors.AuthError):
        public = key.startswith("pk_") or (exc.status == 403 and "public key" in detail)
        return ConnectionFailed("public_key" if public else "wrong_key", detail)
    if isinstance(exc, errors.TLSError):
        return ConnectionFailed("tls", detail)
    if isinstance(exc, errors.NotAGrowthKitServer):
        return ConnectionFailed("not_growthkit", detail)
    if isinstance(exc, errors.ServerUnavailable):
        return ConnectionFailed("unreachable", detail)
    if isinstance(exc, ValueError):
        return ConnectionFailed("bad_input", detail)
    return ConnectionFailed("other", detail)


def open_server(url: str, key: str, app: str | None = None, *, http: Any = None,
                timeout: float = 15.0) -> Session:
    """Connect to a server (blocking: run it on a worker). Raises ConnectionFailed."""
    from growthkit.api_client import Client

    url, key = (url or "").strip(), (key or "").strip()
    if not url:
        raise ConnectionFailed("bad_input", "Enter the server's URL, e.g. http://127.0.0.1:8000")
    if not key:
        raise ConnectionFailed("bad_input", "Enter the app's secret key (sk_…)")
    if "://" not in url:
        url = "http://" + url
    try:
        client = Client(url, key, http=http, timeout=timeout, retries=2)
        info = client.server_info()
        found = client.app_settings()
    except Exception as exc:
        raise classify(exc, key) from exc
    if app and app not in (found.id, found.name):
        client.close()
        raise ConnectionFailed("wrong_app", f"the key is for app {found.name!r} ({found.id}), "
                                            f"not {app!r}")
    settings = found.settings or {}
    return Session(source=client, url=client.url, app_name=found.name, app_id=found.id,
                   store=getattr(info, "store", ""), server_version=info.version,
                   time_zone=settings.get("timeZone"), app=found.to_json())


def open_snapshot(path: str | Path) -> Session:
    """Open an offline snapshot (or cache) file (blocking). Raises ConnectionFailed."""
    from growthkit.api_client import local as local_source

    file = Path(path)
    if not file.is_file():
        raise ConnectionFailed("bad_input", f"no snapshot file at {file}")
    try:
        source = local_source.LocalSource(file)
        found = source.app_settings()
    except Exception as exc:
        raise ConnectionFailed("other", f"{file} could not be opened as a GrowthKit snapshot: "
                                        f"{exc}") from exc
    return Session(source=source, url=str(file), app_name=found.name, app_id=found.id,
                   store="snapshot", offline=True,
                   time_zone=(found.settings or {}).get("timeZone"), app=found.to_json())
