"""Secret keys in the OS keyring (through `keyring`); for this session only where none exists."""

from __future__ import annotations

import contextlib
import logging

import keyring
from keyring.errors import KeyringError

log = logging.getLogger(__name__)
SERVICE = "growthkit-console"


def _backend_usable() -> tuple[bool, str]:
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration is the same as none
        return False, f"the keyring could not be opened ({exc})"
    name = type(backend).__module__ + "." + type(backend).__name__
    if "fail" in name.lower() or getattr(backend, "priority", 1) <= 0:
        return False, ("no OS keyring is available (no Secret Service, Keychain or Windows "
                       "Credential Locker): the key is kept for this session only")
    return True, type(backend).__name__


class KeyStore:
    """get/set/forget a profile's key. Every call may block (D-Bus, Keychain prompts), so
    the console calls them on a worker, never on the GUI thread."""

    def __init__(self) -> None:
        self.usable, self.reason = _backend_usable()
        self._session: dict[str, str] = {}

    def get(self, user: str) -> str | None:
        if user in self._session:
            return self._session[user]
        if not self.usable:
            return None
        try:
            return keyring.get_password(SERVICE, user)
        except KeyringError as exc:
            log.warning("reading the key from the keyring failed: %s", exc)
            return None

    def set(self, user: str, key: str) -> str | None:
        """Keep the key; answers a message when it could only be kept for this session."""
        self._session[user] = key
        if not self.usable:
            return self.reason
        try:
            keyring.set_password(SERVICE, user, key)
        except KeyringError as exc:
            return f"the keyring refused the key ({exc}): it is kept for this session only"
        return None

    def forget(self, user: str) -> None:
        self._session.pop(user, None)
        if self.usable:
            with contextlib.suppress(KeyringError):
                keyring.delete_password(SERVICE, user)
