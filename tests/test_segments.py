"""Segments through HTTP: built-ins, custom did / did-not rules, member pages, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from harness import Server, make_settings
from sqlalchemy import text

from growthkit.core.clock import now_ms, to_iso
from growthkit.server.app import create_app

H = 3_600_000
DAY = 24 * H
SEGMENTS = "/api/v1/analytics/segments"


def send(server, app, fingerprint: str, *events: tuple) -> None:
    """events: (eventName, timestamp_ms) or (eventName, timestamp_ms, properties)."""
    body = {"fingerprint": fingerprint,
            "events": [{"eventName": e[0], "timestamp": e[1],
                        **({"properties": e[2]} if len(e) > 2 else {})} for e in events]}
    r = server.track(app.public, body)
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def auth(app) -> dict:
    return {"Authorization": f"Bearer {app.secret}"}


@pytest.fixture
def app(server):
    return server.create_app(rateLimitPerMinute=100_000)


@pytest.fixture
def as_of(server, app) -> int:
    """Six leads around a fixed moment A (a day ago); leads are created in order a..f.

    a: page_viewed A-2d, A-1d, A-1h (+ one after A)   new, active, power
    b: signup A-40d, purchase A-3d (pro), A-2d (free)   active, purchase converter
    c: signup A-20d, page_viewed A-15d                  dormant
    d: signup exactly A-14d                             (not dormant: windows are inclusive)
    e: signup exactly A-7d                              new, active
    f: page_viewed A+2h only                            nothing: not seen yet at A
    """
    a = (now_ms() - DAY) // 1000 * 1000
    send(server, app, "a", ("page_viewed", a - 2 * DAY), ("page_viewed", a - DAY),
         ("page_viewed", a - H), ("page_viewed", a + H))
    send(server, app, "b", ("signup", a - 40 * DAY),
         ("purchase", a - 3 * DAY, {"plan": "pro"}), ("purchase", a - 2 * DAY, {"plan": "free"}))
    send(server, app, "c", ("signup", a - 20 * DAY), ("page_viewed", a - 15 * DAY))
    send(server, app, "d", ("signup", a - 14 * DAY))
    send(server, app, "e", ("signup", a - 7 * DAY))
    send(server, app, "f", ("page_viewed", a + 2 * H))
    return a


def members(server, app, segment: str, **params) -> list[str]:
    r = server.client.get(f"{SEGMENTS}/{segment}/members", params={"limit": 1000, **params},
                          headers=auth(app))
    assert r.status_code == 200, r.text
    assert r.json()["nextCursor"] is None
    return sorted(m["fingerprint"] for m in r.json()["data"])


def rule(server, app, body: dict, status: int = 200, **params) -> dict:
    r = server.client.post(f"{SEGMENTS}/query", json=body, params=params, headers=auth(app))
    assert r.status_code == status, r.text
    return r.json()


def test_builtin_counts(server, app, as_of):
    r = server.client.get(SEGMENTS, params={"asOf": to_iso(as_of), "event": "purchase"},
                          headers=auth(app))
    assert r.status_code == 200, r.text
    assert r.json()["asOf"] == to_iso(as_of)
    counts = {s["id"]: s["count"] for s in r.json()["data"]}
    # power: 30-day counts a 3, b 2, c 2, d 1, e 1 -> ceil(5/10) = 1 lead: a
    assert counts == {"new": 2, "active": 3, "power": 1, "dormant": 1, "converters": 1}
    converters = r.json()["data"][-1]
    assert converters["event"] == "purchase" and converters["name"] == "Converters"
    # Without ?event= there is no converters entry.
    r = server.client.get(SEGMENTS, params={"asOf": as_of}, headers=auth(app))
    assert [s["id"] for s in r.json()["data"]] == ["new", "active", "power", "dormant"]


def test_builtin_members(server, app, as_of):
    assert members(server, app, "new", asOf=as_of) == ["a", "e"]
    assert members(server, app, "active", asOf=as_of) == ["a", "b", "e"]
    assert members(server, app, "power", asOf=as_of) == ["a"]
    assert members(server, app, "dormant", asOf=as_of) == ["c"]
    assert members(server, app, "converters", asOf=as_of, event="purchase") == ["b"]
    assert members(server, app, "converters", asOf=as_of, event="signup") == ["b", "c", "d", "e"]
    assert members(server, app, "converters", asOf=as_of, event="never") == []


def test_a_lead_created_by_a_credit_operation_is_new_not_dormant(server):
    app = server.create_app(initialCredits=5)
    r = server.client.post("/api/v1/credits", headers=auth(app), json={
        "fingerprint": "fresh", "amount": 3, "action": "purchase"})
    assert r.status_code in (200, 201), r.text
    r = server.client.get(SEGMENTS, headers=auth(app))
    counts = {s["id"]: s["count"] for s in r.json()["data"]}
    assert counts["new"] == 1 and counts["dormant"] == 0
    assert members(server, app, "new") == ["fresh"] and members(server, app, "dormant") == []


def test_as_of_defaults_to_now(server, app, as_of):
    # At the real now (a day after A) every event is a day older and f exists:
    # e (now-8d) drops out of new and active, d (now-15d) turns dormant.
    assert members(server, app, "active") == ["a", "b", "f"]
    assert members(server, app, "new") == ["a", "f"]
    assert members(server, app, "dormant") == ["c", "d"]


@pytest.mark.parametrize("ones, expected", [
    (9, ["p01", "p03"]),  # 12 leads: ceil(12/10) = 2
    (8, ["p01", "p03"]),  # 11 leads: 2
    (7, ["p01"]),  # 10 leads: 1
])
def test_power_users_are_the_top_decile(server, ones, expected):
    app = server.create_app(rateLimitPerMinute=100_000)
    now = now_ms()
    # p02 and p03 tie on 7 events; p03's latest event is more recent, so it wins the tie.
    counts = {"p01": 9, "p02": 7, "p03": 7, **{f"q{i:02d}": 1 for i in range(ones)}}
    for fp, n in counts.items():
        offset = DAY if fp == "p03" else 2 * DAY
        send(server, app, fp, *[("page_viewed", now - offset - i * 1000) for i in range(n)])
    # Many events, but all older than 30 days: not ranked.
    send(server, app, "old", *[("page_viewed", now - 40 * DAY + i) for i in range(20)])
    assert members(server, app, "power") == expected
    r = server.client.get(f"{SEGMENTS}/power/members", headers=auth(app))
    assert {m["fingerprint"]: m["events"] for m in r.json()["data"]} == {
        fp: counts[fp] for fp in expected}


def test_member_pages_fields_and_cursor(server, app, as_of):
    with server.engine.begin() as conn:
        conn.execute(text("UPDATE leads SET email = 'bee@example.com', name = 'Bee' "
                          "WHERE fingerprint = 'b'"))
    url = f"{SEGMENTS}/active/members"
    r = server.client.get(url, params={"asOf": to_iso(as_of), "limit": 2}, headers=auth(app))
    assert r.status_code == 200, r.text
    page = r.json()
    # Newest leads first: e was created after b, b after a.
    assert [m["fingerprint"] for m in page["data"]] == ["e", "b"]
    assert page["data"][1] == {"fingerprint": "b", "email": "bee@example.com", "name": "Bee",
                               "firstSeen": to_iso(as_of - 40 * DAY),
                               "lastSeen": to_iso(as_of - 2 * DAY), "events": 3}
    assert page["nextCursor"]
    # The cursor keeps asOf: no asOf on the next page, and a's event after A is not counted.
    r = server.client.get(url, params={"cursor": page["nextCursor"], "limit": 2},
                          headers=auth(app))
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [{"fingerprint": "a", "email": None, "name": None,
                                  "firstSeen": to_iso(as_of - 2 * DAY),
                                  "lastSeen": to_iso(as_of + H), "events": 3}],
                        "nextCursor": None}
    r = server.client.get(url, params={"cursor": page["nextCursor"], "asOf": as_of - DAY},
                          headers=auth(app))
    assert r.status_code == 400 and r.json()["error"].startswith("asOf")


def test_custom_rules(server, app, as_of):
    def fps(body):
        out = rule(server, app, {"asOf": to_iso(as_of), **body})
        names = sorted(m["fingerprint"] for m in out["data"])
        assert out["count"] == len(names) and out["asOf"] == to_iso(as_of)
        return names

    assert fps({"did": [{"eventName": "purchase", "atLeast": 2}]}) == ["b"]
    # Only the purchase at exactly A-2d lies in the last 2 days.
    assert fps({"did": [{"eventName": "purchase", "atLeast": 2, "days": 2}]}) == []
    assert fps({"did": [{"eventName": "purchase", "days": 2}]}) == ["b"]
    assert fps({"did": [{"eventName": "page_viewed", "atLeast": 3}]}) == ["a"]
    assert fps({"did": [{"eventName": "page_viewed", "atLeast": 4}]}) == []  # 4th is after A
    assert fps({"did": [{"eventName": "signup"}],
                "didNot": [{"eventName": "purchase"}]}) == ["c", "d", "e"]
    # c's page_viewed (A-15d) is inside 16 days, outside 14.
    assert fps({"did": [{"eventName": "signup"}],
                "didNot": [{"eventName": "page_viewed", "days": 16}]}) == ["b", "d", "e"]
    assert fps({"did": [{"eventName": "signup"}],
                "didNot": [{"eventName": "page_viewed", "days": 14}]}) == ["b", "c", "d", "e"]
    pro = [{"key": "plan", "op": "eq", "value": "pro"}]
    assert fps({"did": [{"eventName": "purchase", "where": pro}]}) == ["b"]
    assert fps({"did": [{"eventName": "purchase", "atLeast": 2, "where": pro}]}) == []
    assert fps({"did": [{"eventName": "signup"}, {"eventName": "page_viewed"}]}) == ["c"]
    assert fps({"didNot": [{"eventName": "signup"}]}) == ["a"]
    both = [{"eventName": "signup"}, {"eventName": "page_viewed"}]
    assert fps({"did": both, "didNot": [{"eventName": "purchase"}]}) == ["c"]
    assert fps({"did": both, "didNot": [{"eventName": "page_viewed", "days": 16}]}) == []
    assert fps({"didNot": [{"eventName": "signup"}, {"eventName": "page_viewed"}]}) == []


def test_custom_rule_pages(server, app, as_of):
    body = {"did": [{"eventName": "signup"}], "asOf": as_of}
    first = rule(server, app, body, limit=3)
    assert first["count"] == 4
    assert [m["fingerprint"] for m in first["data"]] == ["e", "d", "c"]
    second = rule(server, app, body, limit=3, cursor=first["nextCursor"])
    assert second["count"] == 4 and second["nextCursor"] is None
    assert [m["fingerprint"] for m in second["data"]] == ["b"]


def test_apps_see_only_their_own_leads(server, app, as_of):
    other = server.create_app("Other", rateLimitPerMinute=100_000)
    send(server, other, "theirs", ("purchase", as_of - DAY))
    assert members(server, other, "converters", event="purchase", asOf=as_of) == ["theirs"]
    assert members(server, app, "converters", event="purchase", asOf=as_of) == ["b"]
    r = server.client.get(SEGMENTS, params={"asOf": as_of}, headers=auth(other))
    assert {s["id"]: s["count"] for s in r.json()["data"]} == {
        "new": 1, "active": 1, "power": 1, "dormant": 0}


def test_counts_and_pages_are_cached_briefly_per_app(database_url, redis_url):
    asgi = create_app(make_settings(database_url, redis_url, query_cache_seconds=60))
    with TestClient(asgi) as client:
        server = Server(client=client, engine=asgi.state.growthkit.engine)
        one, two = (server.create_app(n, rateLimitPerMinute=1000) for n in ("One", "Two"))
        send(server, one, "a", ("page_viewed", now_ms() - H))
        first = client.get(SEGMENTS, headers=auth(one))
        send(server, one, "b", ("page_viewed", now_ms() - H))
        again = client.get(SEGMENTS, headers=auth(one))
        assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
        assert again.json() == first.json()
        fresh = client.get(SEGMENTS, params={"event": "page_viewed"}, headers=auth(one))
        assert fresh.headers["x-cache"] == "miss"
        assert {s["id"]: s["count"] for s in fresh.json()["data"]}["active"] == 2
        other = client.get(SEGMENTS, headers=auth(two))
        assert other.headers["x-cache"] == "miss"
        assert {s["id"]: s["count"] for s in other.json()["data"]}["active"] == 0
        url = f"{SEGMENTS}/active/members"
        assert client.get(url, headers=auth(one)).headers["x-cache"] == "miss"
        assert client.get(url, headers=auth(one)).headers["x-cache"] == "hit"


def test_keys_are_required(server, app):
    assert server.client.get(SEGMENTS).status_code == 401
    r = server.client.get(SEGMENTS, headers={"Authorization": f"Bearer {app.public}"})
    assert r.status_code == 403
    r = server.client.post(f"{SEGMENTS}/query", json={"did": [{"eventName": "x"}]})
    assert r.status_code == 401


@pytest.mark.parametrize("method, path, params, body, status, field", [
    ("get", "/converters/members", {}, None, 422, "event"),
    ("get", "/whales/members", {}, None, 404, "segment"),
    ("get", "/active/members", {"cursor": "not-a-cursor!"}, None, 400, "cursor"),
    ("get", "/active/members", {"limit": 0}, None, 422, "limit"),
    ("get", "/active/members", {"limit": 1001}, None, 422, "limit"),
    ("get", "", {"asOf": "last tuesday"}, None, 422, "asOf"),
    ("post", "/query", {}, {}, 422, "did"),
    ("post", "/query", {}, {"did": [{"eventName": "x", "atLeast": 0}]}, 422, "did.0.atLeast"),
    ("post", "/query", {}, {"did": [{"eventName": "x", "days": -1}]}, 422, "did.0.days"),
    ("post", "/query", {}, {"didNot": [{"eventName": "x", "atLeast": 2}]}, 422,
     "didNot.0.atLeast"),
    ("post", "/query", {}, {"did": [{"eventName": "x", "where": [{"key": "p", "op": "lt",
                                                                  "value": 1}]}]},
     422, "did[0].where[0]"),
])
def test_validation_errors_name_the_field(server, app, method, path, params, body, status,
                                          field):
    kwargs = {"params": params, "headers": auth(app)}
    if body is not None:
        kwargs["json"] = body
    r = getattr(server.client, method)(SEGMENTS + path, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"].startswith(field), r.json()["error"]
