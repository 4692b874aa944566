"""GET /api/v1/analytics/heatmap: day-of-week x hour cells in a zone, worked out by hand.

Covers a +05:45 zone (Asia/Kathmandu), both DST changes of Europe/Berlin, unique users, and
the same answers once the 15-minute rollups are refreshed.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from growthkit.core.clock import parse_time
from growthkit.core.filters import ActivityFilter
from growthkit.core.heatmap import heatmap
from growthkit.core.rollups import refresh_rollups

SETTINGS = {"rateLimitPerMinute": 100_000, "retentionDays": 3650}
MON, TUE, SAT, SUN = 0, 1, 5, 6

EVENTS = [  # (ISO time, fingerprint, eventName)
    ("2024-05-06T18:14:59Z", "fp_1", "a"),  # Mon 23:59:59 +05:45
    ("2024-05-06T18:15:00Z", "fp_1", "a"),  # Tue 00:00 +05:45
    ("2024-05-05T20:00:00Z", "fp_2", "b"),  # Sun 20:00 UTC = Mon 01:45 +05:45
    ("2024-05-12T18:20:00Z", "fp_2", "a"),  # Sun 18:20 UTC = Mon 00:05 +05:45
    ("2024-03-31T00:30:00Z", "fp_1", "a"),  # Sun 01:30 CET
    ("2024-03-31T00:45:00Z", "fp_2", "a"),  # Sun 01:45 CET
    ("2024-03-31T01:30:00Z", "fp_1", "a"),  # Sun 03:30 CEST (02:00-03:00 skipped)
    ("2024-10-26T22:30:00Z", "fp_1", "a"),  # Sat 22:30 UTC = Sun 00:30 CEST
    ("2024-10-27T00:30:00Z", "fp_1", "a"),  # Sun 02:30 CEST
    ("2024-10-27T01:30:00Z", "fp_1", "b"),  # Sun 02:30 CET (the repeated hour)
]
WHOLE = {"from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}


def seed(server, key: str, events=EVENTS) -> None:
    for when, fp, name in events:
        r = server.track(key, {"fingerprint": fp, "events": [
            {"eventName": name, "timestamp": parse_time(when)}]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def matrix(cells: dict[tuple[int, int], int]) -> list[list[int]]:
    m = [[0] * 24 for _ in range(7)]
    for (d, h), n in cells.items():
        m[d][h] = n
    return m


def heat(server, key: str, **params) -> dict:
    r = server.client.get("/api/v1/analytics/heatmap", params=params,
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


KATHMANDU = matrix({(MON, 23): 1, (TUE, 0): 1, (MON, 1): 1, (MON, 0): 1})
# Berlin includes the May events too (Mon 20:14 and 20:15, Sun 22:00 and 20:20 CEST).
BERLIN = matrix({(SUN, 1): 2, (SUN, 3): 1, (SUN, 0): 1, (SUN, 2): 2,
                 (MON, 20): 2, (SUN, 22): 1, (SUN, 20): 1})
UTC = matrix({(MON, 18): 2, (SUN, 20): 1, (SUN, 18): 1, (SUN, 0): 3, (SUN, 1): 2,
              (SAT, 22): 1})


@pytest.mark.parametrize("refreshed", [False, True])
def test_event_heatmap_in_three_zones(server, refreshed):
    app = server.create_app(**SETTINGS)
    seed(server, app.public)
    if refreshed:
        refresh_rollups(server.engine, settle_ms=0)
    k = heat(server, app.secret, tz="Asia/Kathmandu", **{"from": "2024-05-01T00:00:00Z",
                                                          "to": "2024-06-01T00:00:00Z"})
    assert (k["timeZone"], k["metric"]) == ("Asia/Kathmandu", "events")
    assert k["matrix"] == KATHMANDU and k["total"] == 4
    assert (k["source"], k["complete"], k["rolledUpBefore"]) == ("events", True, None)
    b = heat(server, app.secret, tz="Europe/Berlin", **{"from": "2024-03-01T00:00:00Z",
                                                         "to": "2024-11-01T00:00:00Z"})
    assert b["matrix"] == BERLIN and b["timeZone"] == "Europe/Berlin"
    u = heat(server, app.secret, tz="UTC", **WHOLE)
    assert u["matrix"] == UTC and u["total"] == len(EVENTS)


@pytest.mark.parametrize("refreshed", [False, True])
def test_the_widest_range_allowed_answers_like_the_year_it_holds(server, refreshed):
    # 1970..9999 once walked Berlin's offsets day by day over 8,000 years (71 s on SQLite,
    # found by the schemathesis run); the answer must equal the one-year range's.
    app = server.create_app(**SETTINGS)
    seed(server, app.public)
    if refreshed:
        refresh_rollups(server.engine, settle_ms=0)
    b = heat(server, app.secret, tz="Europe/Berlin", **{"from": "1970-01-01T00:00:00Z",
                                                         "to": "9999-12-31T00:00:00Z"})
    assert b["matrix"] == BERLIN and b["total"] == len(EVENTS)
    u = heat(server, app.secret, tz="Europe/Berlin", metric="users",
             **{"from": "1970-01-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"})
    assert u["matrix"] == heat(server, app.secret, tz="Europe/Berlin", metric="users",
                               **WHOLE)["matrix"]


@pytest.mark.parametrize("refreshed", [False, True])
def test_unique_users_per_cell(server, refreshed):
    app = server.create_app(**SETTINGS)
    seed(server, app.public)
    if refreshed:  # whole-hour zones then count over the hourly presence rollup
        refresh_rollups(server.engine, settle_ms=0)
    b = heat(server, app.secret, tz="Europe/Berlin", metric="users", **WHOLE)
    assert b["metric"] == "users" and b["total"] is None
    # Sun 01h: fp_1 and fp_2; Sun 02h: fp_1 twice (either side of the change) counts once;
    # Mon 20h: fp_1 twice.
    assert b["matrix"] == matrix({(SUN, 1): 2, (SUN, 3): 1, (SUN, 0): 1, (SUN, 2): 1,
                                  (MON, 20): 1, (SUN, 22): 1, (SUN, 20): 1})
    k = heat(server, app.secret, tz="Asia/Kathmandu", metric="users", **WHOLE)
    # +05:45: Sun 06h holds fp_1 (00:30Z in March and in October) and fp_2.
    assert k["matrix"] == matrix({(MON, 23): 1, (TUE, 0): 1, (MON, 1): 1, (MON, 0): 1,
                                  (SUN, 6): 2, (SUN, 7): 1, (SUN, 4): 1})


def test_filters_and_app_time_zone_default(server):
    app = server.create_app(**SETTINGS, timeZone="Asia/Kathmandu")
    other = server.create_app("Other", **SETTINGS)
    seed(server, app.public)
    seed(server, other.public, EVENTS[:2])
    refresh_rollups(server.engine, settle_ms=0)
    k = heat(server, app.secret, eventName="b", **WHOLE)
    assert k["timeZone"] == "Asia/Kathmandu"
    # b: Sun 20:00 UTC (Mon 01:45 local) and 2024-10-27T01:30Z (Sun 07:15 local).
    assert k["matrix"] == matrix({(MON, 1): 1, (SUN, 7): 1})
    lead = heat(server, app.secret, fingerprint="fp_2", **WHOLE)
    assert lead["matrix"] == matrix({(MON, 1): 1, (MON, 0): 1, (SUN, 6): 1})
    # A range ending mid-bucket: only 2024-05-06T18:14:59Z is before 18:15.
    cut = heat(server, app.secret, tz="UTC", **{"from": "2024-05-06T18:00:00Z",
                                                "to": "2024-05-06T18:15:00Z"})
    assert cut["matrix"] == matrix({(MON, 18): 1})
    assert heat(server, other.secret, tz="UTC", **WHOLE)["total"] == 2


def test_default_range_is_the_last_28_days(server):
    app = server.create_app(rateLimitPerMinute=1000)
    server.track(app.public, {"fingerprint": "fp", "events": [{"eventName": "x"}] * 2})
    h = heat(server, app.secret, metric="users")
    assert parse_time(h["to"]) - parse_time(h["from"]) == 28 * 86_400_000
    assert sum(map(sum, h["matrix"])) == 1
    assert heat(server, app.secret)["total"] == 2


def test_core_heatmap_of_a_lead_over_all_history(server):
    """The contract lead details use: flt.fingerprint set, start/end None."""
    app = server.create_app(**SETTINGS)
    seed(server, app.public)
    with server.engine.connect() as conn:
        got = heatmap(conn, ActivityFilter(app.id, fingerprint="fp_1"), ZoneInfo("Europe/Berlin"))
        none = heatmap(conn, ActivityFilter(app.id, fingerprint="fp_x"), ZoneInfo("UTC"))
    # fp_1: 18:14:59Z and 18:15Z on Mon (20:14, 20:15 CEST), and five Berlin DST events.
    assert got == matrix({(MON, 20): 2, (SUN, 1): 1, (SUN, 3): 1, (SUN, 0): 1, (SUN, 2): 2})
    assert none == matrix({})


@pytest.mark.parametrize(("params", "field"), [
    ({"metric": "sessions"}, "metric"), ({"tz": "+05:45"}, "tz"), ({"to": "soon"}, "to")])
def test_bad_parameters(server, params, field):
    app = server.create_app()
    r = server.client.get("/api/v1/analytics/heatmap", params=params,
                          headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 422 and field in r.json()["error"]
