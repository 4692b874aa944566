"""GET/PATCH /api/v1/app: the calling app and its settings (secret key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from growthkit.core import apps as core_apps
from growthkit.core.apps import App
from growthkit.core.clock import to_iso
from growthkit.server.auth import secret_app, state_of
from growthkit.server.deps import ERROR_RESPONSES, reject_unknown_parameters, run_core_write
from growthkit.server.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["app"],
                   dependencies=[Depends(reject_unknown_parameters)])


def app_json(app: App) -> dict[str, Any]:
    return {"id": app.id, "name": app.name, "publicKey": app.public_key,
            "settings": app.settings, "createdAt": to_iso(app.created_at)}


@router.get("/app", summary="The app the secret key belongs to", responses=ERROR_RESPONSES)
async def get_app(app: App = Depends(secret_app)) -> dict[str, Any]:
    return app_json(app)


@router.patch("/app", summary="Change the app's settings", responses=ERROR_RESPONSES)
async def patch_app(request: Request, changes: dict[str, Any] = Body(
        ..., examples=[{"rateLimitPerMinute": 300, "timeZone": "Europe/Berlin"}]),
        app: App = Depends(secret_app)) -> dict[str, Any]:
    state = state_of(request)
    unknown = set(changes) - set(core_apps.DEFAULT_SETTINGS) - core_apps.EXTRA_SETTINGS
    if unknown:
        raise ApiError(422, f"unknown settings: {', '.join(sorted(unknown))}")
    updated = await run_core_write(request, core_apps.update_settings, app.id, changes)
    state.forget_apps()
    return app_json(updated)
