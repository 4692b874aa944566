"""GET /api/v1/activities through HTTP: auth, the StoredActivity shape, every filter,
validation, and keyset pagination that neither skips nor repeats while ingest runs."""

from __future__ import annotations

import threading
import uuid

import pytest

from growthkit.core.clock import now_ms, parse_time, to_iso

T0 = (now_ms() // 1000 - 5 * 86_400) * 1000  # five days ago, on a whole second

# (id, eventName, fingerprint, sessionId, seconds after T0, properties)
EVENTS = [
    ("e1", "page_viewed", "fp_a", "s1", 0,
     {"path": "/home", "utm": {"source": "Newsletter", "medium": "email"}}),
    ("e2", "button_clicked", "fp_a", "s1", 1, {"button": "Buy", "count": 3}),
    ("e3", "signup_completed", "fp_b", "s2", 2, {"plan": "pro", "coupon": "WELCOME"}),
    ("e4", "page_viewed", "fp_b", "s2", 3, {"path": "/pricing", "utm": {"source": "google"}}),
    ("e5", "signup_completed", "fp_c", "s3", 4, {"plan": "free"}),
    ("e6", "button_clicked", "fp_c", "s3", 5, None),
]


def event(eid, name, fp, session, sec, props):
    body = {"id": eid, "eventName": name, "fingerprint": fp, "sessionId": session,
            "timestamp": T0 + sec * 1000}
    if props is not None:
        body["properties"] = props
    return body


@pytest.fixture
def seeded(server):
    app = server.create_app(rateLimitPerMinute=100_000)
    r = server.track(app.public, {"events": [event(*e) for e in EVENTS],
                                  "context": {"url": "https://shop.example/"}})
    assert r.json()["accepted"] == len(EVENTS), r.text
    return app


def get(server, key, **params):
    return server.client.get("/api/v1/activities", params=params,
                             headers={"Authorization": f"Bearer {key}"})


def ids(server, key, **params) -> list[str]:
    r = get(server, key, **params)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["data"]]


def test_keys_are_required_and_only_the_apps_own_events_are_seen(server, seeded):
    assert server.client.get("/api/v1/activities").status_code == 401
    assert get(server, "sk_nonsense").status_code == 401
    r = get(server, seeded.public)
    assert r.status_code == 403 and "secret key" in r.json()["error"]
    other = server.create_app("Other", rateLimitPerMinute=1000)
    server.track(other.public, {"fingerprint": "fp_a", "events": [{"eventName": "page_viewed",
                                                                   "id": "other-1"}]})
    assert ids(server, other.secret) == ["other-1"]
    assert ids(server, seeded.secret) == ["e6", "e5", "e4", "e3", "e2", "e1"]


def test_items_have_the_stored_activity_shape(server, seeded):
    body = get(server, seeded.secret, fingerprint="fp_a").json()
    assert body["nextCursor"] is None
    e2 = body["data"][0]
    seq = server.scalar("SELECT seq FROM activities WHERE id = 'e2'")
    received = server.scalar("SELECT received_at FROM activities WHERE id = 'e2'")
    assert set(e2) == {"id", "appId", "fingerprintId", "eventName", "properties", "context",
                       "sessionId", "timestamp", "receivedAt", "seq"}
    assert e2["id"] == "e2" and e2["appId"] == seeded.id and e2["fingerprintId"] == "fp_a"
    assert e2["eventName"] == "button_clicked" and e2["sessionId"] == "s1"
    assert e2["properties"] == {"button": "Buy", "count": 3}
    assert e2["context"]["url"] == "https://shop.example/"
    assert e2["timestamp"] == to_iso(T0 + 1000) and e2["timestamp"].endswith(".000Z")
    assert e2["receivedAt"] == to_iso(received) and e2["seq"] == seq
    assert body["data"][1]["id"] == "e1"
    e6 = get(server, seeded.secret, eventName="button_clicked").json()["data"][0]
    assert e6["id"] == "e6" and e6["properties"] == {}


# Each case runs against one seeded server (a server per case would mostly time migrations).
FILTER_CASES = [
    ({}, ["e6", "e5", "e4", "e3", "e2", "e1"]),
    ({"order": "asc"}, ["e1", "e2", "e3", "e4", "e5", "e6"]),
    ({"eventName": "page_viewed"}, ["e4", "e1"]),
    ({"eventName": ["page_viewed", "signup_completed"]}, ["e5", "e4", "e3", "e1"]),
    ({"eventName": "page_viewed,signup_completed"}, ["e5", "e4", "e3", "e1"]),
    ({"eventName": "no_such_event"}, []),
    ({"from": to_iso(T0 + 1000), "to": str(T0 + 4000)}, ["e4", "e3", "e2"]),
    ({"from": str(T0 + 4000)}, ["e6", "e5"]),
    ({"to": to_iso(T0 + 1000).replace("Z", "+00:00")}, ["e1"]),
    ({"fingerprint": "fp_b"}, ["e4", "e3"]),
    ({"sessionId": "s3"}, ["e6", "e5"]),
    ({"where": "plan:eq:pro"}, ["e3"]),
    ({"where": "plan:ne:pro"}, ["e6", "e5", "e4", "e2", "e1"]),
    ({"where": "utm.source:contains:NEWS"}, ["e1"]),
    ({"where": "utm.source:eq:google"}, ["e4"]),
    ({"where": "coupon:exists"}, ["e3"]),
    ({"where": "coupon"}, ["e3"]),
    ({"where": "utm:not_exists"}, ["e6", "e5", "e3", "e2"]),
    ({"where": "count:eq:3"}, ["e2"]),
    ({"where": ["plan:exists", "plan:eq:free"]}, ["e5"]),
    ({"q": "buy"}, ["e2"]),
    ({"q": "SIGNUP"}, ["e5", "e3"]),
    ({"q": "pricing"}, ["e4"]),
    ({"q": "100%"}, []),
    ({"eventName": "page_viewed", "fingerprint": "fp_a"}, ["e1"]),
    ({"eventName": "signup_completed", "where": "plan:ne:pro", "order": "asc"}, ["e5"]),
]


def test_filters(server, seeded):
    wrong = [(params, expected, got) for params, expected in FILTER_CASES
             if (got := ids(server, seeded.secret, **params)) != expected]
    assert not wrong, "\n".join(f"{p}: expected {e}, got {g}" for p, e, g in wrong)


BAD_CASES = [
    ({"limit": "1001"}, 422, ["limit", "1000"]),
    ({"limit": "0"}, 422, ["limit"]),
    ({"limit": "many"}, 422, ["limit"]),
    ({"order": "sideways"}, 422, ["order"]),
    ({"where": "plan:like:pro"}, 422, ["plan:like:pro", "op must be one of"]),
    ({"where": "plan:eq"}, 422, ["plan:eq", "needs a value"]),
    ({"where": ":eq:x"}, 422, ["key is empty"]),
    ({"from": "yesterday"}, 422, ["from", "ISO-8601"]),
    ({"to": "2025-13-45"}, 422, ["to", "ISO-8601"]),
    ({"from": str(T0 + 5000), "to": str(T0 + 5000)}, 422, ["from must be before to"]),
    ({"cursor": "not-a-cursor"}, 400, ["cursor is not valid"]),
    ({"cursor": "WzEsImEiLDJd"}, 400, ["cursor is not valid"]),  # [1,"a",2]
]


def test_bad_parameters_are_named(server, seeded):
    wrong = []
    for params, status, words in BAD_CASES:
        r = get(server, seeded.secret, **params)
        body = r.json()
        if (r.status_code, body.get("status")) != (status, status) or not all(
                w in body.get("error", "") for w in words):
            wrong.append(f"{params}: {r.status_code} {body}")
    assert not wrong, "\n".join(wrong)


def test_default_limit_and_last_page(server):
    app = server.create_app(rateLimitPerMinute=100_000)
    for start in range(0, 105, 35):
        server.track(app.public, {"fingerprint": "fp", "events": [
            {"id": f"d{i:03d}", "eventName": "tick", "timestamp": T0 + i}
            for i in range(start, min(start + 35, 105))]})
    first = get(server, app.secret).json()
    assert len(first["data"]) == 100 and first["data"][0]["id"] == "d104"
    assert first["nextCursor"]
    second = get(server, app.secret, cursor=first["nextCursor"]).json()
    assert [a["id"] for a in second["data"]] == ["d004", "d003", "d002", "d001", "d000"]
    assert second["nextCursor"] is None
    exact = get(server, app.secret, limit=105).json()
    assert len(exact["data"]) == 105 and exact["nextCursor"] is None


def _position(item) -> tuple[int, int]:
    return parse_time(item["timestamp"]), item["seq"]


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_pages_neither_skip_nor_repeat_while_events_arrive(server, order):
    """Between page requests new events land before, at and after the cursor's position;
    every row that existed at the start appears exactly once, in order, and a new row
    appears exactly when it was stored beyond the cursor."""
    app = server.create_app(rateLimitPerMinute=100_000)
    # Four events per millisecond, so pages are cut inside runs of equal timestamps.
    original = [{"id": f"o{i:02d}", "eventName": "tick", "timestamp": T0 + (i // 4)}
                for i in range(60)]
    server.track(app.public, {"fingerprint": "fp", "events": original})
    seen: list[dict] = []
    expected_new: set[str] = set()
    unexpected_new: set[str] = set()
    cursor = None
    for page_no in range(100):
        params = {"limit": 7, "order": order, **({"cursor": cursor} if cursor else {})}
        body = get(server, app.secret, **params).json()
        seen.extend(body["data"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
        if page_no < 6:
            last_ts = _position(body["data"][-1])[0]
            newcomers = {"newest": now_ms() - 1000, "tie": last_ts, "oldest": T0 - 86_400_000}
            batch = []
            for label, ts in newcomers.items():
                eid = f"n{page_no}-{label}"
                batch.append({"id": eid, "eventName": "tick", "timestamp": ts})
                # A new row has a larger seq than any before it, so at the cursor's own
                # timestamp it sorts after the cursor in asc and before it in desc.
                beyond = ts >= last_ts if order == "asc" else ts < last_ts
                (expected_new if beyond else unexpected_new).add(eid)
            assert server.track(app.public, {"fingerprint": "fp2", "events": batch}).json()[
                "accepted"] == 3
    else:
        pytest.fail("pagination did not end")
    got = [a["id"] for a in seen]
    assert len(got) == len(set(got)), "a row was repeated"
    assert {e["id"] for e in original} <= set(got), "a row was skipped"
    assert expected_new <= set(got) and not (unexpected_new & set(got))
    positions = [_position(a) for a in seen]
    assert positions == sorted(positions, reverse=order == "desc")


def test_pagination_with_concurrent_ingest(live_server):
    """A real writer thread posts events while a reader pages through the feed."""
    app = live_server.create_app(rateLimitPerMinute=1_000_000)
    original = [{"id": f"c{i:03d}", "eventName": "tick", "timestamp": T0 + (i // 3)}
                for i in range(150)]
    for start in range(0, 150, 50):
        live_server.track(app.public, {"fingerprint": "fp", "events": original[start:start + 50]})
    stop = threading.Event()

    def ingest() -> None:
        import httpx

        with httpx.Client(base_url=live_server.base_url, timeout=30) as writer:
            n = 0
            while not stop.is_set() and n < 200:
                ts = T0 + (n % 50) if n % 2 else now_ms() - 500
                writer.post("/api/v1/track", headers={"Authorization": f"Bearer {app.public}"},
                            json={"fingerprint": "fpw", "events": [
                                {"id": f"w{n}-{uuid.uuid4().hex[:6]}", "eventName": "tick",
                                 "timestamp": ts}]})
                n += 1

    thread = threading.Thread(target=ingest)
    thread.start()
    try:
        got, cursor = [], None
        while True:
            params = {"limit": 9, **({"cursor": cursor} if cursor else {})}
            body = get(live_server, app.secret, **params).json()
            got.extend(body["data"])
            cursor = body["nextCursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        thread.join(timeout=30)
    found = [a["id"] for a in got]
    assert len(found) == len(set(found))
    assert {e["id"] for e in original} <= set(found)
    positions = [_position(a) for a in got]
    assert positions == sorted(positions, reverse=True)
