"""POST /api/v1/analytics/funnel through HTTP: ordering, windows, entries, filters, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from harness import Server, make_settings

from growthkit.core.clock import now_ms, parse_time, to_iso
from growthkit.server.app import create_app

S = 1000
H = 3600 * S
DAY = 24 * H
URL = "/api/v1/analytics/funnel"


@pytest.fixture
def base() -> int:
    """A whole-minute moment ten days ago: every event sits around it."""
    return (now_ms() - 10 * DAY) // 60_000 * 60_000


def send(server, app, fingerprint: str, *events: tuple) -> None:
    """events: (eventName, timestamp_ms) or (eventName, timestamp_ms, properties)."""
    body = {"fingerprint": fingerprint,
            "events": [{"eventName": e[0], "timestamp": e[1],
                        **({"properties": e[2]} if len(e) > 2 else {})} for e in events]}
    r = server.track(app.public, body)
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def funnel(server, app, steps, window, base, status=200, **extra):
    body = {"steps": [{"eventName": s} if isinstance(s, str) else s for s in steps],
            "windowSeconds": window, "from": to_iso(base - DAY), "to": to_iso(base + DAY),
            **extra}
    r = server.client.post(URL, json=body, headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == status, r.text
    return r.json()


def users(result) -> list[int]:
    return [s["users"] for s in result["steps"]]


@pytest.fixture
def app(server):
    return server.create_app(rateLimitPerMinute=100_000)


def test_conversion_rates_drop_off_and_medians(server, app, base):
    send(server, app, "u1", ("signup", base), ("activate", base + 60 * S),
         ("purchase", base + 180 * S))
    send(server, app, "u2", ("signup", base), ("activate", base + 120 * S))
    send(server, app, "u3", ("signup", base), ("activate", base + 300 * S),
         ("purchase", base + 400 * S))
    send(server, app, "u4", ("signup", base))
    send(server, app, "u5", ("activate", base), ("purchase", base + 10 * S))  # never entered
    r = funnel(server, app, ["signup", "activate", "purchase"], 3600, base)
    assert r["windowSeconds"] == 3600
    assert r["from"] == to_iso(base - DAY) and r["to"] == to_iso(base + DAY)
    assert r["steps"] == [
        {"eventName": "signup", "users": 4, "conversionFromStart": 1.0,
         "conversionFromPrevious": 1.0, "dropOff": 0, "medianSecondsToConvert": None},
        # gaps from signup: 60, 120, 300 s -> median 120
        {"eventName": "activate", "users": 3, "conversionFromStart": 0.75,
         "conversionFromPrevious": 0.75, "dropOff": 1, "medianSecondsToConvert": 120.0},
        # gaps from activate: 120, 100 s -> median 110
        {"eventName": "purchase", "users": 2, "conversionFromStart": 0.5,
         "conversionFromPrevious": 0.6667, "dropOff": 1, "medianSecondsToConvert": 110.0},
    ]


def test_out_of_order_steps_do_not_count(server, app, base):
    send(server, app, "b_first", ("activate", base), ("signup", base + 10 * S),
         ("purchase", base + 20 * S))
    send(server, app, "c_before_b", ("signup", base), ("purchase", base + 10 * S),
         ("activate", base + 20 * S))
    r = funnel(server, app, ["signup", "activate", "purchase"], 3600, base)
    assert users(r) == [2, 1, 0]
    assert r["steps"][1]["medianSecondsToConvert"] == 20.0
    assert r["steps"][2]["medianSecondsToConvert"] is None


def test_window_boundary_is_inclusive(server, app, base):
    send(server, app, "exact", ("signup", base), ("activate", base + 50 * S),
         ("purchase", base + 100 * S))
    send(server, app, "one_ms_late", ("signup", base), ("activate", base + 50 * S),
         ("purchase", base + 100 * S + 1))
    r = funnel(server, app, ["signup", "activate", "purchase"], 100, base)
    assert users(r) == [2, 2, 1]
    assert r["steps"][2]["medianSecondsToConvert"] == 50.0


def test_repeated_steps_count_once_on_the_earliest_path(server, app, base):
    send(server, app, "u", ("signup", base), ("signup", base + 10 * S),
         ("activate", base + 20 * S), ("activate", base + 30 * S),
         ("purchase", base + 40 * S), ("purchase", base + 50 * S))
    r = funnel(server, app, ["signup", "activate", "purchase"], 3600, base)
    assert users(r) == [1, 1, 1]
    assert [s["medianSecondsToConvert"] for s in r["steps"]] == [None, 20.0, 20.0]


def test_second_entry_that_gets_further_wins(server, app, base):
    # First signup's window (1 h) ends before activate; the second signup converts in 600 s.
    send(server, app, "late", ("signup", base), ("signup", base + 2 * H),
         ("activate", base + 2 * H + 600 * S))
    # Both entries convert: the earliest one counts (gap 100 s, not 50 s).
    send(server, app, "twice", ("signup", base), ("activate", base + 100 * S),
         ("signup", base + 200 * S), ("activate", base + 250 * S))
    r = funnel(server, app, ["signup", "activate"], 3600, base)
    assert users(r) == [2, 2]
    assert r["steps"][1]["medianSecondsToConvert"] == 350.0  # median of 600 and 100


def test_equal_depth_entries_keep_the_earliest(server, app, base):
    # Both signups reach activate; purchase is beyond either window: the first entry counts.
    send(server, app, "u", ("signup", base), ("activate", base + 100 * S),
         ("signup", base + 200 * S), ("activate", base + 250 * S), ("purchase", base + 2 * H))
    r = funnel(server, app, ["signup", "activate", "purchase"], 3600, base)
    assert users(r) == [1, 1, 0]
    assert r["steps"][1]["medianSecondsToConvert"] == 100.0


def test_same_event_in_two_steps_needs_two_events(server, app, base):
    send(server, app, "twice", ("page_viewed", base), ("page_viewed", base + 30 * S))
    send(server, app, "once", ("page_viewed", base))
    r = funnel(server, app, ["page_viewed", "page_viewed"], 60, base)
    assert users(r) == [2, 1]
    assert r["steps"][1]["medianSecondsToConvert"] == 30.0


def test_step_and_top_level_where_conditions(server, app, base):
    send(server, app, "pro", ("signup", base, {"source": "ads"}),
         ("purchase", base + 10 * S, {"plan": "pro", "source": "ads"}))
    send(server, app, "free", ("signup", base, {"source": "ads"}),
         ("purchase", base + 10 * S, {"plan": "free", "source": "ads"}))
    send(server, app, "pro_organic", ("signup", base, {"source": "organic"}),
         ("purchase", base + 20 * S, {"plan": "pro", "source": "organic"}))
    pro = {"eventName": "purchase", "where": [{"key": "plan", "op": "eq", "value": "pro"}]}
    assert users(funnel(server, app, ["signup", pro], 3600, base)) == [3, 2]
    ads = [{"key": "source", "op": "eq", "value": "ads"}]
    r = funnel(server, app, ["signup", pro], 3600, base, where=ads)
    assert users(r) == [2, 1]
    assert r["steps"][1]["medianSecondsToConvert"] == 10.0
    # A condition that matches nothing of step 1: nobody enters, rates are 0.
    r = funnel(server, app, [{"eventName": "signup", "where": [{"key": "source",
                                                               "op": "eq", "value": "tv"}]},
                             "purchase"], 3600, base)
    assert r["steps"][1] == {"eventName": "purchase", "users": 0, "conversionFromStart": 0.0,
                             "conversionFromPrevious": 0.0, "dropOff": 0,
                             "medianSecondsToConvert": None}


def test_range_limits_entries_not_later_steps(server, app, base):
    send(server, app, "before", ("signup", base - 2 * DAY), ("activate", base - 2 * DAY + S))
    # Enters just before `to`; converts after `to` but inside the window: counted.
    send(server, app, "edge", ("signup", base + DAY - S), ("activate", base + DAY + 30 * S))
    send(server, app, "inside", ("signup", base), ("activate", base + 5 * S))
    r = funnel(server, app, ["signup", "activate"], 3600, base)
    assert users(r) == [2, 2]
    assert r["steps"][1]["medianSecondsToConvert"] == 18.0  # median of 31 and 5


def test_default_range_is_the_last_30_days_and_apps_are_isolated(server, app):
    now = now_ms()
    send(server, app, "recent", ("signup", now - 5 * DAY), ("activate", now - 5 * DAY + S))
    send(server, app, "old", ("signup", now - 40 * DAY), ("activate", now - 40 * DAY + S))
    other = server.create_app("Other", rateLimitPerMinute=100_000)
    send(server, other, "theirs", ("signup", now - DAY), ("activate", now - DAY + S))
    body = {"steps": [{"eventName": "signup"}, {"eventName": "activate"}],
            "windowSeconds": 60}
    r = server.client.post(URL, json=body, headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 200, r.text
    assert users(r.json()) == [1, 1]
    start, end = parse_time(r.json()["from"]), parse_time(r.json()["to"])
    assert end - start == 30 * DAY and 0 <= end - now < 60_000


def test_answers_are_cached_briefly_per_app_and_body(database_url, redis_url, base):
    asgi = create_app(make_settings(database_url, redis_url, query_cache_seconds=60))
    with TestClient(asgi) as client:
        server = Server(client=client, engine=asgi.state.growthkit.engine)
        one, two = (server.create_app(n, rateLimitPerMinute=1000) for n in ("One", "Two"))
        send(server, one, "a", ("signup", base), ("purchase", base + H))
        send(server, two, "z", ("signup", base), ("purchase", base + H))

        def post(app, steps, window=DAY // S):
            body = {"steps": [{"eventName": s} for s in steps], "windowSeconds": window,
                    "from": to_iso(base - DAY), "to": to_iso(base + DAY)}
            return client.post(URL, json=body, headers={"Authorization": f"Bearer {app.secret}"})

        first = post(one, ["signup", "purchase"])
        send(server, one, "b", ("signup", base), ("purchase", base + H))
        again = post(one, ["signup", "purchase"])
        assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
        assert users(again.json()) == users(first.json()) == [1, 1]
        # Another body (here the window) or another app is another answer.
        wider = post(one, ["signup", "purchase"], window=2 * DAY // S)
        assert wider.headers["x-cache"] == "miss" and users(wider.json()) == [2, 2]
        other = post(two, ["signup", "purchase"])
        assert other.headers["x-cache"] == "miss" and users(other.json()) == [1, 1]
        assert post(one, ["signup", "activate"]).headers["x-cache"] == "miss"


def test_keys_are_required(server, app):
    body = {"steps": [{"eventName": "a"}, {"eventName": "b"}], "windowSeconds": 60}
    r = server.client.post(URL, json=body)
    assert r.status_code == 401 and "secret key" in r.json()["error"]
    r = server.client.post(URL, json=body, headers={"Authorization": f"Bearer {app.public}"})
    assert r.status_code == 403


@pytest.mark.parametrize("body, field", [
    ({"steps": [{"eventName": "a"}], "windowSeconds": 60}, "steps"),
    ({"steps": [{"eventName": f"e{i}"} for i in range(11)], "windowSeconds": 60}, "steps"),
    ({"steps": [{"eventName": "a"}, {"eventName": "b"}], "windowSeconds": -5},
     "windowSeconds"),
    ({"steps": [{"eventName": "a"}, {"eventName": "b"}], "windowSeconds": 0}, "windowSeconds"),
    ({"steps": [{"eventName": "a"}, {"eventName": "b"}]}, "windowSeconds"),
    ({"steps": [{"eventName": "a"}, {"eventName": ""}], "windowSeconds": 60},
     "steps.1.eventName"),
    ({"steps": [{"eventName": "a"}, {"eventName": "b", "where": [{"key": "x", "op": "gt",
                                                                  "value": 1}]}],
      "windowSeconds": 60}, "steps[1].where[0]"),
    ({"steps": [{"eventName": "a"}, {"eventName": "b"}], "windowSeconds": 60,
      "where": [{"key": "x", "op": "eq"}]}, "where[0]"),
    ({"steps": [{"eventName": "a"}, {"eventName": "b"}], "windowSeconds": 60,
      "from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}, "from"),
    ({"steps": [{"eventName": "a"}, {"eventName": "b"}], "windowSeconds": 60,
      "to": "yesterday"}, "to"),
])
def test_validation_errors_name_the_field(server, app, body, field):
    r = server.client.post(URL, json=body, headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 422, r.text
    assert r.json()["status"] == 422
    assert r.json()["error"].startswith(field), r.json()["error"]
