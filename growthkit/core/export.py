"""Export of filtered activities as CSV, JSON or NDJSON, produced chunk by chunk as bytes.

Memory stays constant at any size: rows come from the store `chunk` at a time
(feed.iter_activity_chunks) and each chunk is encoded and handed on before the next is read.
CSV cells holding JSON (properties, context) are quoted by the csv module, so commas,
quotes and newlines inside them survive a round trip.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine

from growthkit.core.clock import now_ms
from growthkit.core.feed import iter_activity_chunks
from growthkit.core.filters import ActivityFilter

EXPORT_WINDOW_DAYS = 90
DAY_MS = 86_400_000

# StoredActivity's fields, in its order; JSON-valued ones are written as JSON text in CSV.
CSV_COLUMNS = ("id", "appId", "fingerprintId", "eventName", "properties", "context",
               "sessionId", "timestamp", "receivedAt", "seq")
_JSON_COLUMNS = {"properties", "context"}


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str


FORMATS = {
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", "csv"),
    "json": ExportFormat("json", "application/json", "json"),
    "ndjson": ExportFormat("ndjson", "application/x-ndjson", "ndjson"),
}


def window_start(now: int | None = None) -> int:
    """The oldest timestamp an export covers (epoch ms): the last EXPORT_WINDOW_DAYS days."""
    return (now_ms() if now is None else now) - EXPORT_WINDOW_DAYS * DAY_MS


def clamp_to_window(flt: ActivityFilter, now: int | None = None) -> ActivityFilter:
    """The filter with its start moved into the export window (a later start is kept)."""
    oldest = window_start(now)
    if flt.start is None or flt.start < oldest:
        flt.start = oldest
    return flt


def _csv_cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column in _JSON_COLUMNS:
        return orjson.dumps(value).decode()
    return value


def encode_csv(chunks: Iterable[list[dict[str, Any]]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(CSV_COLUMNS)
    for items in chunks:
        writer.writerows([_csv_cell(c, item[c]) for c in CSV_COLUMNS] for item in items)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the header alone, when nothing matched
        yield buffer.getvalue().encode()


def encode_json(chunks: Iterable[list[dict[str, Any]]]) -> Iterator[bytes]:
    """One JSON array, written element by element."""
    first = True
    yield b"["
    for items in chunks:
        if not items:
            continue
        body = b",".join(orjson.dumps(item) for item in items)
        yield body if first else b"," + body
        first = False
    yield b"]\n"


def encode_ndjson(chunks: Iterable[list[dict[str, Any]]]) -> Iterator[bytes]:
    """One StoredActivity per line."""
    for items in chunks:
        if items:
            yield b"".join(orjson.dumps(item) + b"\n" for item in items)


_ENCODERS = {"csv": encode_csv, "json": encode_json, "ndjson": encode_ndjson}


def export_bytes(engine: Engine, flt: ActivityFilter, fmt: str, *, order: str = "asc",
                 chunk: int = 1000) -> Iterator[bytes]:
    """The export file of `flt`'s activities in format `fmt`, as a stream of byte chunks.

    The caller applies the export window (clamp_to_window). Closing the iterator early
    (a client that went away) closes the store cursor.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    rows = iter_activity_chunks(engine, flt, order=order, chunk=chunk)
    try:
        yield from _ENCODERS[fmt](rows)
    finally:
        rows.close()
