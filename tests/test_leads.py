"""Leads through HTTP: search, sort, paging, details numbers, history, profile edits, auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from growthkit.core.clock import now_ms, parse_time, to_iso

HOUR = 3_600_000
DAY = 24 * HOUR


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def monday_ms() -> int:
    """00:00 UTC of a Monday 1-2 weeks ago (inside the 90-day retention)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() + 7)
    return int(monday.timestamp() * 1000)


def seed(server, key: str, fingerprint: str, *timestamps: int, name: str = "page_viewed",
         session: str | None = None) -> None:
    events = [{"eventName": name, "timestamp": ts} for ts in timestamps]
    body = {"fingerprint": fingerprint, "events": events}
    if session:
        body["sessionId"] = session
    r = server.track(key, body)
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def get(server, key: str, path: str, **params):
    return server.client.get(f"/api/v1{path}", params=params, headers=auth(key))


@pytest.fixture
def three_leads(server):
    """fp_alpha: 3 events (first 10 days ago, last 1 day ago); fp_beta: 5 events (first 5
    days ago, last 2 days ago); zed_1: 1 event 3 hours ago (first and last)."""
    app = server.create_app(rateLimitPerMinute=10_000)
    now = now_ms()
    seed(server, app.public, "fp_alpha", now - 10 * DAY, now - 4 * DAY, now - DAY)
    seed(server, app.public, "fp_beta", *[now - 5 * DAY + i * HOUR for i in range(4)],
         now - 2 * DAY)
    seed(server, app.public, "zed_1", now - 3 * HOUR)
    return app


def fps(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [lead["fingerprint"] for lead in response.json()["data"]]


def test_sorts_and_lead_shape(server, three_leads):
    key = three_leads.secret
    assert fps(get(server, key, "/leads")) == ["zed_1", "fp_alpha", "fp_beta"]  # lastSeen desc
    assert fps(get(server, key, "/leads", sort="lastSeen", order="asc")) == \
        ["fp_beta", "fp_alpha", "zed_1"]
    assert fps(get(server, key, "/leads", sort="events")) == ["fp_beta", "fp_alpha", "zed_1"]
    assert fps(get(server, key, "/leads", sort="events", order="asc")) == \
        ["zed_1", "fp_alpha", "fp_beta"]
    assert fps(get(server, key, "/leads", sort="firstSeen")) == ["zed_1", "fp_beta", "fp_alpha"]
    page = get(server, key, "/leads", sort="events").json()
    assert page["nextCursor"] is None
    beta = page["data"][0]
    assert set(beta) == {"fingerprint", "email", "name", "traits", "firstSeen", "lastSeen",
                         "events"}
    assert beta["events"] == 5 and beta["email"] is None and beta["traits"] == {}
    first = server.scalar("SELECT first_seen FROM leads WHERE fingerprint = 'fp_beta'")
    assert beta["firstSeen"] == to_iso(first) and beta["firstSeen"].endswith("Z")


def test_search_by_fingerprint_prefix(server, three_leads):
    key = three_leads.secret
    assert sorted(fps(get(server, key, "/leads", q="fp_"))) == ["fp_alpha", "fp_beta"]
    assert fps(get(server, key, "/leads", q="FP_B")) == ["fp_beta"]
    assert fps(get(server, key, "/leads", q="alpha")) == []  # a prefix, not a substring
    assert fps(get(server, key, "/leads", q="%")) == []  # LIKE wildcards are literal


@pytest.mark.parametrize("sort", ["lastSeen", "events", "firstSeen"])
def test_paging_walks_every_lead_once(server, sort):
    app = server.create_app(rateLimitPerMinute=10_000)
    now = now_ms()
    # Ties on purpose: leads 0-3 share event counts and lead 4/5 share last-seen times.
    for i in range(7):
        seed(server, app.public, f"fp_{i}", *[now - DAY - (i // 2) * HOUR - j for j in
                                              range(1 + i // 4)])
    expected = fps(get(server, app.secret, "/leads", sort=sort, limit=100))
    assert len(expected) == 7
    walked, cursor, pages = [], None, 0
    while True:
        params = {"sort": sort, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = get(server, app.secret, "/leads", **params).json()
        walked += [lead["fingerprint"] for lead in page["data"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert walked == expected and pages == 3
    # A cursor belongs to its sort: reusing it with another sort is refused.
    first = get(server, app.secret, "/leads", sort=sort, limit=3).json()["nextCursor"]
    other = "events" if sort != "events" else "lastSeen"
    r = get(server, app.secret, "/leads", sort=other, cursor=first)
    assert r.status_code == 400 and "cursor" in r.json()["error"]


def test_lead_details_numbers(server):
    app = server.create_app(rateLimitPerMinute=10_000, initialCredits=7)
    mon = monday_ms()
    # Mon 09:10 x2 and 14:00 (session s1); Wed 09:30 signup (s2); Sun 23:30 (s2).
    seed(server, app.public, "fp_1", mon + 9 * HOUR + 600_000, mon + 9 * HOUR + 1_200_000,
         mon + 14 * HOUR, session="s1")
    seed(server, app.public, "fp_1", mon + 2 * DAY + 9 * HOUR + 1_800_000, name="signup",
         session="s2")
    seed(server, app.public, "fp_1", mon + 6 * DAY + 23 * HOUR + 1_800_000, session="s2")
    seed(server, app.public, "fp_other", mon + 9 * HOUR)  # another lead: never counted

    r = get(server, app.secret, "/leads/fp_1")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["fingerprint"] == "fp_1" and d["events"] == 5 and d["sessions"] == 2
    assert d["firstSeen"] == to_iso(mon + 9 * HOUR + 600_000)
    assert d["lastSeen"] == to_iso(mon + 6 * DAY + 23 * HOUR + 1_800_000)
    assert d["topEvents"] == [{"eventName": "page_viewed", "count": 4},
                              {"eventName": "signup", "count": 1}]
    assert d["creditBalance"] == 7  # nothing spent yet: the starting grant
    f = d["frequency"]
    assert f["timeZone"] == "UTC"
    hours = [0] * 24
    hours[9], hours[14], hours[23] = 3, 1, 1
    assert f["byHourOfDay"] == hours
    assert f["byDayOfWeek"] == [3, 0, 1, 0, 0, 0, 1]

    # Kathmandu is UTC+05:45: Mon 09:10 -> 14:55, 09:20 -> 15:05, 14:00 -> 19:45,
    # Wed 09:30 -> 15:15, Sun 23:30 -> Mon 05:15.
    f = get(server, app.secret, "/leads/fp_1", tz="Asia/Kathmandu").json()["frequency"]
    hours = [0] * 24
    hours[14], hours[15], hours[19], hours[5] = 1, 2, 1, 1
    assert f["timeZone"] == "Asia/Kathmandu" and f["byHourOfDay"] == hours
    assert f["byDayOfWeek"] == [4, 0, 1, 0, 0, 0, 0]

    # The app's time zone is the default.
    server.client.patch("/api/v1/app", json={"timeZone": "Asia/Kathmandu"},
                        headers=auth(app.secret))
    assert get(server, app.secret, "/leads/fp_1").json()["frequency"]["byDayOfWeek"] == \
        [4, 0, 1, 0, 0, 0, 0]
    r = get(server, app.secret, "/leads/fp_1", tz="Mars/Olympus")
    assert r.status_code == 422 and "tz" in r.json()["error"]


def test_patch_then_search_by_email_and_name(server, three_leads):
    key = three_leads.secret
    r = server.client.patch("/api/v1/leads/fp_beta", headers=auth(key), json={
        "email": " Ada@Example.com ", "name": "Ada Lovelace",
        "traits": {"plan": "pro", "seats": 3}})
    assert r.status_code == 200, r.text
    lead = r.json()
    assert lead["email"] == "Ada@Example.com" and lead["name"] == "Ada Lovelace"
    assert lead["traits"] == {"plan": "pro", "seats": 3} and lead["events"] == 5
    assert fps(get(server, key, "/leads", q="ada@example")) == ["fp_beta"]
    assert fps(get(server, key, "/leads", q="lovelace")) == ["fp_beta"]
    assert fps(get(server, key, "/leads", q="example.com")) == ["fp_beta"]
    assert get(server, key, "/leads", q="ada").json()["data"][0]["name"] == "Ada Lovelace"

    # Traits merge key by key; null removes a key; name stays when not sent.
    r = server.client.patch("/api/v1/leads/fp_beta", headers=auth(key),
                            json={"traits": {"seats": None, "team": "core"}})
    assert r.json()["traits"] == {"plan": "pro", "team": "core"}
    assert r.json()["name"] == "Ada Lovelace"
    r = server.client.patch("/api/v1/leads/fp_beta", headers=auth(key),
                            json={"traits": None, "email": None})
    assert r.json()["traits"] == {} and r.json()["email"] is None
    assert fps(get(server, key, "/leads", q="example.com")) == []
    row = server.rows("SELECT email, name FROM leads WHERE fingerprint = 'fp_beta'")[0]
    assert row.email is None and row.name == "Ada Lovelace"


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email"}, "email"),
    ({"email": 5}, "email"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"traits": [1, 2]}, "traits"),
    ({"phone": "123"}, "phone"),
])
def test_patch_rejects_bad_fields(server, three_leads, body, field):
    r = server.client.patch("/api/v1/leads/fp_alpha", headers=auth(three_leads.secret),
                            json=body)
    assert r.status_code == 422 and field in r.json()["error"], r.text
    assert server.scalar("SELECT email FROM leads WHERE fingerprint = 'fp_alpha'") is None


def test_activities_history_paged(server):
    app = server.create_app(rateLimitPerMinute=10_000)
    t0 = now_ms() - DAY
    seed(server, app.public, "fp_1", *[t0 + i * 60_000 for i in range(5)])
    seed(server, app.public, "fp_1", t0 + 2 * 60_000, name="signup")  # same ms as #2
    seed(server, app.public, "fp_2", t0)

    def walk(**params):
        out, cursor = [], None
        while True:
            q = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
            r = get(server, app.secret, "/leads/fp_1/activities", **q)
            assert r.status_code == 200, r.text
            out += r.json()["data"]
            cursor = r.json()["nextCursor"]
            if not cursor:
                return out

    newest_first = walk()
    assert len(newest_first) == 6 and {a["fingerprintId"] for a in newest_first} == {"fp_1"}
    times = [parse_time(a["timestamp"]) for a in newest_first]
    assert times == sorted(times, reverse=True)
    assert len({a["id"] for a in newest_first}) == 6
    oldest_first = walk(order="asc")
    assert [a["id"] for a in oldest_first] == [a["id"] for a in reversed(newest_first)]
    assert {"eventName", "properties", "context", "sessionId", "receivedAt"} <= \
        set(oldest_first[0])
    signups = walk(eventName="signup")
    assert [a["eventName"] for a in signups] == ["signup"]
    ranged = walk(order="asc", **{"from": to_iso(t0 + 60_000), "to": to_iso(t0 + 3 * 60_000)})
    assert [parse_time(a["timestamp"]) - t0 for a in ranged] == [60_000, 120_000, 120_000]


def test_unknown_lead_is_404_everywhere(server, three_leads):
    key = three_leads.secret
    for path in ("/leads/nobody", "/leads/nobody/activities", "/leads/nobody/credits",
                 "/leads/nobody/timeline"):
        r = get(server, key, path)
        assert r.status_code == 404 and "nobody" in r.json()["error"], (path, r.text)
    r = server.client.patch("/api/v1/leads/nobody", json={"name": "X"}, headers=auth(key))
    assert r.status_code == 404


@pytest.mark.parametrize("params, field", [
    ({"sort": "name"}, "sort"), ({"order": "up"}, "order"), ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"), ({"limit": "many"}, "limit"), ({"cursor": "garbage"}, "cursor"),
])
def test_bad_list_parameters(server, three_leads, params, field):
    r = get(server, three_leads.secret, "/leads", **params)
    assert r.status_code in (400, 422) and field in r.json()["error"], r.text


def test_keys_and_cross_app_isolation(server, three_leads):
    other = server.create_app("Other", rateLimitPerMinute=10_000)
    seed(server, other.public, "fp_gamma", now_ms() - HOUR)
    # App B's secret key never sees app A's leads.
    assert fps(get(server, other.secret, "/leads")) == ["fp_gamma"]
    assert fps(get(server, other.secret, "/leads", q="fp_")) == ["fp_gamma"]
    for path in ("/leads/fp_alpha", "/leads/fp_alpha/activities", "/leads/fp_alpha/timeline",
                 "/leads/fp_alpha/credits"):
        assert get(server, other.secret, path).status_code == 404
    r = server.client.patch("/api/v1/leads/fp_alpha", json={"name": "Mallory"},
                            headers=auth(other.secret))
    assert r.status_code == 404
    assert server.scalar("SELECT name FROM leads WHERE fingerprint = 'fp_alpha'") is None
    # Public keys are refused with 403, missing or unknown keys with 401.
    for path in ("/leads", "/leads/fp_alpha", "/leads/fp_alpha/activities"):
        assert get(server, three_leads.public, path).status_code == 403
        assert server.client.get(f"/api/v1{path}").status_code == 401
        assert get(server, "sk_unknown", path).status_code == 401
    r = server.client.patch("/api/v1/leads/fp_alpha", json={"name": "X"},
                            headers=auth(three_leads.public))
    assert r.status_code == 403


def test_openapi_documents_the_lead_endpoints(server):
    paths = server.client.get("/openapi.json").json()["paths"]
    assert {"get", "patch"} <= set(paths["/api/v1/leads/{fingerprint}"])
    for path in ("/api/v1/leads", "/api/v1/leads/{fingerprint}/activities"):
        assert "get" in paths[path]
