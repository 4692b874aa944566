"""App keys on requests: public keys for ingest, secret keys for everything else."""

from __future__ import annotations

from fastapi import Request

from growthkit.core.apps import App
from growthkit.server import cors
from growthkit.server.errors import ApiError
from growthkit.server.state import ServerState


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def state_of(request: Request) -> ServerState:
    return request.app.state.growthkit


async def public_app(request: Request, body_key: str | None = None) -> App:
    """The app of a public key from the header, `?key=` or the body (sendBeacon)."""
    key = bearer(request) or request.query_params.get("key") or body_key
    if not key:
        raise ApiError(401, "missing app key: send Authorization: Bearer pk_…, ?key=pk_… "
                            "or a body field key")
    if "\x00" in key:  # no key holds one, and PostgreSQL cannot even look it up
        raise ApiError(401, "unknown app key")
    if key.startswith("sk_"):
        raise ApiError(403, "a secret key must not be used for tracking: use the app's public "
                            "key (pk_…), which is safe in browsers")
    app = await state_of(request).app_for_key(key) if key.startswith("pk_") else None
    if app is None:
        raise ApiError(401, "unknown app key")
    return app


async def secret_app(request: Request) -> App:
    """FastAPI dependency: the app of the `Authorization: Bearer sk_…` header."""
    key = bearer(request)
    if not key:
        raise ApiError(401, "missing secret key: send Authorization: Bearer sk_…")
    if key.startswith("pk_"):
        raise ApiError(403, "a public key cannot read data: use the app's secret key (sk_…)")
    app = await state_of(request).app_for_key(key) if key.startswith("sk_") else None
    if app is None:
        raise ApiError(401, "unknown secret key")
    cors.allowed_for(request.scope, request.headers.get("origin"),
                     app.setting("allowedOrigins") or [])
    return app


def check_origin(request: Request, app: App) -> None:
    allowed = app.setting("allowedOrigins") or []
    origin = request.headers.get("origin")
    if allowed and origin and origin.rstrip("/") not in allowed and "*" not in allowed:
        raise ApiError(403, f"origin {origin} is not in this app's allowedOrigins")
