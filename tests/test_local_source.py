"""LocalSource on an offline snapshot against the real app: the same query set answered by
`Client` over HTTP and by `LocalSource` on a snapshot of the same range gives equal JSON for
every analytic; default ranges end at the snapshot's end; the file is read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from growthkit.api_client import Client, NotFound, Source, ValidationError
from growthkit.api_client.local import LocalSource, ReadOnly
from growthkit.core.clock import now_ms, to_iso

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def shop(server):
    """Four leads over the last two days (sessions, properties, a profile, credit ledgers),
    and another app on the same server whose rows must never be copied."""
    app = server.create_app("Shop", rateLimitPerMinute=10_000, timeZone="America/New_York",
                            initialCredits=10, actionCosts={"export": 4})
    other = server.create_app("Other", rateLimitPerMinute=10_000)
    t0 = now_ms() - 2 * DAY
    plan = {
        "fp_a": [("page_viewed", 0, {"plan": "pro", "path": "/"}),
                 ("signup", 7, {"plan": "pro"}),
                 ("purchase", 30, {"plan": "pro", "amount": 30, "utm": {"source": "news"}}),
                 ("page_viewed", 26 * 60, {"path": "/docs"})],
        "fp_b": [("page_viewed", 5, {"plan": "free", "path": "/pricing"}),
                 ("signup", 15, {"plan": "free"}),
                 ("page_viewed", 40 * 60, {"path": "/"})],
        "fp_c": [("page_viewed", 100, {"utm": {"source": "newsletter"}, "path": "/"})],
        "fp_d": [("page_viewed", 20 * 60, {"path": "/blog"}),
                 ("checkout_started", 20 * 60 + 3, {"coupon": "WELCOME"}),
                 ("purchase", 20 * 60 + 9, {"amount": 12})],
    }
    for fp, events in plan.items():
        r = server.track(app.public, {"fingerprint": fp, "context": {"url": "https://s.example/"},
                                      "events": [
            {"eventName": name, "properties": props, "timestamp": t0 + minutes * MIN}
            for name, minutes, props in events]})
        assert r.json()["accepted"] == len(events), r.text
    server.track(other.public, {"fingerprint": "fp_a", "events": [{"eventName": "elsewhere"}]})
    h = auth(app.secret)
    assert server.client.patch("/api/v1/leads/fp_a", headers=h, json={
        "email": "ada@example.com", "name": "Ada", "traits": {"plan": "pro"}}).status_code == 200
    for body in ({"fingerprint": "fp_a", "amount": 5, "action": "purchase"},
                 {"fingerprint": "fp_b", "amount": -3, "action": "download"},
                 {"fingerprint": "fp_a", "amount": -2, "action": "adjust", "reason": "refund"}):
        assert server.client.post("/api/v1/credits", headers=h, json=body).status_code == 200
    assert server.client.post("/api/v1/actions/complete", headers=auth(app.public), json={
        "fingerprint": "fp_d", "action": "export"}).status_code == 200
    client = Client(server.base_url, app.secret, http=server.client)
    client.t0 = t0  # type: ignore[attr-defined]
    client.keys = app  # type: ignore[attr-defined]
    return client


@pytest.fixture
def snapshot(shop, tmp_path):
    start, end = shop.t0 - HOUR, now_ms() + MIN
    info = shop.snapshot(tmp_path / "shop.db", start=start, end=end)
    source = LocalSource(info.path)
    source.span = (start, end)  # type: ignore[attr-defined]
    yield source
    source.close()


def listed(listing) -> tuple[list[dict], dict]:
    items = [item.to_json() for item in listing]
    return items, listing.meta


def members(segment: str, end: int):
    event = "purchase" if segment == "converters" else None
    return lambda s: listed(s.segment_members(segment, as_of=end, event=event))


def details(fp: str):
    return lambda s: s.lead(fp, tz="Asia/Tokyo").to_json()


def queries(start: int, end: int) -> dict:
    """name -> call(source): the query set, every range explicit."""
    span = {"start": start, "end": end}
    steps = ["page_viewed", "signup", ("purchase", "plan:eq:pro")]
    rule = {"did": ["page_viewed"], "didNot": [{"eventName": "purchase"}]}
    return {
        "stats": lambda s: s.stats(**span).to_json(),
        "stats by name in a zone": lambda s: s.stats(**span, event=["signup", "purchase"],
                                                     tz="Asia/Kathmandu", top=3).to_json(),
        "stats where": lambda s: s.stats(**span, where={"plan": "pro"}).to_json(),
        "frequency by hour": lambda s: s.event_frequency(**span, interval="hour").to_json(),
        "frequency by day": lambda s: s.event_frequency(**span, interval="day", top=2,
                                                        tz="Europe/Berlin").to_json(),
        "heatmap events": lambda s: s.heatmap(**span).to_json(),
        "heatmap users": lambda s: s.heatmap(**span, metric="users", tz="UTC").to_json(),
        "funnel": lambda s: s.funnel(steps, window=timedelta(hours=1), **span).to_json(),
        "funnel where": lambda s: s.funnel(["page_viewed", "purchase"], window=2 * 86400,
                                           where="path:exists", **span).to_json(),
        "funnel leads": lambda s: listed(s.funnel_leads(
            steps[:2], window=3600, step=2, **span)),
        "funnel dropped": lambda s: listed(s.funnel_leads(
            steps[:2], window=3600, step=2, outcome="dropped", **span)),
        "time to convert": lambda s: s.funnel_time_to_convert(
            steps[:2], window=3600, step=2, bins=4, **span).to_json(),
        "segments": lambda s: s.segments(event="purchase", as_of=end).to_json(),
        **{f"segment {name}": members(name, end)
           for name in ("new", "active", "power", "dormant", "converters")},
        "segment rule": lambda s: listed(s.segment_members(rule, as_of=end)),
        "leads": lambda s: listed(s.leads(page_size=2)),
        "leads by events": lambda s: listed(s.leads(sort="events", order="asc")),
        "leads search": lambda s: listed(s.leads(search="ada")),
        **{f"lead {fp}": details(fp) for fp in ("fp_a", "fp_b", "fp_c", "fp_d")},
        "lead activities": lambda s: listed(s.lead_activities("fp_a", page_size=3)),
        "lead sessions": lambda s: listed(s.lead_sessions("fp_a")),
        "lead credits": lambda s: listed(s.lead_credits("fp_a", page_size=2)),
        "timeline": lambda s: listed(s.timeline("fp_a", page_size=3)),
        "timeline credits desc": lambda s: listed(s.timeline("fp_d", kind="credit",
                                                             order="desc")),
        "activities": lambda s: listed(s.activities(**span, page_size=4)),
        "activities asc by name": lambda s: listed(s.activities(
            **span, event="page_viewed", order="asc")),
        "activities where": lambda s: listed(s.activities(
            **span, where="utm.source:contains:news")),
        "activities search": lambda s: listed(s.activities(**span, search="WELCOME")),
    }


def test_every_analytic_answers_the_same_json_from_the_snapshot(shop, snapshot):
    start, end = snapshot.span
    differ = {}
    for name, call in queries(start, end).items():
        online, offline = call(shop), call(snapshot)
        if online != offline:
            differ[name] = (online, offline)
        assert online, name  # every query finds something: equality is not of nothing
    assert not differ, differ
    app, local = shop.app_settings().to_json(), snapshot.app_settings().to_json()
    assert {**app, "publicKey": None} == local


def test_local_source_satisfies_the_source_protocol(snapshot):
    assert isinstance(snapshot, Source)
    assert snapshot.meta["kind"] == "snapshot" and snapshot.end == snapshot.span[1]


def test_default_ranges_end_at_the_snapshot_end(shop, tmp_path):
    # A snapshot that ended a day ago opens on its own last 24 hours, not the wall clock's.
    end = now_ms() - DAY
    info = shop.snapshot(tmp_path / "old.db", end=end)
    with LocalSource(info.path) as old:
        stats = old.stats().to_json()
        assert (stats["from"], stats["to"]) == (to_iso(end - DAY), to_iso(end))
        assert stats == shop.stats(start=end - DAY, end=end).to_json()
        assert stats["events"] > 0
        week = old.event_frequency().to_json()
        assert week["to"] == to_iso(end)
        assert old.funnel(["page_viewed", "signup"], window=3600).to_json() == shop.funnel(
            ["page_viewed", "signup"], window=3600, start=end - 30 * DAY, end=end).to_json()
        assert old.segments().to_json()["asOf"] == to_iso(end)


def test_writes_are_refused_and_errors_are_the_clients(snapshot, tmp_path):
    with pytest.raises(ReadOnly, match="read-only"):
        snapshot.update_lead("fp_a", name="Eve")
    with pytest.raises(ReadOnly, match="read-only"):
        snapshot.credit("fp_a", 5, "purchase")
    with pytest.raises(NotFound, match="no lead"):
        snapshot.lead("fp_nobody")
    with pytest.raises(ValidationError) as exc:
        snapshot.stats(start="yesterday")
    assert exc.value.errors[0].field == "from"
    with pytest.raises(ValidationError, match="interval"):
        snapshot.event_frequency(interval="fortnight")
    with pytest.raises(FileNotFoundError):
        LocalSource(tmp_path / "nothing.db")
    (tmp_path / "junk.db").write_bytes(b"not a database at all, no")
    with pytest.raises(ValueError, match="not a GrowthKit snapshot"):
        LocalSource(tmp_path / "junk.db")


def test_export_and_stream_from_the_file(shop, snapshot, tmp_path):
    start, end = snapshot.span
    online = shop.export(tmp_path / "online.csv", start=start, end=end).read_bytes()
    offline = snapshot.export(tmp_path / "offline.csv", start=start, end=end).read_bytes()
    assert online == offline and online.count(b"\r\n") == 12  # header + 11 events
    streamed = [a.seq for a in snapshot.stream()]
    assert streamed == sorted(a.seq for a in shop.activities())
    assert [a.seq for a in snapshot.stream(last_event_id=streamed[-3])] == streamed[-2:]


def test_rolled_up_ranges_answer_the_same_from_the_snapshot(server, tmp_path):
    """Days the server's retention rolled into aggregates are copied as aggregates: the
    stats, frequency and heatmap of a range across the cut match (source "partial")."""
    from growthkit.core.events import Event
    from growthkit.core.ingest import store_events
    from growthkit.core.retention import run_retention
    from growthkit.core.store import write_connection

    app = server.create_app("Kept", rateLimitPerMinute=10_000, retentionDays=3)
    today = now_ms() // DAY * DAY
    rows = [(today - 6 * DAY + h * HOUR, f"fp_{h % 3}", name)
            for h, name in enumerate(["page_viewed", "signup", "page_viewed", "purchase",
                                      "page_viewed", "signup"])]
    rows += [(now_ms() - 5 * HOUR + i * MIN, "fp_new", "page_viewed") for i in range(3)]
    events = [Event(f"e{i}", fp, name, {"i": i}, {}, f"s_{fp}", ts, ts)
              for i, (ts, fp, name) in enumerate(rows)]
    with write_connection(server.engine) as conn, conn.begin():
        store_events(conn, app.id, events)
    run_retention(server.engine)
    client = Client(server.base_url, app.secret, http=server.client)
    start, end = today - 8 * DAY, now_ms() + MIN
    with LocalSource(client.snapshot(tmp_path / "kept.db", start=start, end=end).path) as s:
        span = {"start": start, "end": end, "tz": "UTC"}
        for call in (lambda x: x.stats(**span), lambda x: x.event_frequency(**span),
                     lambda x: x.heatmap(**span), lambda x: x.heatmap(**span, metric="users")):
            online, offline = call(client).to_json(), call(s).to_json()
            assert online == offline
        assert online["source"] == "partial"
        stats = s.stats(**span).to_json()
        assert stats["events"] == 9 and stats["rolledUpBefore"] == to_iso(today - 3 * DAY)
