"""Limits on free-form JSON values (properties, context, traits): depth, NUL, exact numbers.

Both stores must take every value ingest accepts: PostgreSQL refuses NUL characters in text
and JSONB, the JSON encoder stops at 255 levels, and numbers beyond ±(2^53−1) cannot be read
back exactly by JavaScript (the tracker, browsers) or by float-based readers. These rules
are checked before anything is queued, so a value either passes on both stores or is
refused with a message naming the field.
"""

from __future__ import annotations

import re
from typing import Any

MAX_JSON_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
# A body holds a NUL only as the escape \u0000 (a raw NUL byte is invalid JSON), a number
# beyond 2^53 only as 16+ digits or in exponent form: bodies without these skip the walk.
SUSPECT_NUMBER = re.compile(rb"\d{16}|\d[eE]")
NUL_ESCAPE = b"\\u0000"


class JsonLimitError(ValueError):
    """A value breaks one of the rules; the message names the field (`field.path`)."""


def body_needs_check(body: bytes) -> bool:
    """Whether a raw JSON body could break a rule (False: every value in it passes).

    Depth cannot exceed the number of opening brackets, so a small body passes outright.
    """
    if NUL_ESCAPE in body or SUSPECT_NUMBER.search(body):
        return True
    return body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH


def check_text(value: str | None, field: str) -> None:
    if value is not None and "\x00" in value:
        raise JsonLimitError(f"{field} must not contain the NUL character (\\u0000)")


def check_value(value: Any, field: str) -> None:
    """Raise JsonLimitError if `value` (decoded JSON) nests deeper than MAX_JSON_DEPTH
    levels (the object itself is level 1), holds a NUL in a key or string, or a number
    beyond ±(2^53−1)."""
    _walk(value, field, field, 1)


def _walk(value: Any, root: str, field: str, depth: int) -> None:
    if isinstance(value, dict):
        if depth > MAX_JSON_DEPTH:
            raise JsonLimitError(f"{root} nests deeper than {MAX_JSON_DEPTH} levels")
        for key, item in value.items():
            if "\x00" in key:
                raise JsonLimitError(f"{field}: the key {key!r} contains the NUL character "
                                     "(\\u0000), which is not allowed")
            _walk(item, root, f"{field}.{key}", depth + 1)
    elif isinstance(value, list):
        if depth > MAX_JSON_DEPTH:
            raise JsonLimitError(f"{root} nests deeper than {MAX_JSON_DEPTH} levels")
        for n, item in enumerate(value):
            _walk(item, root, f"{field}[{n}]", depth + 1)
    elif isinstance(value, str):
        check_text(value, field)
    elif (isinstance(value, (int, float)) and not isinstance(value, bool)
          and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER):
        raise JsonLimitError(f"{field}: {value} is beyond ±{MAX_SAFE_INTEGER} (2^53−1), the "
                             "range every JSON reader holds exactly; send it as a string")
