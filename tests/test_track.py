"""POST /api/v1/track through HTTP: every ingest rule, valid and invalid."""

from __future__ import annotations

import json
import uuid

import pytest

from growthkit.core.clock import now_ms, to_iso

CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/124.0.0.0 Safari/537.36")
IPAD_UA = ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
           "Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


def batch(*events, fingerprint="fp_1", **extra):
    return {"fingerprint": fingerprint, "events": list(events), **extra}


def ev(name="page_viewed", **fields):
    return {"eventName": name, **fields}


def test_valid_batch_is_stored_with_context_and_lead(server):
    app = server.create_app()
    ctx = {"url": "https://shop.example/p/1", "referrer": "https://google.com", "title": "P1",
           "screenResolution": "1920x1080", "viewport": "1200x800"}
    r = server.track(app.public, batch(ev("page_viewed", id="e1", properties={"path": "/p/1"}),
                                       ev("button_clicked", id="e2",
                                          properties={"button": "buy", "n": 2}),
                                       context=ctx, sessionId="sess_a"),
                     headers={"User-Agent": CHROME_UA})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    rows = server.rows("SELECT id, app_id, fingerprint_id, event_name, properties, context, "
                       "session_id, timestamp, received_at FROM activities ORDER BY seq")
    assert [r.id for r in rows] == ["e1", "e2"]
    first = rows[0]
    assert first.app_id == app.id and first.fingerprint_id == "fp_1"
    assert first.session_id == "sess_a"
    props = first.properties if isinstance(first.properties, dict) else json.loads(first.properties)
    assert props == {"path": "/p/1"}
    context = first.context if isinstance(first.context, dict) else json.loads(first.context)
    assert context["url"] == ctx["url"] and context["viewport"] == "1200x800"
    assert context["browser"] == "Chrome 124" and context["os"] == "Windows 10"
    assert context["device"] == "desktop" and context["userAgent"] == CHROME_UA
    assert abs(first.timestamp - now_ms()) < 60_000 and first.timestamp == first.received_at
    lead = server.rows("SELECT app_id, fingerprint, first_seen, last_seen FROM leads")
    assert len(lead) == 1 and lead[0].fingerprint == "fp_1" and lead[0].app_id == app.id


def test_device_type_from_user_agent_and_client_context_wins(server):
    app = server.create_app()
    server.track(app.public, batch(ev(id="t1")), headers={"User-Agent": IPAD_UA})
    server.track(app.public, batch(ev(id="t2", context={"device": "mobile", "os": "Custom OS",
                                                        "browser": "Own"})),
                 headers={"User-Agent": IPAD_UA})
    rows = {r.id: r.context for r in server.rows("SELECT id, context FROM activities")}
    ctx = {k: (v if isinstance(v, dict) else json.loads(v)) for k, v in rows.items()}
    assert ctx["t1"]["device"] == "tablet" and ctx["t1"]["os"] == "iOS 17"
    assert ctx["t2"]["device"] == "mobile" and ctx["t2"]["os"] == "Custom OS"


def test_last_seen_updates_and_raw_ip_is_never_stored(server):
    app = server.create_app()
    t0 = now_ms() - 3_600_000
    server.track(app.public, batch(ev(id="a", timestamp=t0)),
                 headers={"X-Forwarded-For": "203.0.113.77", "X-Real-IP": "203.0.113.77"})
    server.track(app.public, batch(ev(id="b")))
    lead = server.rows("SELECT first_seen, last_seen FROM leads")[0]
    assert lead.first_seen == t0 and lead.last_seen > t0 + 3_000_000
    dump = repr(server.rows("SELECT * FROM activities")) + repr(server.rows("SELECT * FROM leads"))
    assert "203.0.113.77" not in dump


@pytest.mark.parametrize("where", ["header", "query", "body"])
def test_key_from_header_query_or_body(server, where):
    app = server.create_app()
    body = batch(ev(id=f"k-{where}"))
    if where == "header":
        r = server.client.post("/api/v1/track", json=body,
                               headers={"Authorization": f"Bearer {app.public}"})
    elif where == "query":
        r = server.client.post(f"/api/v1/track?key={app.public}", json=body)
    else:
        r = server.client.post("/api/v1/track", json={**body, "key": app.public})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert server.scalar("SELECT count(*) FROM activities") == 1


def test_missing_unknown_and_secret_keys_are_refused(server):
    app = server.create_app()
    r = server.client.post("/api/v1/track", json=batch(ev()))
    assert r.status_code == 401 and "missing app key" in r.json()["error"]
    r = server.track("pk_nope", batch(ev()))
    assert r.status_code == 401 and r.json()["error"] == "unknown app key"
    r = server.track(app.secret, batch(ev()))
    assert r.status_code == 403 and "public key" in r.json()["error"]
    assert server.scalar("SELECT count(*) FROM activities") == 0


def test_a_key_never_writes_into_another_app(server):
    a, b = server.create_app("A"), server.create_app("B")
    server.track(a.public, batch(ev(id="same")))
    server.track(b.public, batch(ev(id="same")))
    server.track(a.public, batch(ev(id="only-a")))
    counts = dict(server.rows("SELECT app_id, count(*) FROM activities GROUP BY app_id"))
    assert counts == {a.id: 2, b.id: 1}
    # The same event id in another app is not a duplicate of this one.
    assert server.scalar("SELECT count(*) FROM activities WHERE id = 'same'") == 2


def test_text_plain_beacon_body_and_beacon_204(server):
    app = server.create_app()
    payload = json.dumps({**batch(ev(id="b1"), ev(id="b2")), "key": app.public})
    r = server.client.post("/api/v1/track?beacon=1", content=payload,
                           headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 204 and r.content == b""
    assert server.scalar("SELECT count(*) FROM activities") == 2


def test_retries_with_the_same_ids_are_duplicates(server):
    app = server.create_app()
    body = batch(ev(id="r1"), ev(id="r2"), ev(id="r1"))
    first = server.track(app.public, body).json()
    again = server.track(app.public, body).json()
    assert first == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert again == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert server.scalar("SELECT count(*) FROM activities") == 2


def test_a_duplicate_leaves_its_lead_as_it_was(server):
    """Only stored events move a lead: a duplicate sent with another (or no) timestamp is not
    stored, so the lead's first and last seen stay those of its stored events."""
    app = server.create_app()
    past = now_ms() - 3 * 86_400_000
    assert server.track(app.public, batch(ev(id="d1", timestamp=past))).json()["accepted"] == 1
    again = server.track(app.public, batch(ev(id="d1"), ev(id="d1", timestamp=past - 60_000)))
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    lead = server.client.get(f"/api/v1/leads/{batch()['fingerprint']}",
                             headers={"Authorization": f"Bearer {app.secret}"}).json()
    assert (lead["events"], lead["firstSeen"], lead["lastSeen"]) == (1, to_iso(past), to_iso(past))


def test_events_without_id_get_one(server):
    app = server.create_app()
    server.track(app.public, batch(ev(), ev()))
    ids = [r.id for r in server.rows("SELECT id FROM activities")]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(uuid.UUID(i) for i in ids)


def test_clock_skew_is_corrected_with_sent_at(server):
    app = server.create_app()
    client_now = now_ms() + 2 * 3_600_000  # the client's clock runs two hours fast
    r = server.track(app.public, batch(ev(id="s1", timestamp=client_now - 5_000),
                                       ev(id="s2"), sentAt=client_now))
    assert r.json()["accepted"] == 2
    rows = {r.id: r for r in server.rows("SELECT id, timestamp, received_at FROM activities")}
    assert rows["s1"].timestamp == rows["s1"].received_at - 5_000
    assert rows["s2"].timestamp == rows["s2"].received_at
    assert abs(rows["s1"].received_at - now_ms()) < 60_000


def test_future_and_too_old_events_are_rejected_per_event(server):
    app = server.create_app(retentionDays=7)
    now = now_ms()
    r = server.track(app.public, batch(ev(id="ok", timestamp=now - 6 * 86_400_000),
                                       ev(id="future", timestamp=now + 2 * 3_600_000),
                                       ev(id="old", timestamp=now - 8 * 86_400_000),
                                       ev(id="iso", timestamp="2020-01-01T00:00:00Z")))
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 1
    errors = {x["index"]: x["error"] for x in body["rejected"]}
    assert "1 hour in the future" in errors[1]
    assert "retention (7 days)" in errors[2] and "retention" in errors[3]
    assert [x.id for x in server.rows("SELECT id FROM activities")] == ["ok"]


@pytest.mark.parametrize("n", [0, 101])
def test_batch_must_hold_1_to_100_events(server, n):
    app = server.create_app()
    r = server.track(app.public, batch(*[ev() for _ in range(n)]))
    assert r.status_code == 422 and "events" in r.json()["error"] and "1-100" in r.json()["error"]
    assert server.scalar("SELECT count(*) FROM activities") == 0


def test_100_events_is_fine(server):
    app = server.create_app(rateLimitPerMinute=1000)
    r = server.track(app.public, batch(*[ev(id=str(i)) for i in range(100)]))
    assert r.json()["accepted"] == 100


def test_oversized_body_is_413(server):
    app = server.create_app()
    big = batch(*[ev(properties={"blob": "x" * 20_000}) for _ in range(30)])
    r = server.track(app.public, big)
    assert r.status_code == 413 and "limit is 524288 bytes" in r.json()["error"]
    assert server.scalar("SELECT count(*) FROM activities") == 0


def test_oversized_event_is_rejected_alone(server):
    app = server.create_app()
    big = ev(id="big", properties={"b": "x" * 40_000})
    r = server.track(app.public, batch(ev(id="small"), big))
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"][0]["index"] == 1
    assert "limit is 32768 bytes" in body["rejected"][0]["error"]


def test_malformed_json_and_wrong_shapes(server):
    app = server.create_app()
    headers = {"Authorization": f"Bearer {app.public}", "Content-Type": "application/json"}
    r = server.client.post("/api/v1/track", content=b'{"events": [', headers=headers)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = server.client.post("/api/v1/track", content=b"", headers=headers)
    assert r.status_code == 400 and "empty" in r.json()["error"]
    r = server.client.post("/api/v1/track", content=b"[1,2]", headers=headers)
    assert r.status_code == 422 and "JSON object" in r.json()["error"]
    r = server.track(app.public, {"fingerprint": "f", "events": "nope"})
    assert r.status_code == 422 and "events" in r.json()["error"]
    assert server.scalar("SELECT count(*) FROM activities") == 0


def test_event_name_rules(server):
    app = server.create_app()
    names = ["", "x" * 201, "bad!name", "<script>", 42, None,  # rejected
             "x" * 200, "signup completed", "ns:event/v2.x-y_z", "café_ouvert", "注册完成"]
    r = server.track(app.public, batch(*[{"eventName": n} for n in names]))
    body = r.json()
    rejected = {x["index"]: x["error"] for x in body["rejected"]}
    assert sorted(rejected) == [0, 1, 2, 3, 4, 5]
    assert all("eventName" in e for e in rejected.values())
    assert body["accepted"] == 5
    stored = {x.event_name for x in server.rows("SELECT event_name FROM activities")}
    assert "注册完成" in stored and "café_ouvert" in stored


def test_wrong_types_are_rejected_with_the_field_named(server):
    app = server.create_app()
    r = server.track(app.public, batch(ev(properties=[1, 2]), ev(properties="x"),
                                       ev(timestamp="yesterday"), ev(context="c"), 7,
                                       ev(id=""), ev(properties=None, id="fine")))
    body = r.json()
    errors = {x["index"]: x["error"] for x in body["rejected"]}
    assert "properties" in errors[0] and "JSON object" in errors[0]
    assert "properties" in errors[1]
    assert "timestamp" in errors[2]
    assert "context" in errors[3]
    assert "JSON object" in errors[4]
    assert "id" in errors[5]
    assert body["accepted"] == 1


def test_unicode_properties_round_trip(server):
    app = server.create_app()
    props = {"title": "Grüße 👋", "nested": {"emoji": "🚀", "list": [1, "二"]}}
    server.track(app.public, batch(ev(id="u", properties=props), fingerprint="fp_ünï"))
    row = server.rows("SELECT fingerprint_id, properties FROM activities")[0]
    stored = row.properties if isinstance(row.properties, dict) else json.loads(row.properties)
    assert stored == props and row.fingerprint_id == "fp_ünï"


@pytest.mark.parametrize("fingerprint,ok", [("", False), ("f" * 129, False), ("a\nb", False),
                                            (None, False), ("f" * 128, True), ("fp 1", True)])
def test_fingerprint_rules(server, fingerprint, ok):
    app = server.create_app()
    body = {"events": [ev()]} if fingerprint is None else batch(ev(), fingerprint=fingerprint)
    r = server.track(app.public, body)
    if ok:
        assert r.status_code == 200 and r.json()["accepted"] == 1
    else:
        assert r.status_code == 422 and "fingerprint" in r.text
        assert server.scalar("SELECT count(*) FROM leads") == 0


def test_per_event_fields_override_the_batch(server):
    app = server.create_app()
    server.track(app.public, batch(ev(id="1"), ev(id="2", fingerprint="fp_other",
                                                  sessionId="s_own", context={"url": "u2"}),
                                   sessionId="s_batch", context={"url": "u1", "title": "T"}))
    rows = {r.id: r for r in server.rows("SELECT id, fingerprint_id, session_id, context "
                                         "FROM activities")}
    ctx2 = rows["2"].context
    ctx2 = ctx2 if isinstance(ctx2, dict) else json.loads(ctx2)
    assert rows["1"].fingerprint_id == "fp_1" and rows["1"].session_id == "s_batch"
    assert rows["2"].fingerprint_id == "fp_other" and rows["2"].session_id == "s_own"
    assert ctx2["url"] == "u2" and ctx2["title"] == "T"
    assert server.scalar("SELECT count(*) FROM leads") == 2


def test_server_assigns_sessions_with_30_minute_inactivity(server):
    app = server.create_app()
    now = now_ms()
    minutes = [-200, -190, -170, -100, -95, -1]  # gaps: 10, 20, 70, 5, 94 minutes
    for i, m in enumerate(minutes):
        server.track(app.public, batch(ev(id=f"m{i}", timestamp=now + m * 60_000)))
    rows = server.rows("SELECT id, session_id FROM activities ORDER BY timestamp")
    sessions = [r.session_id for r in rows]
    assert sessions[0] == sessions[1] == sessions[2]
    assert sessions[3] == sessions[4] != sessions[2]
    assert sessions[5] not in sessions[:5]
    # Another fingerprint never shares a session.
    server.track(app.public, batch(ev(id="other"), fingerprint="fp_2"))
    other = server.scalar("SELECT session_id FROM activities WHERE id='other'")
    assert other not in sessions


def test_allowed_origins(server):
    app = server.create_app(allowedOrigins=["https://shop.example"])
    ok = server.track(app.public, batch(ev(id="o1")), headers={"Origin": "https://shop.example"})
    assert ok.status_code == 200
    bad = server.track(app.public, batch(ev(id="o2")), headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403 and "evil.example" in bad.json()["error"]
    server_side = server.track(app.public, batch(ev(id="o3")))  # no Origin: a backend
    assert server_side.status_code == 200
    assert sorted(r.id for r in server.rows("SELECT id FROM activities")) == ["o1", "o3"]


def test_cors_preflight_and_headers(server):
    r = server.client.options("/api/v1/track", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] in ("*", "https://app.example")
    assert "POST" in r.headers["access-control-allow-methods"]
    app = server.create_app()
    r = server.track(app.public, batch(ev()), headers={"Origin": "https://app.example"})
    assert r.headers["access-control-allow-origin"] in ("*", "https://app.example")


def test_mixed_batch_stores_good_and_reports_bad(server):
    app = server.create_app()
    r = server.track(app.public, batch(ev(id="g1"), ev("bad name!"), ev(id="g2"),
                                       {"properties": {}}, ev(id="g3")))
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 3
    assert [x["index"] for x in body["rejected"]] == [1, 3]
    assert "eventName" in body["rejected"][1]["error"]
    assert sorted(x.id for x in server.rows("SELECT id FROM activities")) == ["g1", "g2", "g3"]


def test_a_batch_of_only_bad_events_is_422(server):
    app = server.create_app()
    r = server.track(app.public, batch(ev("!"), ev("?")))
    assert r.status_code == 422 and r.json()["accepted"] == 0 and len(r.json()["rejected"]) == 2


@pytest.mark.all_backends
def test_rate_limit_default_100_then_429(server):
    app = server.create_app()
    for i in range(10):
        r = server.track(app.public, batch(*[ev(id=f"{i}-{j}") for j in range(10)]))
        assert r.status_code == 200 and r.json()["accepted"] == 10
    r = server.track(app.public, batch(ev(id="over")))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert "rate limit" in r.json()["rejected"][0]["error"]
    # Other fingerprints have their own budget.
    assert server.track(app.public, batch(ev(id="x"), fingerprint="fp_2")).status_code == 200
    assert server.scalar("SELECT count(*) FROM activities") == 101


@pytest.mark.all_backends
def test_rate_limit_per_app_override(server):
    strict = server.create_app("strict", rateLimitPerMinute=5)
    roomy = server.create_app("roomy", rateLimitPerMinute=500)
    r = server.track(strict.public, batch(*[ev(id=f"s{i}") for i in range(7)]))
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 5
    assert [x["index"] for x in body["rejected"]] == [5, 6] and r.headers["Retry-After"]
    assert server.track(strict.public, batch(ev(id="s8"))).status_code == 429
    for i in range(3):
        r = server.track(roomy.public, batch(*[ev(id=f"r{i}-{j}") for j in range(100)]))
        assert r.json()["accepted"] == 100
    # Changing the setting through the API takes effect.
    r = server.client.patch("/api/v1/app", json={"rateLimitPerMinute": 50},
                            headers={"Authorization": f"Bearer {strict.secret}"})
    assert r.status_code == 200 and r.json()["settings"]["rateLimitPerMinute"] == 50
    assert server.track(strict.public, batch(ev(id="s9"))).json()["accepted"] == 1


def _install_failing_trigger(server):
    """Make the store itself refuse any event named 'boom' (a real database error)."""
    if server.engine.dialect.name == "sqlite":
        sql = ["CREATE TRIGGER boom BEFORE INSERT ON activities WHEN NEW.event_name = 'boom' "
               "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"]
    else:
        sql = ["CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
               "IF NEW.event_name = 'boom' THEN RAISE EXCEPTION 'disk on fire'; END IF; "
               "RETURN NEW; END $$ LANGUAGE plpgsql",
               "CREATE TRIGGER boom BEFORE INSERT ON activities FOR EACH ROW EXECUTE "
               "FUNCTION boom()"]
    with server.engine.begin() as conn:
        for s in sql:
            conn.exec_driver_sql(s)


def test_store_failure_leaves_nothing_half_written(server):
    app = server.create_app()
    _install_failing_trigger(server)
    r = server.track(app.public, batch(ev(id="good1"), ev("boom", id="bad"), ev(id="good2"),
                                       fingerprint="fp_new"))
    assert r.status_code == 503 and "none were stored" in r.json()["error"]
    assert server.scalar("SELECT count(*) FROM activities") == 0
    assert server.scalar("SELECT count(*) FROM leads") == 0
    # The store recovers: the same client retry without the poison succeeds.
    r = server.track(app.public, batch(ev(id="good1"), ev(id="good2"), fingerprint="fp_new"))
    assert r.json()["accepted"] == 2


def test_store_failure_of_one_request_spares_concurrent_ones(server):
    """Group commit must not let one failing request fail its neighbours."""
    from concurrent.futures import ThreadPoolExecutor

    app = server.create_app(rateLimitPerMinute=10_000)
    _install_failing_trigger(server)

    def send(i):
        name = "boom" if i % 5 == 0 else "ok"
        return i, server.track(app.public, batch(ev(name, id=f"c{i}"), ev(id=f"d{i}"),
                                                 fingerprint=f"fp{i}")).status_code

    with ThreadPoolExecutor(8) as pool:
        results = dict(pool.map(send, range(40)))
    assert all(code == (503 if i % 5 == 0 else 200) for i, code in results.items())
    assert server.scalar("SELECT count(*) FROM activities") == 64
    assert server.scalar("SELECT count(*) FROM activities WHERE event_name = 'boom'") == 0


def test_concurrent_retries_store_each_event_once(server):
    from concurrent.futures import ThreadPoolExecutor

    app = server.create_app(rateLimitPerMinute=10_000)
    body = batch(*[ev(id=f"same{j}") for j in range(10)])
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: server.track(app.public, body).json(), range(16)))
    assert sum(r["accepted"] for r in results) == 10
    assert sum(r["duplicates"] for r in results) == 150
    assert server.scalar("SELECT count(*) FROM activities") == 10


def test_health(server):
    r = server.client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "up"}  # nothing more without a key


def test_openapi_documents_track(server):
    spec = server.client.get("/openapi.json").json()
    assert "/api/v1/track" in spec["paths"]


