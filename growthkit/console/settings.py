"""The console's saved settings: profiles, refresh, theme, feed columns, alerts, layout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QByteArray, QSettings

# Bump when the set or names of docks change: a saved state of another version is ignored
# (restoring it would put docks in places that no longer mean anything).
LAYOUT_VERSION = 1
DEFAULT_REFRESH_SECONDS = 30


def settings_path() -> Path:
    """GROWTHKIT_CONSOLE_SETTINGS, or console.ini in the user's config folder."""
    env = os.environ.get("GROWTHKIT_CONSOLE_SETTINGS")
    return Path(env) if env else Path(platformdirs.user_config_dir("growthkit")) / "console.ini"


@dataclass(frozen=True)
class Profile:
    """A saved connection; the key is not here (it lives in the OS keyring)."""

    name: str
    url: str
    app_id: str = ""

    @property
    def keyring_user(self) -> str:
        return f"{self.url}#{self.app_id or self.name}"


class ConsoleSettings:
    """Typed access to one QSettings INI file (small; Qt reads it once and caches it)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else settings_path()
        self.q = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _get(self, key: str, default: Any, kind: type) -> Any:
        value = self.q.value(key, default)
        if kind is list:
            if value in (None, ""):
                return []
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    def sync(self) -> None:
        self.q.sync()

    # -- refresh and theme
    @property
    def refresh_seconds(self) -> int:
        return max(5, self._get("refresh/seconds", DEFAULT_REFRESH_SECONDS, int))

    @refresh_seconds.setter
    def refresh_seconds(self, seconds: int) -> None:
        self.q.setValue("refresh/seconds", int(seconds))

    @property
    def theme(self) -> str:
        value = self._get("look/theme", "system", str)
        return value if value in ("system", "light", "dark") else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        self.q.setValue("look/theme", value)

    # -- connection profiles
    def profiles(self) -> list[Profile]:
        out = []
        size = self.q.beginReadArray("profiles")
        for i in range(size):
            self.q.setArrayIndex(i)
            url = self._get("url", "", str)
            if url:
                out.append(Profile(self._get("name", url, str), url, self._get("app", "", str)))
        self.q.endArray()
        return out

    def save_profile(self, profile: Profile) -> None:
        kept = [p for p in self.profiles() if p.name != profile.name]
        kept.insert(0, profile)  # most recent first
        self.q.beginWriteArray("profiles", len(kept))
        for i, p in enumerate(kept):
            self.q.setArrayIndex(i)
            self.q.setValue("name", p.name)
            self.q.setValue("url", p.url)
            self.q.setValue("app", p.app_id)
        self.q.endArray()
        self.q.setValue("connection/last", profile.name)

    @property
    def last_profile(self) -> str:
        return self._get("connection/last", "", str)

    # -- live feed
    @property
    def feed_columns(self) -> list[str]:
        return self._get("feed/propertyColumns", [], list)

    @feed_columns.setter
    def feed_columns(self, columns: list[str]) -> None:
        self.q.setValue("feed/propertyColumns", list(columns))

    # -- tray alerts
    @property
    def alert_events(self) -> list[str]:
        return self._get("alerts/events", [], list)

    @alert_events.setter
    def alert_events(self, names: list[str]) -> None:
        self.q.setValue("alerts/events", list(names))

    @property
    def alert_rate(self) -> int:
        """Events per minute that trigger an alert; 0 means off."""
        return max(0, self._get("alerts/eventsPerMinute", 0, int))

    @alert_rate.setter
    def alert_rate(self, per_minute: int) -> None:
        self.q.setValue("alerts/eventsPerMinute", int(per_minute))

    # -- window layout
    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("layout/version", LAYOUT_VERSION)
        self.q.setValue("layout/geometry", geometry)
        self.q.setValue("layout/state", state)

    def layout(self) -> tuple[QByteArray, QByteArray] | None:
        """The saved geometry and dock state, or None when missing or of another version."""
        if self._get("layout/version", 0, int) != LAYOUT_VERSION:
            return None
        geometry, state = self.q.value("layout/geometry"), self.q.value("layout/state")
        if not isinstance(geometry, QByteArray) or not isinstance(state, QByteArray):
            return None
        return geometry, state

    def forget_layout(self) -> None:
        self.q.remove("layout")
