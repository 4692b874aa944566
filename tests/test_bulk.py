"""Bulk reads through HTTP: stored rows of one app by row number for snapshots and caches —
range and name filters, paging without gaps, sync cursors, ledgers by lead, aggregates."""

from __future__ import annotations

from growthkit.core.clock import now_ms, to_iso
from growthkit.core.retention import run_retention

MIN = 60_000
DAY = 86_400_000


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def seed(server, app, n: int = 7, fp: str = "fp_1", name: str = "page_viewed",
         t0: int | None = None) -> None:
    t0 = t0 or now_ms() - 60 * MIN
    r = server.track(app.public, {"fingerprint": fp, "events": [
        {"eventName": name, "timestamp": t0 + i * MIN, "properties": {"i": i}}
        for i in range(n)]})
    assert r.json()["accepted"] == n, r.text


def walk(server, key: str, path: str, method: str = "GET", **kw) -> tuple[list, list[dict]]:
    rows, pages, cursor = [], [], None
    while True:
        if method == "GET":
            params = {**kw, **({"cursor": cursor} if cursor else {})}
            r = server.client.get(f"/api/v1/bulk{path}", params=params, headers=auth(key))
        else:
            body = {**kw, "cursor": cursor}
            r = server.client.post(f"/api/v1/bulk{path}", json=body, headers=auth(key))
        assert r.status_code == 200, r.text
        pages.append(r.json())
        rows += r.json()["rows"]
        cursor = r.json()["nextCursor"]
        if not cursor:
            return rows, pages


def test_activities_page_by_row_number_with_range_and_names(server):
    app, other = server.create_app(rateLimitPerMinute=10_000), server.create_app("Other")
    t0 = now_ms() - 60 * MIN
    seed(server, app, 7, t0=t0)
    seed(server, app, 3, fp="fp_2", name="signup_completed", t0=t0)
    seed(server, other, 2, fp="fp_x")
    rows, pages = walk(server, app.secret, "/activities", limit=3, count="true")
    assert len(pages) == 4 and pages[0]["remaining"] == 10
    assert pages[0]["columns"] == ["seq", "id", "fingerprintId", "eventName", "properties",
                                   "context", "sessionId", "timestamp", "receivedAt"]
    seqs = [r[0] for r in rows]
    stored = [r.seq for r in server.rows("SELECT seq FROM activities WHERE app_id = :a "
                                         "ORDER BY seq", a=app.id)]
    assert seqs == stored  # every row once, in store order; the other app's never
    first = rows[0]
    assert isinstance(first[4], str) and '"i"' in first[4]  # JSON text, as stored
    assert isinstance(first[7], int) and first[7] == t0
    ranged, _ = walk(server, app.secret, "/activities", eventName="signup_completed",
                     **{"from": to_iso(t0 + MIN), "to": to_iso(t0 + 3 * MIN)})
    assert [(r[2], r[7]) for r in ranged] == [("fp_2", t0 + MIN), ("fp_2", t0 + 2 * MIN)]


def test_sync_cursor_returns_only_rows_stored_since(server):
    app = server.create_app(rateLimitPerMinute=10_000)
    seed(server, app, 4)
    rows, pages = walk(server, app.secret, "/activities", limit=10)
    assert len(rows) == 4 and pages[-1]["nextCursor"] is None
    sync = pages[-1]["syncCursor"]
    pg = server.engine.dialect.name == "postgresql"
    again, _ = walk(server, app.secret, "/activities", cursor=sync)
    # PostgreSQL: rows younger than the settle time are read again by the next sync (a copy
    # upserts them), so a row that committed late is never missed. SQLite: nothing new.
    assert [r[0] for r in again] == ([r[0] for r in rows] if pg else [])
    seed(server, app, 2, fp="fp_new")
    new, _ = walk(server, app.secret, "/activities", cursor=sync)
    assert [r[2] for r in new] == ["fp_1"] * (4 if pg else 0) + ["fp_new", "fp_new"]


def test_leads_and_ledgers_of_listed_fingerprints(server):
    app = server.create_app(rateLimitPerMinute=10_000, initialCredits=10)
    for fp in ("fp_1", "fp_2", "fp_3"):
        seed(server, app, 1, fp=fp)
    for fp, amount in (("fp_1", 5), ("fp_2", -3), ("fp_1", -2)):
        r = server.client.post("/api/v1/credits", headers=auth(app.secret), json={
            "fingerprint": fp, "amount": amount, "action": "purchase"})
        assert r.status_code == 200, r.text
    leads, pages = walk(server, app.secret, "/leads", "POST", fingerprints=["fp_1", "fp_3"])
    assert pages[0]["columns"] == ["id", "fingerprint", "firstSeen", "lastSeen", "email",
                                   "name", "traits", "events"]
    assert sorted(r[1] for r in leads) == ["fp_1", "fp_3"]
    assert all(r[7] == 1 for r in leads)
    ops, _ = walk(server, app.secret, "/credit-operations", "POST", fingerprints=["fp_1"],
                  limit=2)
    # fp_1's whole ledger in order: the starting grant, +5, -2 (balances after each).
    assert [(r[2], r[3], r[4], r[5]) for r in ops] == [
        ("fp_1", "initial_credits", 10, 10), ("fp_1", "purchase", 5, 15),
        ("fp_1", "purchase", -2, 13)]
    every, _ = walk(server, app.secret, "/credit-operations", "POST")
    assert len(every) == 5


def test_aggregates_before_the_retention_cut(server):
    app = server.create_app(rateLimitPerMinute=10_000, retentionDays=2)
    r = server.client.get("/api/v1/bulk/aggregates", headers=auth(app.secret))
    assert r.json()["rolledUntil"] is None and r.json()["daily"]["rows"] == []
    today = now_ms() // DAY * DAY
    old = today - DAY + 3 * 3_600_000  # yesterday 03:00: ingest takes it (2 days)
    seed(server, app, 3, t0=old)
    run_retention(server.engine, now=now_ms() + 2 * DAY)  # two days on: it expires
    data = server.client.get("/api/v1/bulk/aggregates", headers=auth(app.secret)).json()
    assert data["rolledUntil"] == today
    assert [r for r in data["daily"]["rows"] if r[1] == "*"] == [[today - DAY, "*", 3, 1, 1]]
    assert sum(r[2] for r in data["counts15m"]["rows"]) == 3
    assert sum(r[2] for r in data["countsHourly"]["rows"]) == 3


def test_bad_requests_name_the_field(server):
    app = server.create_app()
    h = auth(app.secret)
    r = server.client.get("/api/v1/bulk/activities", params={"limit": 0}, headers=h)
    assert r.status_code == 422 and "limit" in r.json()["error"]
    r = server.client.get("/api/v1/bulk/activities", params={"cursor": "nope"}, headers=h)
    assert r.status_code == 400 and "cursor" in r.json()["error"]
    r = server.client.get("/api/v1/bulk/activities", params={"fingerprint": "fp_1"}, headers=h)
    assert r.status_code == 422 and "from, to and eventName" in r.json()["error"]
    r = server.client.post("/api/v1/bulk/leads", json={"fingerprints": ["x"] * 1001},
                           headers=h)
    assert r.status_code == 422 and "at most 1000" in r.json()["error"]
    r = server.client.post("/api/v1/bulk/leads", json={"seenSince": "yesterday"}, headers=h)
    assert r.status_code == 422 and "seenSince" in r.json()["error"]
    r = server.client.get("/api/v1/bulk/activities", headers=auth(app.public))
    assert r.status_code == 403
