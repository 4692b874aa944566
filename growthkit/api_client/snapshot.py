"""Offline snapshots: one app's activities of a range, the leads and credit ledgers they touch,
and the app's settings, in a standalone core-schema SQLite file that LocalSource opens.

The file is written beside the target under a temporary name and renamed when complete, so
the target holds a whole snapshot or nothing new (an error or a cancel removes the
temporary file). Pages are fetched on a background thread while the previous one is
written. Rollups are rebuilt from the copied rows with core's own refresh, so rolled-up
answers match the server's; what retention already rolled up on the server (days before
its cut) is copied as aggregates.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from growthkit import __version__
from growthkit.api_client import bulk
from growthkit.api_client.errors import Cancelled
from growthkit.api_client.export import _cancel_check
from growthkit.api_client.filters import event_names, time_param
from growthkit.api_client.local import client_error
from growthkit.api_client.replica import Replica
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.errors import QueryError
from growthkit.core.params import optional_time

if TYPE_CHECKING:
    from growthkit.api_client.client import Client

FORMAT = 1

# progress(stage, done, total): stage is "activities", "leads" or "rollups".
SnapshotProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot holds (its `meta` table)."""

    path: Path
    meta: dict[str, Any]

    @property
    def activities(self) -> int:
        return int(self.meta["counts"]["activities"])


def _check(cancelled: Callable[[], bool]) -> None:
    if cancelled():
        raise Cancelled("snapshot cancelled; no file was written")


def copy_leads(client: Client, replica: Replica, fingerprints: list[str],
               progress: SnapshotProgress, cancelled: Callable[[], bool], *,
               ledgers: bool = True) -> tuple[int, int]:
    """The leads of `fingerprints`, with their whole credit ledgers unless `ledgers` is
    False: (leads, operations) written."""
    if not fingerprints:
        return 0, 0
    total = bulk.request(client, "POST", "/leads", body={"limit": 1, "count": True})
    # A page of the walk holds ten times the leads of a request by name.
    if total["remaining"] < 10 * len(fingerprints):
        return _copy_all_leads(client, replica, set(fingerprints), progress, cancelled,
                               ledgers=ledgers)
    leads = ops = 0
    for chunk in bulk.chunks(fingerprints):
        _check(cancelled)
        for page in bulk.pages(client, "POST", "/leads", body={"fingerprints": chunk}):
            replica.write_leads(page["rows"])
            leads += len(page["rows"])
        for page in bulk.pages(client, "POST", "/credit-operations",
                               body={"fingerprints": chunk}) if ledgers else ():
            replica.write_credits(page["rows"])
            ops += len(page["rows"])
        progress("leads", leads, len(fingerprints))
    return leads, ops


def _copy_all_leads(client: Client, replica: Replica, wanted: set[str],
                    progress: SnapshotProgress, cancelled: Callable[[], bool], *,
                    ledgers: bool) -> tuple[int, int]:
    """copy_leads for many leads: a walk of all the app's leads (and ledgers), keeping the
    wanted ones, takes a few large pages instead of a request per thousand leads."""
    leads = ops = 0
    for page in bulk.pages(client, "POST", "/leads"):
        _check(cancelled)
        rows = [r for r in page["rows"] if r[1] in wanted]
        replica.write_leads(rows)
        leads += len(rows)
        progress("leads", leads, len(wanted))
    for page in bulk.pages(client, "POST", "/credit-operations") if ledgers else ():
        _check(cancelled)
        rows = [r for r in page["rows"] if r[2] in wanted]
        replica.write_credits(rows)
        ops += len(rows)
    return leads, ops


def _copy(client: Client, replica: Replica, params: list[tuple[str, str]],
          progress: SnapshotProgress, cancelled: Callable[[], bool]) -> dict[str, int]:
    first = [*params, ("count", "true"), ("limit", str(bulk.PAGE_ROWS))]

    def walk():  # noqa: ANN202
        page = bulk.request(client, "GET", "/activities", params=first)
        yield page
        if page["nextCursor"]:
            yield from bulk.pages(client, "GET", "/activities", params=params,
                                  cursor=page["nextCursor"])

    fingerprints: set[str] = set()
    done, total = 0, None
    replica.drop_activity_indexes()
    prefetch = bulk.Prefetch(walk)
    try:
        for page in prefetch:
            _check(cancelled)
            if total is None:
                total = page.get("remaining")
            rows = page["rows"]
            replica.write_activities(rows, new=True)
            fingerprints.update(r[2] for r in rows)
            done += len(rows)
            progress("activities", done, total)
    finally:
        prefetch.close()
    replica.restore_indexes()
    leads, ops = copy_leads(client, replica, sorted(fingerprints), progress, cancelled)
    span = [(k, v) for k, v in params if k in ("from", "to")]
    replica.write_aggregates(bulk.request(client, "GET", "/aggregates", params=span))
    _check(cancelled)
    progress("rollups", 0, done)
    replica.rebuild_rollups()
    progress("rollups", done, done)
    return {"activities": done, "leads": leads, "creditOperations": ops}


def take_snapshot(client: Client, path: str | os.PathLike[str], *, start: Any = None,
                  end: Any = None, event: Any = None,
                  progress: SnapshotProgress | None = None, cancel: Any = None) -> SnapshotInfo:
    """Write the snapshot of [start, end) (end: now; start: the first stored event) to `path`.

    `event` keeps only these event names. `progress(stage, done, total)` is called as rows
    arrive; `cancel` (a threading.Event or a callable returning True) stops it with
    Cancelled. An existing file at `path` is replaced only by a complete snapshot.
    """
    target = Path(path).expanduser()
    if not target.parent.is_dir():
        raise FileNotFoundError(f"path: the folder {target.parent} does not exist")
    cancelled = _cancel_check(cancel)
    report = progress or (lambda stage, done, total: None)
    try:
        start_ms = optional_time(time_param(start, "start"), "start")
        end_ms = optional_time(time_param(end, "end"), "end")
    except QueryError as exc:
        raise client_error(exc) from None
    if end_ms is None:
        end_ms = now_ms()
    if start_ms is not None and start_ms >= end_ms:
        raise ValueError(f"start must be before end (end is exclusive): start "
                         f"{to_iso(start_ms)}, end {to_iso(end_ms)}")
    names = event_names(event)
    params = [("to", str(end_ms)), *([("from", str(start_ms))] if start_ms is not None else []),
              *(("eventName", n) for n in names)]
    app = client._get("/app")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                dir=target.parent)
    os.close(fd)
    temp = Path(name)
    temp.unlink()  # the name only: migrations create the database file
    replica = None
    try:
        replica = Replica(temp, app["id"], scratch=True)
        replica.write_app(app)
        counts = _copy(client, replica, params, report, cancelled)
        meta = {"kind": "snapshot", "format": FORMAT, "server": client.url,
                "appId": app["id"], "appName": app["name"],
                "from": to_iso(start_ms), "to": to_iso(end_ms), "eventNames": names,
                "takenAt": to_iso(now_ms()), "counts": counts,
                "growthkitVersion": __version__, "schema": replica.schema_revision()}
        replica.set_meta(**meta)
        _check(cancelled)
        replica.finish()
        replica.close()
        replica = None
        os.replace(temp, target)
    except BaseException:
        if replica is not None:
            replica.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{temp}{suffix}")
        raise
    return SnapshotInfo(target, meta)
