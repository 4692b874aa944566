"""GET /leads/{fp}/sessions through HTTP: grouping, entry/exit pages, UA fields, paging,
a session's events in order, errors."""

from __future__ import annotations

import pytest

from growthkit.core.clock import now_ms, to_iso

MIN = 60_000
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def lead(server):
    """fp_s: session A (3 events, 2 page views, 10 min), session B (2 events) an hour later;
    another lead's session that must not show up."""
    app = server.create_app(rateLimitPerMinute=10_000)
    t = now_ms() - 5 * 60 * MIN
    batches = [
        ("sA", "https://app.example/", [("page_viewed", t), ("button_clicked", t + 2 * MIN)]),
        ("sA", "https://app.example/pricing", [("page_viewed", t + 10 * MIN)]),
        ("sB", "https://app.example/docs", [("page_viewed", t + 70 * MIN),
                                             ("search", t + 71 * MIN)]),
    ]
    for sid, url, events in batches:
        r = server.track(app.public, {
            "fingerprint": "fp_s", "sessionId": sid, "context": {"url": url},
            "events": [{"eventName": n, "timestamp": ts} for n, ts in events]},
            headers={"User-Agent": CHROME})
        assert r.json()["accepted"] == len(events), r.text
    server.track(app.public, {"fingerprint": "fp_other", "sessionId": "sX",
                              "events": [{"eventName": "page_viewed"}]})
    return app, t


def test_sessions_newest_first_with_pages_and_device(server, lead):
    app, t = lead
    r = server.client.get("/api/v1/leads/fp_s/sessions", headers=auth(app.secret))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fingerprint"] == "fp_s" and body["nextCursor"] is None
    b, a = body["data"]
    assert b == {"sessionId": "sB", "start": to_iso(t + 70 * MIN), "end": to_iso(t + 71 * MIN),
                 "durationSeconds": 60.0, "events": 2, "pageViews": 1,
                 "entryPage": "https://app.example/docs", "exitPage": "https://app.example/docs",
                 "browser": "Chrome 120", "os": "Windows 10", "device": "desktop"}
    assert a["sessionId"] == "sA" and a["events"] == 3 and a["pageViews"] == 2
    assert a["durationSeconds"] == 600.0
    assert a["entryPage"] == "https://app.example/"
    assert a["exitPage"] == "https://app.example/pricing"


def test_sessions_page_and_range(server, lead):
    app, t = lead
    r = server.client.get("/api/v1/leads/fp_s/sessions", params={"limit": 1},
                          headers=auth(app.secret))
    first = r.json()
    assert [s["sessionId"] for s in first["data"]] == ["sB"] and first["nextCursor"]
    r = server.client.get("/api/v1/leads/fp_s/sessions",
                          params={"limit": 1, "cursor": first["nextCursor"]},
                          headers=auth(app.secret))
    assert [s["sessionId"] for s in r.json()["data"]] == ["sA"]
    assert r.json()["nextCursor"] is None
    r = server.client.get("/api/v1/leads/fp_s/sessions",
                          params={"from": to_iso(t + MIN), "to": to_iso(t + 60 * MIN)},
                          headers=auth(app.secret))
    (only,) = r.json()["data"]
    assert only["sessionId"] == "sA" and only["events"] == 2 and only["pageViews"] == 1


def test_a_sessions_events_in_order(server, lead):
    app, _ = lead
    r = server.client.get("/api/v1/leads/fp_s/activities",
                          params={"sessionId": "sA", "order": "asc"}, headers=auth(app.secret))
    assert [e["eventName"] for e in r.json()["data"]] == \
        ["page_viewed", "button_clicked", "page_viewed"]


@pytest.mark.parametrize("params,status,field", [
    ({"limit": 0}, 422, "limit"), ({"cursor": "nope"}, 400, "cursor"),
    ({"from": "yesterday"}, 422, "from")])
def test_bad_parameters(server, lead, params, status, field):
    app, _ = lead
    r = server.client.get("/api/v1/leads/fp_s/sessions", params=params,
                          headers=auth(app.secret))
    assert r.status_code == status and field in r.json()["error"], r.text


def test_unknown_lead_and_keys(server, lead):
    app, _ = lead
    r = server.client.get("/api/v1/leads/nobody/sessions", headers=auth(app.secret))
    assert r.status_code == 404 and "nobody" in r.json()["error"]
    assert server.client.get("/api/v1/leads/fp_s/sessions",
                             headers=auth(app.public)).status_code == 403
