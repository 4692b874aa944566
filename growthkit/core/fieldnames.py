"""The fields a track batch and its events know, and a "did you mean" for the ones they don't.

Unknown fields are still accepted (clients newer than the server keep working) but the
answer names them, so a mistaken `props` or `userId` is seen rather than silently dropped.
"""

from __future__ import annotations

import difflib

BATCH_FIELDS = frozenset({"fingerprint", "sessionId", "context", "sentAt", "key", "events"})
EVENT_FIELDS = frozenset({"id", "eventName", "properties", "timestamp", "fingerprint",
                          "sessionId", "context"})

# Names other tracking APIs use for our fields (Segment, PostHog, Mixpanel, GA).
ALIASES = {
    "props": "properties", "prop": "properties", "params": "properties", "data": "properties",
    "traits": "properties", "attributes": "properties",
    "userid": "fingerprint", "anonymousid": "fingerprint", "distinctid": "fingerprint",
    "visitorid": "fingerprint", "deviceid": "fingerprint", "clientid": "fingerprint",
    "fingerprintid": "fingerprint", "fp": "fingerprint",
    "event": "eventName", "name": "eventName", "type": "eventName", "action": "eventName",
    "ts": "timestamp", "time": "timestamp", "date": "timestamp", "createdat": "timestamp",
    "session": "sessionId", "eventid": "id", "messageid": "id", "uuid": "id",
    "ctx": "context", "batch": "events", "apikey": "key", "token": "key",
    "sentat": "sentAt", "senttime": "sentAt",
}


def _plain(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def closest_field(name: str, known: frozenset[str]) -> str | None:
    """The known field `name` was most likely meant to be, or None."""
    plain = _plain(name)
    by_plain = {_plain(k): k for k in known}
    if plain in by_plain:
        return by_plain[plain]
    alias = ALIASES.get(plain)
    if alias in known:
        return alias
    match = difflib.get_close_matches(plain, list(by_plain), n=1, cutoff=0.6)
    return by_plain[match[0]] if match else None


def unknown_field_warning(name: str, known: frozenset[str]) -> str:
    guess = closest_field(name, known)
    hint = f", did you mean {guess}?" if guess else f" (known: {', '.join(sorted(known))})"
    return f"{name}: unknown field{hint}"
