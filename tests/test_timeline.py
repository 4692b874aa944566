"""The unified timeline through HTTP: events and credit operations merged in time order,
gaps, kind and range filters, paging in both orders (gaps correct across pages), ties."""

from __future__ import annotations

import pytest

from growthkit.core.clock import now_ms, to_iso

MIN = 60_000


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def timeline(server, key: str, fp: str = "fp_1", **params):
    return server.client.get(f"/api/v1/leads/{fp}/timeline", params=params, headers=auth(key))


def walk(server, key: str, fp: str = "fp_1", **params) -> tuple[list[dict], int]:
    """Every item through the pages, and how many pages it took."""
    items, cursor, pages = [], None, 0
    while True:
        r = timeline(server, key, fp, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        items += r.json()["data"]
        pages += 1
        cursor = r.json()["nextCursor"]
        if cursor is None:
            return items, pages


def gaps(times: list[int]) -> list[float | None]:
    return [None] + [abs(b - a) / 1000 for a, b in zip(times, times[1:], strict=False)]


@pytest.fixture
def story(server):
    """fp_1: two events before the credit operations, two after; another lead's activity
    that must never show up. Returns (app, expected [(kind, name, epoch ms)] oldest first)."""
    app = server.create_app(rateLimitPerMinute=10_000, initialCredits=5,
                            actionCosts={"export": 2})
    t = now_ms()
    events = {"e1": t - 30 * MIN, "e2": t - 29 * MIN, "e3": t + 10 * MIN, "e4": t + 12 * MIN}
    r = server.track(app.public, {"fingerprint": "fp_1", "events": [
        {"eventName": name, "timestamp": ts, "properties": {"n": name}}
        for name, ts in events.items()]})
    assert r.json()["accepted"] == 4
    server.track(app.public, {"fingerprint": "fp_2", "events": [{"eventName": "other"}]})
    assert server.client.post("/api/v1/credits", headers=auth(app.secret), json={
        "fingerprint": "fp_1", "amount": 3, "action": "purchase"}).status_code == 200
    assert server.client.post("/api/v1/actions/complete", headers=auth(app.public), json={
        "fingerprint": "fp_1", "action": "export"}).status_code == 200
    ops = server.rows("SELECT action, timestamp FROM credit_operations "
                      "WHERE fingerprint_id = 'fp_1' ORDER BY seq")
    expected = ([("event", "e1", events["e1"]), ("event", "e2", events["e2"])]
                + [("credit", o.action, o.timestamp) for o in ops]
                + [("event", "e3", events["e3"]), ("event", "e4", events["e4"])])
    return app, expected


def test_merged_in_time_order_with_gaps_and_details(server, story):
    app, expected = story
    r = timeline(server, app.secret)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["nextCursor"] is None
    data = page["data"]
    assert [(i["kind"], i["name"]) for i in data] == [(k, n) for k, n, _ in expected]
    assert [i["name"] for i in data][2:5] == ["initial_credits", "purchase", "export"]
    assert [i["timestamp"] for i in data] == [to_iso(ts) for _, _, ts in expected]
    assert [i["gapSeconds"] for i in data] == gaps([ts for _, _, ts in expected])
    assert data[1]["gapSeconds"] == 60.0 and data[-1]["gapSeconds"] == 120.0
    assert data[0]["details"]["properties"] == {"n": "e1"} and data[0]["details"]["sessionId"]
    credits = [i["details"] for i in data if i["kind"] == "credit"]
    assert [(c["amount"], c["balanceAfter"]) for c in credits] == [(5, 5), (3, 8), (-2, 6)]
    assert set(data[2]) == {"kind", "timestamp", "name", "details", "gapSeconds"}


def test_kind_filter(server, story):
    app, expected = story
    events = timeline(server, app.secret, kind="event").json()["data"]
    assert [i["name"] for i in events] == ["e1", "e2", "e3", "e4"]
    # e2 (t-29 min) to e3 (t+10 min): the gap spans the credit operations left out.
    assert [i["gapSeconds"] for i in events] == [None, 60.0, 39 * 60.0, 120.0]
    credits = timeline(server, app.secret, kind="credit").json()["data"]
    assert [i["name"] for i in credits] == ["initial_credits", "purchase", "export"]
    assert [i["gapSeconds"] for i in credits] == gaps([ts for k, _, ts in expected
                                                       if k == "credit"])
    r = timeline(server, app.secret, kind="email")
    assert r.status_code == 422 and "kind" in r.json()["error"]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_paging_keeps_order_and_gaps(server, story, order, limit):
    app, expected = story
    if order == "desc":
        expected = expected[::-1]
    items, pages = walk(server, app.secret, order=order, limit=limit)
    assert [i["name"] for i in items] == [n for _, n, _ in expected]
    assert [i["gapSeconds"] for i in items] == gaps([ts for _, _, ts in expected])
    assert pages == -(-len(expected) // limit)


def test_range_filter(server, story):
    app, expected = story
    e2, e3 = expected[1][2], expected[-2][2]
    items, _ = walk(server, app.secret, limit=2, **{"from": to_iso(e2), "to": to_iso(e3)})
    assert [i["name"] for i in items] == ["e2", "initial_credits", "purchase", "export"]
    assert items[0]["gapSeconds"] is None  # the first item of the listing
    items, _ = walk(server, app.secret, kind="event", **{"from": str(e3)})
    assert [i["name"] for i in items] == ["e3", "e4"]
    r = timeline(server, app.secret, **{"from": "yesterday"})
    assert r.status_code == 422 and "from" in r.json()["error"]
    r = timeline(server, app.secret, **{"from": to_iso(e3), "to": to_iso(e2)})
    assert r.status_code == 422


def test_same_millisecond_event_comes_before_credit_across_pages(server):
    app = server.create_app(rateLimitPerMinute=10_000, initialCredits=1)
    server.client.post("/api/v1/credits", headers=auth(app.secret),
                       json={"fingerprint": "fp_1", "amount": 1, "action": "gift"})
    # The starting grant and the first operation are written together, at one time.
    (ts,) = {r.timestamp for r in server.rows("SELECT timestamp FROM credit_operations")}
    server.track(app.public, {"fingerprint": "fp_1", "events": [
        {"eventName": "tied_a", "timestamp": ts}, {"eventName": "tied_b", "timestamp": ts},
        {"eventName": "later", "timestamp": ts + 1500}]})
    names = ["tied_a", "tied_b", "initial_credits", "gift", "later"]
    for limit in (1, 2, 10):
        items, _ = walk(server, app.secret, limit=limit)
        assert [i["name"] for i in items] == names
        assert [i["gapSeconds"] for i in items] == [None, 0, 0, 0, 1.5]
        desc, _ = walk(server, app.secret, limit=limit, order="desc")
        assert [i["name"] for i in desc] == names[::-1]
        assert [i["gapSeconds"] for i in desc] == [None, 1.5, 0, 0, 0]


def test_cursor_and_lead_rules(server, story):
    app, _ = story
    cursor = timeline(server, app.secret, limit=2).json()["nextCursor"]
    r = timeline(server, app.secret, limit=2, kind="event", cursor=cursor)
    assert r.status_code == 400 and "cursor" in r.json()["error"]
    assert timeline(server, app.secret, order="sideways").status_code == 422
    assert timeline(server, app.secret, limit=0).status_code == 422
    assert timeline(server, app.secret, "fp_nobody").status_code == 404
    assert timeline(server, app.public).status_code == 403
    assert server.client.get("/api/v1/leads/fp_1/timeline").status_code == 401
    other = server.create_app("Other")
    assert timeline(server, other.secret).status_code == 404
    paths = server.client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/leads/{fingerprint}/timeline"]
