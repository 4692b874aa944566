"""Keyset paging: opaque cursors for a page's last row, and the SQL that continues after it.

A cursor is urlsafe base64 (unpadded) of compact JSON `{"k": kind, "v": [int, …]}`. The kind
names the listing and whatever fixes its order (e.g. `leads:lastSeen:desc`), so a cursor
handed to another listing or order is refused rather than silently continuing the wrong
walk. Cursors are not signed: decode checks shape and range, which is all a keyset needs.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import orjson
from sqlalchemy import ColumnElement, and_, or_

from growthkit.core.errors import CursorError

__all__ = ["CursorError", "decode", "encode", "keyset_after", "keyset_order"]

# Keyset values land in BIGINT comparisons: anything outside would be a database error.
_MIN, _MAX = -(2**63), 2**63 - 1


def encode(kind: str, values: Sequence[int]) -> str:
    """The cursor for the row at `values` (its keyset) in the listing `kind`."""
    raw = orjson.dumps({"k": kind, "v": list(values)})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(kind: str, cursor: str | None, size: int) -> list[int] | None:
    """The `size` integers of a cursor made by `encode(kind, …)`; None for no cursor;
    CursorError for anything else."""
    if not cursor:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = data["v"]
        ok = (data["k"] == kind and isinstance(values, list) and len(values) == size
              and all(type(v) is int and _MIN <= v <= _MAX for v in values))
    except (ValueError, TypeError, KeyError):  # binascii, Unicode and JSON errors included
        ok = False
    if not ok:
        raise CursorError()
    return values


def keyset_after(cols: Sequence, values: Sequence[int], order: str) -> ColumnElement:
    """SQL: the row tuple `cols` comes after `values` in `order` (lexicographic, portable)."""
    later = (lambda c, v: c > v) if order == "asc" else (lambda c, v: c < v)
    clause = later(cols[-1], values[-1])
    for col, value in zip(reversed(cols[:-1]), reversed(values[:-1]), strict=True):
        clause = or_(later(col, value), and_(col == value, clause))
    # A plain range on the first column as well, so the index bounds the scan (an OR alone
    # does not on PostgreSQL).
    bound = cols[0] >= values[0] if order == "asc" else cols[0] <= values[0]
    return and_(bound, clause) if len(cols) > 1 else clause


def keyset_order(cols: Sequence, order: str) -> list:
    """ORDER BY terms for `cols` in `order` ("asc" or "desc"), matching keyset_after."""
    return [c.asc() if order == "asc" else c.desc() for c in cols]
