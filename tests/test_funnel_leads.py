"""Funnel drill-down through HTTP: a step's converted and dropped leads (exactly those the
funnel counts), paging, lead fields, the time-to-convert histogram, errors."""

from __future__ import annotations

import pytest

from growthkit.core.clock import now_ms, to_iso

S = 1000
DAY = 86_400 * S
STEPS = [{"eventName": "signup"}, {"eventName": "activate"}, {"eventName": "purchase"}]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def shop(server):
    """u1, u3 buy; u2 activates only; u4 signs up only; u5 activates too late (outside the
    1 h window); u6 never signs up."""
    app = server.create_app(rateLimitPerMinute=100_000)
    base = (now_ms() - 10 * DAY) // 60_000 * 60_000
    story = {
        "u1": [("signup", 0), ("activate", 60), ("purchase", 180)],
        "u2": [("signup", 0), ("activate", 120)],
        "u3": [("signup", 0), ("activate", 300), ("purchase", 400)],
        "u4": [("signup", 0)],
        "u5": [("signup", 0), ("activate", 7200)],
        "u6": [("activate", 0), ("purchase", 10)],
    }
    for fp, events in story.items():
        r = server.track(app.public, {"fingerprint": fp, "events": [
            {"eventName": n, "timestamp": base + s * S} for n, s in events]})
        assert r.json()["accepted"] == len(events), r.text
    body = {"steps": STEPS, "windowSeconds": 3600, "from": to_iso(base - DAY),
            "to": to_iso(base + DAY)}
    return app, base, body


def post(server, app, path, body, status=200, **params):
    r = server.client.post(f"/api/v1/analytics/funnel{path}", json=body, params=params,
                           headers=auth(app.secret))
    assert r.status_code == status, r.text
    return r.json()


def fps(answer) -> list[str]:
    return [x["fingerprint"] for x in answer["data"]]


def test_converted_and_dropped_match_the_funnel(server, shop):
    app, base, body = shop
    funnel = post(server, app, "", body)
    assert [s["users"] for s in funnel["steps"]] == [5, 3, 2]
    assert [s["dropOff"] for s in funnel["steps"]] == [0, 2, 1]
    dropped2 = post(server, app, "/leads", {**body, "step": 2, "outcome": "dropped"})
    assert dropped2["count"] == 2 and fps(dropped2) == ["u4", "u5"]
    assert dropped2["eventName"] == "activate" and dropped2["outcome"] == "dropped"
    assert all(x["lastStep"] == 1 and x["secondsToConvert"] is None for x in dropped2["data"])
    dropped3 = post(server, app, "/leads", {**body, "step": 3, "outcome": "dropped"})
    assert fps(dropped3) == ["u2"] and dropped3["data"][0]["lastStepAt"] == to_iso(base + 120 * S)
    converted3 = post(server, app, "/leads", {**body, "step": 3, "outcome": "converted"})
    assert fps(converted3) == ["u1", "u3"]
    assert [x["secondsToConvert"] for x in converted3["data"]] == [120.0, 100.0]
    entered = post(server, app, "/leads", {**body, "step": 1})
    assert entered["count"] == 5 and fps(entered) == ["u1", "u2", "u3", "u4", "u5"]
    u1 = entered["data"][0]
    assert u1["events"] == 3 and u1["enteredAt"] == to_iso(base) and u1["lastStep"] == 3


def test_lead_pages_walk_every_lead_once(server, shop):
    app, _, body = shop
    seen, cursor = [], None
    while True:
        page = post(server, app, "/leads", {**body, "step": 1}, limit=2,
                    **({"cursor": cursor} if cursor else {}))
        assert page["count"] == 5
        seen += fps(page)
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["u1", "u2", "u3", "u4", "u5"]


def test_time_to_convert_histogram(server, shop):
    app, _, body = shop
    ttc = post(server, app, "/time-to-convert", {**body, "step": 2, "bins": 3})
    # gaps 60, 120, 300 s: bins of 100 s
    assert ttc["users"] == 3 and ttc["medianSeconds"] == 120.0
    assert ttc["bins"] == [{"fromSeconds": 0.0, "toSeconds": 100.0, "users": 1},
                           {"fromSeconds": 100.0, "toSeconds": 200.0, "users": 1},
                           {"fromSeconds": 200.0, "toSeconds": 300.0, "users": 1}]
    funnel = post(server, app, "", body)
    assert ttc["medianSeconds"] == funnel["steps"][1]["medianSecondsToConvert"]


@pytest.mark.parametrize("path,extra,status,field", [
    ("/leads", {"step": 1, "outcome": "dropped"}, 422, "step 1 has no dropped"),
    ("/leads", {"step": 4}, 422, "step"),
    ("/leads", {"step": 2, "outcome": "left"}, 422, "outcome"),
    ("/leads", {}, 422, "step"),
    ("/time-to-convert", {"step": 1}, 422, "step"),
    ("/time-to-convert", {"step": 4}, 422, "step"),
    ("/time-to-convert", {"step": 2, "bins": 0}, 422, "bins"),
])
def test_bad_drill_downs(server, shop, path, extra, status, field):
    app, _, body = shop
    err = post(server, app, path, {**body, **extra}, status=status)
    assert field in err["error"] and err["status"] == status


def test_bad_cursor_and_public_key(server, shop):
    app, _, body = shop
    err = post(server, app, "/leads", {**body, "step": 2}, status=400, cursor="zzz")
    assert "cursor" in err["error"]
    r = server.client.post("/api/v1/analytics/funnel/leads", json={**body, "step": 2},
                           headers=auth(app.public))
    assert r.status_code == 403
