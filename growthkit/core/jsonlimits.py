"""Limits on free-form JSON values (properties, context, traits): depth, NUL, exact numbers.

Both stores must take every value ingest accepts: PostgreSQL refuses NUL characters in text
and JSONB, the JSON encoder stops at 255 levels, and numbers beyond ±(2^53−1) cannot be read
back exactly by JavaScript (the tracker, browsers) or by float-based readers. These rules
are checked before anything is queued, so a value either passes on both stores or is
refused with a message naming the field.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
# A body holds a NUL only as the escape \u0000 (a raw NUL byte is invalid JSON), and a
# number beyond 2^53 only as 16+ digits or with an exponent: bodies without these (digits
# mapped to 0, so one substring search finds any run) skip the walk.
NUL_ESCAPE = b"\\u0000"
_DIGITS_TO_0 = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 16


class JsonLimitError(ValueError):
    """A value breaks one of the rules; the message names the field (`field.path`)."""


NONE, DEPTH, ALL = 0, 1, 2  # what a body could break (body_check)


def body_check(body: bytes) -> int:
    """What a raw JSON body could break: NONE (every value in it passes), DEPTH (only the
    depth can be exceeded: no NUL, no long or exponent number anywhere) or ALL.

    Depth cannot exceed the number of opening brackets, so a small body passes outright.
    """
    digits = body.translate(_DIGITS_TO_0)
    if NUL_ESCAPE in body or _LONG_NUMBER in digits or b"0e" in digits or b"0E" in digits:
        return ALL
    return DEPTH if body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH else NONE


def check_text(value: str | None, field: str) -> None:
    if value is not None and "\x00" in value:
        raise JsonLimitError(f"{field} must not contain the NUL character (\\u0000)")


def check_value(value: Any, field: str, scope: int = ALL) -> None:
    """Raise JsonLimitError if `value` (decoded JSON) nests deeper than MAX_JSON_DEPTH
    levels (the object itself is level 1), holds a NUL in a key or string, or a number
    beyond ±(2^53−1). `scope` DEPTH: only the depth can be wrong (see body_check)."""
    if scope == NONE or (scope == DEPTH and not _too_deep(value, 1)):
        return
    found = _find(value, 1)
    if found is None:
        return
    problem, path = found
    name = _name(field, path)
    if problem == "deep":
        raise JsonLimitError(f"{field} nests deeper than {MAX_JSON_DEPTH} levels")
    if problem == "key":
        raise JsonLimitError(f"{_name(field, path[1:])}: the key {path[0]!r} contains the NUL "
                             "character (\\u0000), which is not allowed")
    if problem == "text":
        raise JsonLimitError(f"{name} must not contain the NUL character (\\u0000)")
    number = _at(value, path)
    raise JsonLimitError(f"{name}: {number} is beyond ±{MAX_SAFE_INTEGER} (2^53−1), the range "
                         "every JSON reader holds exactly; send it as a string")


def _name(field: str, path: list) -> str:
    """`properties.a[2].b` for the path ["b", 2, "a"] (innermost first)."""
    return field + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in reversed(path))


def _at(value: Any, path: list) -> Any:
    for part in reversed(path):
        value = value[part]
    return value


def _too_deep(value: Any, depth: int) -> bool:
    """Depth alone, visiting containers only (the cheap check for big, clean batches)."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return False
    if depth > MAX_JSON_DEPTH:
        return True
    for item in value.values() if kind is dict else value:
        sub = type(item)
        if (sub is dict or sub is list) and _too_deep(item, depth + 1):
            return True
    return False


def _bad_scalar(item: Any) -> str | None:
    kind = type(item)
    if kind is str:
        return "text" if "\x00" in item else None
    if (kind is int or kind is float) and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
        return "number"
    return None


def _find(value: Any, depth: int) -> tuple[str, list] | None:
    """The first problem in `value` and its path (innermost key first), or None.

    The path is only built on the way back from a problem, so a clean value costs no
    string formatting."""
    kind = type(value)
    if kind is dict:
        if depth > MAX_JSON_DEPTH:
            return "deep", []
        for key, item in value.items():
            if "\x00" in key:
                return "key", [key]
            sub = type(item)
            if sub is dict or sub is list:
                found = _find(item, depth + 1)
            else:
                problem = _bad_scalar(item)
                found = (problem, []) if problem else None
            if found is not None:
                found[1].append(key)
                return found
    elif kind is list:
        if depth > MAX_JSON_DEPTH:
            return "deep", []
        for n, item in enumerate(value):
            sub = type(item)
            if sub is dict or sub is list:
                found = _find(item, depth + 1)
            else:
                problem = _bad_scalar(item)
                found = (problem, []) if problem else None
            if found is not None:
                found[1].append(n)
                return found
    else:
        problem = _bad_scalar(value)
        return (problem, []) if problem else None
    return None
