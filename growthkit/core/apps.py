"""Apps and their keys: a public `pk_…` for ingest, a secret `sk_…` stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, update

from growthkit.core.clock import now_ms
from growthkit.core.errors import QueryError
from growthkit.core.schema import apps

DEFAULT_SETTINGS: dict[str, Any] = {
    "rateLimitPerMinute": 100,
    "allowedOrigins": [],
    "timeZone": "UTC",
    "retentionDays": 90,
    # Optional ceilings for the whole app (None: off): events and new leads per minute.
    "appEventsPerMinute": None,
    "appNewLeadsPerMinute": None,
}
# Settings other parts of the product add (credits: initialCredits, actionCosts).
EXTRA_SETTINGS: set[str] = {"initialCredits", "actionCosts"}


class AppError(QueryError):
    """A request about apps that cannot be honoured (unknown app, bad setting)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(field or message.split(" ", 1)[0], message)


@dataclass(frozen=True)
class App:
    id: str
    name: str
    public_key: str
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0

    def setting(self, name: str) -> Any:
        return self.settings.get(name, DEFAULT_SETTINGS.get(name))


@dataclass(frozen=True)
class NewApp:
    """An app as just created or re-keyed: the only time the secret key is known."""

    app: App
    secret_key: str


def hash_secret(secret_key: str) -> str:
    # Keys are 192-bit random tokens, so a fast hash is enough (no password stretching).
    return hashlib.sha256(secret_key.encode()).hexdigest()


def _new_keys() -> tuple[str, str]:
    return "pk_" + secrets.token_urlsafe(24), "sk_" + secrets.token_urlsafe(32)


def _is_credit_amount(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**9


def validate_settings(changes: dict[str, Any]) -> dict[str, Any]:
    """Check setting changes; raise AppError naming the setting and the rule."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key in ("rateLimitPerMinute", "retentionDays"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AppError(f"{key} must be a whole number of at least 1")
        elif key in ("appEventsPerMinute", "appNewLeadsPerMinute"):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= 10**9):
                raise AppError(f"{key} must be a whole number from 1 to 1000000000, or null "
                               "(no ceiling)")
        elif key == "allowedOrigins":
            if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
                raise AppError("allowedOrigins must be a list of origins like https://example.com")
            value = [o.rstrip("/") for o in value]
        elif key == "timeZone":
            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise AppError(f"timeZone {value!r} is not an IANA time zone") from None
        elif key == "initialCredits" and not _is_credit_amount(value):
            raise AppError("initialCredits must be a whole number from 0 to 1000000000")
        elif key == "actionCosts" and not (isinstance(value, dict) and all(
                isinstance(k, str) and 1 <= len(k) <= 200 and _is_credit_amount(c)
                for k, c in value.items())):
            raise AppError("actionCosts must be an object {action: cost} with action names "
                           "of 1-200 characters and whole-number costs from 0 to 1000000000")
        out[key] = value
    return out


def _row_to_app(row) -> App:  # noqa: ANN001
    return App(id=row.id, name=row.name, public_key=row.public_key,
               settings={**DEFAULT_SETTINGS, **(row.settings or {})}, created_at=row.created_at)


def create_app(conn: Connection, name: str, settings: dict[str, Any] | None = None) -> NewApp:
    name = name.strip()
    if not name or len(name) > 200:
        raise AppError("name must be 1-200 characters")
    public_key, secret_key = _new_keys()
    app_id = "app_" + secrets.token_hex(8)
    stored = {**DEFAULT_SETTINGS, **validate_settings(settings or {})}
    conn.execute(apps.insert().values(id=app_id, name=name, public_key=public_key,
                                      secret_key_hash=hash_secret(secret_key),
                                      settings=stored, created_at=now_ms()))
    return NewApp(App(app_id, name, public_key, stored, now_ms()), secret_key)


def list_apps(conn: Connection) -> list[App]:
    return [_row_to_app(r) for r in conn.execute(select(apps).order_by(apps.c.created_at))]


def get_app(conn: Connection, app_id_or_name: str) -> App:
    row = conn.execute(select(apps).where(apps.c.id == app_id_or_name)).first()
    if row is None:
        rows = conn.execute(select(apps).where(apps.c.name == app_id_or_name)).all()
        if len(rows) > 1:
            raise AppError(f"several apps are named {app_id_or_name!r}: use the app id")
        row = rows[0] if rows else None
    if row is None:
        raise AppError(f"no app with id or name {app_id_or_name!r}")
    return _row_to_app(row)


def find_by_public_key(conn: Connection, key: str) -> App | None:
    row = conn.execute(select(apps).where(apps.c.public_key == key)).first()
    return _row_to_app(row) if row else None


def find_by_secret_key(conn: Connection, key: str) -> App | None:
    row = conn.execute(select(apps).where(apps.c.secret_key_hash == hash_secret(key))).first()
    return _row_to_app(row) if row else None


def update_settings(conn: Connection, app_id: str, changes: dict[str, Any]) -> App:
    app = get_app(conn, app_id)
    merged = {**app.settings, **validate_settings(changes)}
    conn.execute(update(apps).where(apps.c.id == app.id).values(settings=merged))
    return get_app(conn, app.id)


def rotate_keys(conn: Connection, app_id: str, *, public: bool = True,
                secret: bool = True) -> NewApp:
    """New keys for an app; servers refuse the old ones within their key cache (1 s)."""
    app = get_app(conn, app_id)
    public_key, secret_key = _new_keys()
    values: dict[str, str] = {}
    if public:
        values["public_key"] = public_key
    if secret:
        values["secret_key_hash"] = hash_secret(secret_key)
    conn.execute(update(apps).where(apps.c.id == app.id).values(**values))
    return NewApp(get_app(conn, app.id), secret_key if secret else "")
