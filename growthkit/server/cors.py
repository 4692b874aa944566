"""CORS: any site may post events and load the tracker; the secret-key API answers browsers
only from origins an app names in its `allowedOrigins`.

Public-key paths (ingest, completeAction, the tracker files, /health) get Starlette's CORS
middleware with a wildcard origin: no cookies are involved, and apps restrict who may post
with `allowedOrigins` (checked per request in auth.check_origin). Everything else carries
a secret key, which belongs on a server, not in a page: there a preflight is answered only
for an origin that some app names explicitly ("*" does not count), and a response carries
`Access-Control-Allow-Origin` only when the calling app names that origin (auth.secret_app
marks the request).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from growthkit.server.errors import error_response, json_response

PUBLIC_PATHS = ("/api/v1/track", "/api/v1/actions/complete", "/health")
PUBLIC_PREFIXES = ("/sdk/",)
# Set by auth.secret_app when the calling app's allowedOrigins names the request's Origin.
ALLOWED_ORIGIN = "growthkit.cors_origin"
SECRET_METHODS = "GET, POST, PATCH, DELETE"
SECRET_HEADERS = "Authorization, Content-Type, Last-Event-ID"
EXPOSED = "Retry-After, X-Cache, X-Export-From, Content-Disposition, Idempotent-Replayed"
PREFLIGHT_MAX_AGE = "600"


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def allowed_for(scope: Scope, origin: str | None, allowed_origins: list[str]) -> None:
    """Mark a secret-key request whose Origin the app names (called once the app is known)."""
    if origin and origin.rstrip("/") in allowed_origins:
        scope[ALLOWED_ORIGIN] = origin


class ScopedCORS:
    """ASGI middleware: wildcard CORS on public paths, named origins only elsewhere."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.public = CORSMiddleware(app, allow_origins=["*"], allow_methods=["*"],
                                     allow_headers=["*"], expose_headers=["Retry-After"],
                                     max_age=86400)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.public(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = await self._preflight(scope, origin)
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get(ALLOWED_ORIGIN):
                out = list(message.get("headers", []))
                out += [(b"access-control-allow-origin", scope[ALLOWED_ORIGIN].encode()),
                        (b"access-control-expose-headers", EXPOSED.encode()),
                        (b"vary", b"Origin")]
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, origin: str) -> Response:
        state = scope["app"].state.growthkit
        try:
            named = await state.origin_named(origin.rstrip("/"))
        except Exception as exc:  # the store is down: the same 503 as everywhere
            return error_response(exc)
        if not named:
            return json_response({
                "error": f"origin {origin} is not in any app's allowedOrigins: the secret-key "
                         "API answers browsers only from origins an app names",
                "status": 403}, 403, {"Vary": "Origin"})
        return Response(status_code=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": SECRET_METHODS,
            "Access-Control-Allow-Headers": SECRET_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin"})
