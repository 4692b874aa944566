"""The core query layer as readers use it: each endpoint's JSON is its core result's
`to_json()`, reads back with `from_json()`, and core run directly on the store (as
LocalSource does) gives the same answer as HTTP, with default ranges ending at `now`."""

from __future__ import annotations

import pytest

from growthkit.core import credits, feed, frequency, heatmap, lead_profile, leads, segments
from growthkit.core import stats as core_stats
from growthkit.core import timeline as core_timeline
from growthkit.core.activities import ActivityPage
from growthkit.core.apps import get_app
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.errors import CursorError, NotFound, QueryError
from growthkit.core.funnel import FunnelResult
from growthkit.core.params import activity_filter

HOUR = 3_600_000
DAY = 24 * HOUR


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def seeded(server):
    app = server.create_app(rateLimitPerMinute=10_000, initialCredits=5)
    now = now_ms()
    events = [{"eventName": name, "timestamp": now - i * HOUR, "properties": {"plan": "pro"}}
              for i, name in enumerate(["signup", "page_viewed", "purchase", "signup"] * 3)]
    r = server.track(app.public, {"fingerprint": "fp_1", "events": events})
    assert r.status_code == 200 and r.json()["accepted"] == len(events)
    r = server.client.post("/api/v1/credits", headers=auth(app.secret), json={
        "fingerprint": "fp_1", "amount": 3, "action": "purchase"})
    assert r.status_code == 200, r.text
    return app


# (GET path or POST path with body, result type)
ENDPOINTS = [
    ("/stats", None, core_stats.Stats),
    ("/activities", None, ActivityPage),
    ("/analytics/events", None, frequency.EventFrequency),
    ("/analytics/heatmap", None, heatmap.Heatmap),
    ("/analytics/funnel", {"steps": [{"eventName": "signup"}, {"eventName": "purchase"}],
                           "windowSeconds": 86_400}, FunnelResult),
    ("/analytics/segments", None, segments.Segments),
    ("/analytics/segments/active/members", None, segments.MemberPage),
    ("/analytics/segments/query", {"did": [{"eventName": "signup"}]}, segments.RulePage),
    ("/leads", None, leads.LeadPage),
    ("/leads/fp_1", None, lead_profile.LeadDetails),
    ("/leads/fp_1/activities", None, ActivityPage),
    ("/leads/fp_1/timeline", None, core_timeline.TimelinePage),
    ("/leads/fp_1/credits", None, credits.CreditHistory),
]


@pytest.mark.parametrize(("path", "body", "result"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_every_answer_reads_back_into_its_result_type(server, seeded, path, body, result):
    url = f"/api/v1{path}"
    r = (server.client.post(url, json=body, headers=auth(seeded.secret)) if body is not None
         else server.client.get(url, headers=auth(seeded.secret)))
    assert r.status_code == 200, r.text
    parsed = result.from_json(r.json())
    assert isinstance(parsed, result)
    assert parsed.to_json() == r.json()


def test_core_on_the_store_answers_as_http_does_and_defaults_end_at_now(server, seeded):
    """What LocalSource does on a snapshot: core functions on a connection, `now` pinned."""
    r = server.client.get("/api/v1/stats", headers=auth(seeded.secret),
                          params={"tz": "Europe/Berlin"})
    http = r.json()
    with server.engine.connect() as conn:
        app = get_app(conn, seeded.id)
        pinned_end = now_ms()
        local = core_stats.quick_stats(conn, app, core_stats.StatsQuery(
            tz="Europe/Berlin", now=pinned_end))
        details = lead_profile.lead_details(conn, app, lead_profile.LeadQuery("fp_1"))
        page = feed.list_activities(conn, app, feed.ActivitiesQuery(
            activity_filter(event_names="signup"), limit=2))
        month_ago = core_stats.quick_stats(conn, app, core_stats.StatsQuery(
            now=pinned_end - 30 * DAY))
    assert local.to == to_iso(pinned_end) and local.from_ == to_iso(pinned_end - DAY)
    assert local.events == http["events"] == 12 and local.time_zone == "Europe/Berlin"
    assert [t.to_json() for t in local.top_events] == http["topEvents"]
    assert details.credit_balance == 8 and details.events == 12
    assert len(page.data) == 2 and page.next_cursor and all(
        a.event_name == "signup" for a in page.data)
    # A default range ending a month before now holds none of these events.
    assert month_ago.events == 0 and month_ago.to == to_iso(pinned_end - 30 * DAY)


def test_core_errors_name_the_field_without_http(server, seeded):
    with server.engine.connect() as conn:
        app = get_app(conn, seeded.id)
        with pytest.raises(NotFound) as missing:
            lead_profile.lead_details(conn, app, lead_profile.LeadQuery("nobody"))
        with pytest.raises(CursorError) as cursor:
            feed.list_activities(conn, app, feed.ActivitiesQuery(cursor="garbage"))
        with pytest.raises(QueryError) as top:
            core_stats.quick_stats(conn, app, core_stats.StatsQuery(top=0))
        with pytest.raises(QueryError) as range_:
            core_stats.quick_stats(conn, app, core_stats.StatsQuery(
                activity_filter(start=now_ms())))
    assert "nobody" in missing.value.message and missing.value.field == "fingerprint"
    assert cursor.value.field == "cursor"
    assert top.value.field == "top" and "top" in top.value.message
    assert range_.value.field == "from"
