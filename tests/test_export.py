"""GET /api/v1/export through HTTP: CSV, JSON and NDJSON files, the shared filters, the
90-day export window, and a 100,000-row export streamed in bounded memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest

from growthkit.core.apps import DEFAULT_SETTINGS
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.events import Event
from growthkit.core.ingest import BatchWrite, write_batches
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import write_connection

DAY = 86_400_000
T0 = (now_ms() // 1000 - 3 * 86_400) * 1000

TRICKY = {"note": 'comma, "quotes" and\na newline', "nested": {"list": [1, 2.5, None],
          "ünïcode": "日本語 ✓"}, "empty": ""}
EVENTS = [
    {"id": "x1", "eventName": "page_viewed", "fingerprint": "fp_a", "timestamp": T0,
     "properties": TRICKY},
    {"id": "x2", "eventName": "signup_completed", "fingerprint": "fp_b",
     "timestamp": T0 + 1000, "properties": {"plan": "pro"}},
    {"id": "x3", "eventName": "page_viewed", "fingerprint": "fp_b", "timestamp": T0 + 2000},
]
COLUMNS = ["id", "appId", "fingerprintId", "eventName", "properties", "context", "sessionId",
           "timestamp", "receivedAt", "seq"]


@pytest.fixture
def seeded(server):
    app = server.create_app(rateLimitPerMinute=100_000)
    r = server.track(app.public, {"events": EVENTS, "sessionId": "s1",
                                  "context": {"title": 'He said "hi", then left'}})
    assert r.json()["accepted"] == 3, r.text
    return app


def export(server, key, **params):
    return server.client.get("/api/v1/export", params=params,
                             headers={"Authorization": f"Bearer {key}"})


def activities(server, key, **params) -> list[dict]:
    r = server.client.get("/api/v1/activities", params={"order": "asc", **params},
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def csv_rows(text: str) -> list[dict]:
    """CSV rows as StoredActivity dicts (JSON cells decoded, seq as a number)."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        for key in ("properties", "context"):
            row[key] = json.loads(row[key]) if row[key] else None
        row["seq"] = int(row["seq"])
    return rows


def test_csv_round_trips_nested_json_and_names_the_file(server, seeded):
    r = export(server, seeded.secret, format="csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="growthkit-activities-')
    assert disposition.endswith('.csv"')
    assert r.text.splitlines()[0] == ",".join(COLUMNS)
    assert "\r\n" in r.text  # RFC 4180 line ends
    assert csv_rows(r.text) == activities(server, seeded.secret)
    assert csv_rows(r.text)[0]["properties"] == TRICKY


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_and_ndjson_hold_stored_activities(server, seeded, fmt):
    r = export(server, seeded.secret, format=fmt)
    assert r.status_code == 200, r.text
    if fmt == "json":
        assert r.headers["content-type"] == "application/json"
        items = r.json()
    else:
        assert r.headers["content-type"] == "application/x-ndjson"
        lines = r.text.split("\n")
        assert lines[-1] == "" and all(lines[:-1])
        items = [json.loads(line) for line in lines[:-1]]
    assert r.headers["content-disposition"].endswith(f'.{fmt}"')
    assert items == activities(server, seeded.secret)
    assert [a["id"] for a in items] == ["x1", "x2", "x3"]
    assert items[0]["properties"] == TRICKY
    assert items[0]["context"]["title"] == 'He said "hi", then left'


FILTER_CASES = [
    {"eventName": "page_viewed"},
    {"fingerprint": "fp_b", "order": "desc"},
    {"where": "nested.ünïcode:contains:日本"},
    {"q": "PRO"},
    {"from": to_iso(T0 + 1000), "to": str(T0 + 2000)},
    {"sessionId": "other"},
]


def test_export_applies_the_same_filters_as_the_feed(server, seeded):
    for params in FILTER_CASES:
        r = export(server, seeded.secret, format="json", **params)
        assert r.status_code == 200, r.text
        assert r.json() == activities(server, seeded.secret, **params), params
    assert [a["id"] for a in export(server, seeded.secret, format="json",
                                    fingerprint="fp_b", order="desc").json()] == ["x3", "x2"]


def test_empty_exports_are_valid_files(server, seeded):
    none = {"eventName": "nothing"}
    assert export(server, seeded.secret, format="csv", **none).text == ",".join(COLUMNS) + "\r\n"
    assert export(server, seeded.secret, format="json", **none).json() == []
    assert export(server, seeded.secret, format="ndjson", **none).text == ""


def _store(server, app_id: str, events: list[Event]) -> None:
    with write_connection(server.engine) as conn, conn.begin():
        write_batches(conn, [BatchWrite(app_id, events)])


def _event(eid: str, ts: int, **extra) -> Event:
    fields = {"fingerprint": "fp_old", "event_name": "page_viewed", "properties": None,
              "context": {}, "session_id": "s_old", "timestamp": ts, "received_at": ts}
    return Event(id=eid, **{**fields, **extra})


def test_export_covers_only_the_last_90_days(server):
    assert DEFAULT_SETTINGS["retentionDays"] == 90
    app = server.create_app(retentionDays=365)
    now = now_ms()
    _store(server, app.id, [_event("d100", now - 100 * DAY), _event("d91", now - 91 * DAY),
                            _event("d89", now - 89 * DAY), _event("d1", now - DAY)])
    # The feed still sees everything stored; only the export is windowed.
    assert len(activities(server, app.secret)) == 4
    r = export(server, app.secret, format="json")
    assert [a["id"] for a in r.json()] == ["d89", "d1"]
    window = r.headers["x-export-from"]
    assert now - 90 * DAY - 5000 < _ms(window) <= now_ms() - 90 * DAY
    older = export(server, app.secret, format="json", **{"from": to_iso(now - 200 * DAY)})
    assert [a["id"] for a in older.json()] == ["d89", "d1"]
    later = export(server, app.secret, format="json", **{"from": str(now - 2 * DAY)})
    assert [a["id"] for a in later.json()] == ["d1"]
    assert later.headers["x-export-from"] == to_iso(now - 2 * DAY)
    before = export(server, app.secret, format="json", to=str(now - 95 * DAY))
    assert before.json() == []


def _ms(iso: str) -> int:
    from growthkit.core.clock import parse_time

    return parse_time(iso)


BAD_CASES = [
    ({"format": "xlsx"}, 422, ["format", "csv"]),
    ({"where": "a:gt:1"}, 422, ["a:gt:1", "op must be one of"]),
    ({"from": "soon"}, 422, ["from"]),
    ({"order": "random"}, 422, ["order"]),
]


def test_bad_export_parameters(server, seeded):
    for params, status, words in BAD_CASES:
        r = export(server, seeded.secret, **params)
        assert r.status_code == status, (params, r.text)
        assert all(w in r.json()["error"] for w in words), (params, r.text)


def test_export_needs_the_secret_key(server, seeded):
    assert server.client.get("/api/v1/export").status_code == 401
    assert export(server, seeded.public).status_code == 403


ROWS = 100_000


def test_export_of_100k_rows_streams_in_bounded_memory(live_server, tmp_path):
    app = live_server.create_app()
    base = now_ms() - 2 * DAY
    note = 'a, "quoted"\nline'
    _store(live_server, app.id, [
        _event(f"b{i:06d}", base + i, fingerprint=f"fp{i % 997}", session_id=f"s{i % 997}",
               properties={"i": i, "note": note, "tags": ["x", i % 7]})
        for i in range(ROWS)])
    # The server shares this process: its upkeep would roll the 100k new rows up (lead days,
    # presence) during the export and count toward the same peak. Done first, it has
    # nothing left to do.
    refresh_rollups(live_server.engine, settle_ms=0)
    path = tmp_path / "export.csv"
    received = chunks = 0
    tracemalloc.start()
    try:
        with path.open("wb") as out, live_server.client.stream(
                "GET", "/api/v1/export", params={"format": "csv"},
                headers={"Authorization": f"Bearer {app.secret}"}) as r:
            assert r.status_code == 200
            for data in r.iter_raw():
                received += len(data)
                chunks += 1
                out.write(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chunks > 10  # it arrived as a stream, not as one body
    # Server and client share this process: a server that built the file (or held the rows)
    # in memory would peak above the file's size; streaming stays far below it.
    assert received > 10_000_000
    assert peak < received / 2, f"peak {peak} bytes for a {received}-byte export"

    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        rows = 0
        for n, row in enumerate(reader):
            assert row["id"] == f"b{n:06d}" and row["timestamp"] == to_iso(base + n)
            rows += 1
    assert rows == ROWS
    assert json.loads(row["properties"]) == {"i": ROWS - 1, "note": note,
                                             "tags": ["x", (ROWS - 1) % 7]}
