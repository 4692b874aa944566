"""The Python client against the real app: every method, typed results, frames, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from growthkit.api_client import (
    AuthError,
    Client,
    Conflict,
    NotFound,
    Source,
    ValidationError,
    to_frame,
)
from growthkit.core.clock import now_ms, to_iso

HOUR = 3_600_000


def utc_times(column) -> bool:
    return isinstance(column.dtype, pd.DatetimeTZDtype) and str(column.dtype.tz) == "UTC"


def api(server, key: str, path: str, params=None) -> dict:
    r = server.client.get(f"/api/v1{path}", params=params,
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def shop(server):
    """Three leads in the last 4 hours: fp_a page_viewed→signup→purchase (plan pro), fp_b
    page_viewed→signup (plan free), fp_c one page_viewed from a newsletter link."""
    app = server.create_app("Shop", rateLimitPerMinute=10_000)
    now = now_ms()
    t0 = now - 4 * HOUR
    batches = [
        ("fp_a", [("page_viewed", 0, {"plan": "pro"}), ("signup", 10, {"plan": "pro"}),
                  ("purchase", 20, {"plan": "pro", "amount": 30})]),
        ("fp_b", [("page_viewed", 5, {"plan": "free"}), ("signup", 15, {"plan": "free"})]),
        ("fp_c", [("page_viewed", 100, {"utm": {"source": "newsletter"}})]),
    ]
    for fp, events in batches:
        body = {"fingerprint": fp, "sessionId": f"s_{fp}", "events": [
            {"id": f"{fp}-{i}", "eventName": name, "properties": props,
             "timestamp": t0 + minutes * 60_000} for i, (name, minutes, props) in
            enumerate(events)]}
        r = server.track(app.public, body)
        assert r.json()["accepted"] == len(events), r.text
    client = Client(server.base_url, app.secret, http=server.client)
    client.span = (to_iso(t0 - HOUR), to_iso(now + 60_000))  # type: ignore[attr-defined]
    client.app = app  # type: ignore[attr-defined]
    return client


def test_a_public_key_is_refused_at_construction():
    with pytest.raises(AuthError, match="needs the app's secret key"):
        Client("http://127.0.0.1:9", "pk_abc")
    with pytest.raises(AuthError, match="starts with sk_"):
        Client("http://127.0.0.1:9", "")
    with pytest.raises(ValueError, match="http:// or https://"):
        Client("127.0.0.1:8000", "sk_x")


def test_analytics_answer_the_api_json_as_typed_results(server, shop):
    assert isinstance(shop, Source)
    start, end = shop.span
    key = shop.app.secret
    stats = shop.stats(start=start, end=end)
    assert stats.to_json() == api(server, key, "/stats", {"from": start, "to": end})
    assert (stats.events, stats.unique_users, stats.sessions) == (6, 3, 3)
    assert stats.from_ == start and stats.top_events[0].event_name == "page_viewed"
    series = to_frame(stats)
    assert utc_times(series["start"])
    assert series["events"].sum() == 6

    freq = shop.event_frequency(start=start, end=end, interval="hour", tz="Europe/Berlin")
    assert freq.to_json() == api(server, key, "/analytics/events",
                                 {"from": start, "to": end, "interval": "hour",
                                  "tz": "Europe/Berlin"})
    assert [e.event_name for e in freq.events] == ["page_viewed", "signup", "purchase"]
    assert freq.time_zone == "Europe/Berlin"
    frame = to_frame(freq)
    assert frame["page_viewed"].sum() == 3 and utc_times(frame.index)

    heat = shop.heatmap(start=start, end=end, metric="users")
    assert heat.to_json() == api(server, key, "/analytics/heatmap",
                                 {"from": start, "to": end, "metric": "users"})
    assert to_frame(heat).shape == (7, 24) and heat.metric == "users"


def test_filters_reach_the_api_as_its_parameters(shop):
    start, end = shop.span
    by_list = shop.stats(event=["signup", "purchase"], start=start, end=end)
    assert by_list.events == 3
    assert shop.stats(event="signup", start=start, end=end).events == 2
    assert shop.stats(where={"plan": "pro"}, start=start, end=end).events == 3
    assert shop.stats(where="utm.source:contains:news", start=start, end=end).events == 1
    assert shop.stats(where=[{"key": "plan", "op": "ne", "value": "pro"}],
                      start=start, end=end).events == 3
    assert shop.stats(fingerprint="fp_b", start=start, end=end).events == 2
    assert shop.stats(session="s_fp_c", start=start, end=end).events == 1
    assert shop.stats(search="newsletter", start=start, end=end).events == 1
    # datetimes (naive = UTC) and dates work as well as ISO strings
    begin = datetime.fromisoformat(start.replace("Z", "")).replace(tzinfo=None)
    assert shop.stats(start=begin, end=datetime.now(UTC) + timedelta(minutes=1)).events == 6
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert shop.stats(start=tomorrow - timedelta(days=2), end=tomorrow).events == 6


def test_activities_iterate_every_page_and_make_a_frame(shop):
    ids = [a.id for a in shop.activities(page_size=2)]
    assert ids == ["fp_c-0", "fp_a-2", "fp_b-1", "fp_a-1", "fp_b-0", "fp_a-0"]
    listing = shop.activities(order="asc", page_size=2, limit=5)
    assert [a.id for a in listing] == ["fp_a-0", "fp_b-0", "fp_a-1", "fp_b-1", "fp_a-2"]
    assert listing.pages == 3
    first = next(iter(shop.activities(event="purchase")))
    assert first.event_name == "purchase" and first.properties == {"plan": "pro", "amount": 30}
    assert first.fingerprint_id == "fp_a" and first.timestamp.endswith("Z")

    frame = shop.activities(where={"plan": "pro"}).to_frame()
    assert list(frame["id"]) == ["fp_a-2", "fp_a-1", "fp_a-0"]
    assert utc_times(frame["timestamp"])
    assert utc_times(frame["receivedAt"])
    assert frame["properties"].iloc[0] == {"plan": "pro", "amount": 30}
    assert isinstance(frame["context"].iloc[0], dict)
    empty = shop.activities(event="never_happened").to_frame()
    assert empty.empty and list(empty.columns[:4]) == ["id", "appId", "fingerprintId",
                                                        "eventName"]
    with pytest.raises(ValueError, match="page_size must be 1-1000"):
        shop.activities(page_size=5000)


def test_funnel_and_segments(server, shop):
    start, end = shop.span
    funnel = shop.funnel(["page_viewed", "signup", ("purchase", {"plan": "pro"})],
                         window=timedelta(hours=1), start=start, end=end)
    assert [s.users for s in funnel.steps] == [3, 2, 1]
    assert funnel.window_seconds == 3600
    assert list(to_frame(funnel)["users"]) == [3, 2, 1]
    assert shop.funnel([{"eventName": "signup"}, "purchase"], window=60,
                       start=start, end=end).steps[1].users == 0
    with pytest.raises(ValidationError) as caught:
        shop.funnel(["signup"], window=60)
    assert caught.value.errors[0].field == "steps"
    assert "2-10 steps" in caught.value.errors[0].message

    segments = shop.segments(event="purchase")
    assert {s.id: s.count for s in segments.data} == {
        "new": 3, "active": 3, "power": 1, "dormant": 0, "converters": 1}
    members = [m.fingerprint for m in shop.segment_members("active", page_size=2)]
    assert sorted(members) == ["fp_a", "fp_b", "fp_c"]
    rule = shop.segment_members({"did": ["signup"], "didNot": ["purchase"]})
    assert [m.fingerprint for m in rule] == ["fp_b"] and rule.meta["count"] == 1
    with pytest.raises(NotFound, match="unknown segment"):
        list(shop.segment_members("nope"))


def test_leads_lead_history_and_timeline(shop):
    assert [lead.fingerprint for lead in shop.leads()] == ["fp_c", "fp_a", "fp_b"]
    assert [lead.fingerprint for lead in shop.leads(sort="events", limit=1)] == ["fp_a"]
    assert [lead.fingerprint for lead in shop.leads(search="fp_b")] == ["fp_b"]
    frame = shop.leads().to_frame()
    assert utc_times(frame["lastSeen"])

    details = shop.lead("fp_a", tz="UTC")
    assert details.events == 3 and details.sessions == 1 and details.credit_balance == 0
    assert {e.event_name for e in details.top_events} == {"page_viewed", "signup", "purchase"}
    history = shop.lead_activities("fp_a", order="asc", page_size=1)
    assert [a.event_name for a in history] == ["page_viewed", "signup", "purchase"]
    assert [a.id for a in shop.lead_activities("fp_a", event="signup")] == ["fp_a-1"]

    shop.credit("fp_a", 10, "purchase", id="op-1")
    items = list(shop.timeline("fp_a", page_size=2))
    assert [(i.kind, i.name) for i in items] == [
        ("event", "page_viewed"), ("event", "signup"), ("event", "purchase"),
        ("credit", "initial_credits"), ("credit", "purchase")]
    assert items[1].gap_seconds == 600.0
    assert [i.name for i in shop.timeline("fp_a", kind="credit", order="desc")] == [
        "purchase", "initial_credits"]
    with pytest.raises(NotFound):
        shop.lead("fp_nobody")


def test_writes_update_lead_credit_and_settings(shop):
    lead = shop.update_lead("fp_a", email="ada@example.com", traits={"plan": "pro"})
    assert (lead.email, lead.traits) == ("ada@example.com", {"plan": "pro"})
    lead = shop.update_lead("fp_a", name="Ada")
    assert (lead.email, lead.name) == ("ada@example.com", "Ada")
    assert shop.lead("fp_a").name == "Ada"

    first = shop.credit("fp_a", 10, "purchase", id="order-1")
    again = shop.credit("fp_a", 10, "purchase", id="order-1")
    assert first.balance == again.balance == 10 and again.operation.id == "order-1"
    spent = shop.credit("fp_a", -4, "export")
    assert spent.balance == 6 and spent.operation.id.startswith("py-")
    with pytest.raises(Conflict, match="credits"):
        shop.credit("fp_a", -100, "export")
    ledger = shop.lead_credits("fp_a")
    assert [op.amount for op in ledger] == [-4, 10, 0] and ledger.meta["balance"] == 6

    info = shop.app_settings()
    assert info.name == "Shop" and info.public_key == shop.app.public
    changed = shop.update_app_settings(timeZone="Europe/Berlin")
    assert changed.settings["timeZone"] == "Europe/Berlin"
    assert shop.stats().time_zone == "Europe/Berlin"
    with pytest.raises(ValidationError, match="unknown settings"):
        shop.update_app_settings(bogus=1)


def test_errors_name_the_field_and_what_to_do(server, shop):
    with pytest.raises(ValidationError) as caught:
        shop.stats(where="plan:like:pro")
    err = caught.value
    assert err.status == 422 and err.errors[0].field == "where='plan:like:pro'"
    assert "op must be one of" in err.errors[0].message
    with pytest.raises(ValidationError, match="tz"):
        shop.stats(tz="Mars/Olympus")
    with pytest.raises(ValidationError, match="cursor"):
        shop._get("/activities", [("cursor", "garbage")])
    wrong = Client(server.base_url, "sk_not_a_key", http=server.client)
    with pytest.raises(AuthError, match="secret key"):
        wrong.stats()
    with pytest.raises(AuthError, match="unknown secret key"):
        wrong.ping()
    assert shop.ping() >= 0
    info = shop.server_info()
    from growthkit import __version__
    assert (info.status, info.version) == ("up", __version__)


def test_export_every_format(shop, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    seen = []
    csv_path = shop.export(tmp_path / "all.csv", progress=lambda done, total: seen.append(done))
    frame = pd.read_csv(csv_path)
    assert list(frame["id"]) == ["fp_a-0", "fp_b-0", "fp_a-1", "fp_b-1", "fp_a-2", "fp_c-0"]
    assert seen and seen[-1] == csv_path.stat().st_size
    assert json.loads(frame["properties"][4]) == {"plan": "pro", "amount": 30}

    data = json.loads(shop.export(tmp_path / "pro.json", where={"plan": "pro"}).read_text())
    assert [a["id"] for a in data] == ["fp_a-0", "fp_a-1", "fp_a-2"]
    lines = (tmp_path / "x.ndjson")
    shop.export(lines, event="signup", order="desc")
    assert [json.loads(x)["id"] for x in lines.read_text().splitlines()] == ["fp_b-1", "fp_a-1"]

    parquet = pd.read_parquet(shop.export(tmp_path / "all.parquet"))
    assert len(parquet) == 6 and utc_times(parquet["timestamp"])
    assert json.loads(parquet["properties"][4]) == {"plan": "pro", "amount": 30}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "all.csv", "all.parquet", "pro.json", "x.ndjson"]


def test_export_cancel_or_error_leaves_no_file(shop, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(Exception, match="cancelled") as caught:
        shop.export(tmp_path / "a.csv", cancel=lambda: True)
    assert type(caught.value).__name__ == "Cancelled"
    import threading
    stop = threading.Event()
    with pytest.raises(Exception, match="cancelled"):
        shop.export(tmp_path / "b.ndjson", progress=lambda d, t: stop.set(), cancel=stop)
    with pytest.raises(ValidationError):
        shop.export(tmp_path / "c.csv", where="plan:like:x")
    with pytest.raises(ValueError, match="format"):
        shop.export(tmp_path / "d.xlsx")
    assert list(tmp_path.iterdir()) == []
