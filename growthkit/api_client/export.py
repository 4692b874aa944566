"""Export downloads: streamed to a temporary file beside the target, renamed when complete.

An error or a cancel removes the temporary file, so the target path either holds a whole
export or nothing new. Parquet is made from the server's NDJSON with pandas/pyarrow.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from growthkit.api_client.errors import Cancelled, ServerUnavailable, from_transport
from growthkit.api_client.transport import Transport

FORMATS = ("csv", "json", "ndjson", "parquet")
SUFFIXES = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
            ".parquet": "parquet", ".pq": "parquet"}
CHUNK = 64 * 1024


def export_format(path: Path, format: str | None) -> str:
    """The format asked for, or the one the file name's suffix implies."""
    if format is None:
        format = SUFFIXES.get(path.suffix.lower())
        if format is None:
            raise ValueError(f"format: give format= ({', '.join(FORMATS)}) or a path ending "
                             f"in {', '.join(SUFFIXES)}; {path.name!r} has neither")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    return format


def _cancel_check(cancel: Any) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if hasattr(cancel, "is_set"):
        return cancel.is_set
    if callable(cancel):
        return cancel
    raise TypeError("cancel must be a threading.Event or a callable returning True to stop")


def _fetch(transport: Transport, path: str, params: list[tuple[str, str]], out: Any,
           progress: Callable[[int, int | None], None] | None,
           cancelled: Callable[[], bool]) -> None:
    with transport.stream("GET", path, params=params) as response:
        expected = response.headers.get("content-length")
        total = int(expected) if expected and expected.isdigit() else None
        done = 0
        try:
            for chunk in response.iter_bytes(CHUNK):
                if cancelled():
                    raise Cancelled("export cancelled; no file was written")
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"the export download was cut after {done} bytes "
                f"({from_transport(exc, transport.url).message}); no file was written — "
                "try again", url=transport.url) from exc
    if cancelled():
        raise Cancelled("export cancelled; no file was written")


def _ndjson_to_parquet(source: Path, target: Path) -> None:
    try:
        import pandas as pd
        import pyarrow  # noqa: F401 - pandas needs it for Parquet
    except ImportError:
        raise ImportError('Parquet export needs pandas and pyarrow: pip install '
                          '"growthkit[client]"') from None
    import orjson

    with source.open("rb") as f:
        rows = [orjson.loads(line) for line in f if line.strip()]
    columns = ["id", "appId", "fingerprintId", "eventName", "properties", "context",
               "sessionId", "timestamp", "receivedAt", "seq"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    # JSON objects stay JSON text: their keys differ from event to event.
    for name in ("properties", "context"):
        frame[name] = [None if v is None else orjson.dumps(v).decode() for v in frame[name]]
    for name in ("timestamp", "receivedAt"):
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    frame["seq"] = frame["seq"].astype("int64")
    frame.to_parquet(target, index=False)


def write_whole(target: Path, format: str | None,
                write: Callable[[BinaryIO, str], None]) -> Path:
    """Have `write(out, wire_format)` write the export into a temporary file beside
    `target`, convert NDJSON to Parquet when asked, then rename: the file is whole, or
    (on any error or cancel) nothing is left behind. Client and LocalSource both use it."""
    target = target.expanduser()
    fmt = export_format(target, format)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"path: the folder {target.parent} does not exist")
    temps: list[Path] = []

    def temp(suffix: str) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix,
                                    dir=target.parent)
        os.close(fd)
        temps.append(Path(name))
        return temps[-1]

    try:
        written = temp(".part")
        with written.open("wb") as out:
            write(out, "ndjson" if fmt == "parquet" else fmt)
        final = written
        if fmt == "parquet":
            final = temp(".parquet.part")
            _ndjson_to_parquet(written, final)
        os.replace(final, target)
        return target
    finally:
        for leftover in temps:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def download(transport: Transport, path: str, params: list[tuple[str, str]], target: Path,
             *, format: str | None, progress: Callable[[int, int | None], None] | None,
             cancel: Any) -> Path:
    """Write the export to `target` whole, or raise and leave nothing behind."""
    cancelled = _cancel_check(cancel)
    return write_whole(target, format, lambda out, wire: _fetch(
        transport, path, [*params, ("format", wire)], out, progress, cancelled))
