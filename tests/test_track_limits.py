"""POST /api/v1/track: values both stores can hold (depth, NUL, exact numbers), body formats
(Content-Type, gzip), unknown-field warnings and the error fields of 422/429 answers."""

from __future__ import annotations

import gzip
import json
import time

import httpx
import pytest

from growthkit.core.clock import now_ms


def batch(*events, fingerprint="fp_1", **extra):
    return {"fingerprint": fingerprint, "events": list(events), **extra}


def ev(name="page_viewed", **fields):
    return {"eventName": name, **fields}


def nested(depth: int, leaf=1) -> dict:
    """{"a": {"a": … leaf}} with `depth` objects."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def stored(server, column: str, event_id: str):
    value = server.scalar(f"SELECT {column} FROM activities WHERE id = :i", i=event_id)
    return value if not isinstance(value, str) else json.loads(value)


def test_properties_255_deep_do_not_stop_ingest(live_server):
    """Reproducer: this body once killed the group writer; every later /track hung."""
    app = live_server.create_app()
    body = json.dumps(batch(ev(id="deep", properties=nested(255))))
    headers = {"Authorization": f"Bearer {app.public}", "Content-Type": "application/json"}
    with httpx.Client(base_url=live_server.base_url, timeout=10) as client:
        r = client.post("/api/v1/track", content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert "properties nests deeper than 32 levels" in r.json()["rejected"][0]["error"]
        for i in range(3):
            r = client.post("/api/v1/track", json=batch(ev(id=f"after{i}")), headers=headers)
            assert r.status_code == 200 and r.json()["accepted"] == 1
    assert sorted(x.id for x in live_server.rows("SELECT id FROM activities")) == [
        "after0", "after1", "after2"]


def test_depth_32_is_stored_33_is_rejected_naming_the_field(server):
    app = server.create_app()
    r = server.track(app.public, batch(ev(id="ok", properties=nested(32)),
                                       ev(id="props", properties=nested(33)),
                                       ev(id="ctx", context={"x": nested(32)}),
                                       # properties, the list, 30 objects: 32 levels
                                       ev(id="list", properties={"l": [[[]]], "m": [nested(30)]})))
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 2, body
    errors = {x["index"]: x["error"] for x in body["rejected"]}
    assert errors == {1: "properties nests deeper than 32 levels",
                      2: "context nests deeper than 32 levels"}
    assert stored(server, "properties", "ok") == nested(32)


def test_nul_characters_are_rejected_per_event_on_both_stores(server):
    """Reproducer: on PostgreSQL a NUL made the whole batch a 503, forever."""
    app = server.create_app()
    r = server.track(app.public, batch(
        ev(id="good1", properties={"plan": "pro"}),
        ev(id="k", properties={"a\u0000b": 1}),
        ev(id="v", properties={"nested": {"list": ["x\u0000"]}}),
        ev(id="c", context={"title": "T\u0000"}),
        ev(id="bad\u0000id"),
        ev(id="fp", fingerprint="f\u0000p"),
        ev(id="sid", sessionId="s\u0000"),
        ev(id="good2"),
    ))
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 2, body
    errors = {x["index"]: x["error"] for x in body["rejected"]}
    assert "properties" in errors[1] and "'a\\x00b'" in errors[1] and "NUL" in errors[1]
    assert errors[2].startswith("properties.nested.list[0] must not contain the NUL")
    assert errors[3].startswith("context.title must not contain the NUL")
    assert errors[4].startswith("id must not contain the NUL")
    assert errors[5].startswith("fingerprint must not contain the NUL")
    assert errors[6].startswith("sessionId must not contain the NUL")
    assert sorted(x.id for x in server.rows("SELECT id FROM activities")) == ["good1", "good2"]
    # The retry the tracker makes is not blocked: the good events are duplicates now.
    again = server.track(app.public, batch(ev(id="good1"), ev(id="good2"))).json()
    assert again == {"accepted": 0, "duplicates": 2, "rejected": []}


def test_nul_in_batch_fields_is_a_422_naming_the_field(server):
    app = server.create_app()
    for body, field in ((batch(ev(), context={"url": "\u0000"}), "context.url"),
                        (batch(ev(), fingerprint="a\u0000"), "fingerprint"),
                        (batch(ev(), sessionId="\u0000"), "sessionId")):
        r = server.track(app.public, body)
        assert r.status_code == 422 and r.json()["error"].startswith(field), r.text
        assert r.json()["status"] == 422
    r = server.client.post("/api/v1/track?key=pk_%00", json=batch(ev()))
    assert r.status_code == 401 and r.json()["error"] == "unknown app key"
    assert server.scalar("SELECT count(*) FROM activities") == 0


def test_integers_beyond_2_53_are_rejected_naming_the_field(server):
    app = server.create_app()
    raw = ('{"fingerprint":"fp_1","events":['
           '{"id":"max","eventName":"e","properties":{"n":9007199254740991,"m":-9007199254740991}},'
           '{"id":"big","eventName":"e","properties":{"n":9007199254740992}},'
           '{"id":"huge","eventName":"e","properties":{"deep":{"n":100000000000000000000}}},'
           '{"id":"neg","eventName":"e","context":{"n":-9007199254740992}},'
           '{"id":"exp","eventName":"e","properties":{"f":1e300}},'
           '{"id":"frac","eventName":"e","properties":{"f":0.1,"g":12345.678}}]}')
    r = server.client.post("/api/v1/track", content=raw, headers={
        "Authorization": f"Bearer {app.public}", "Content-Type": "application/json"})
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 2, body
    errors = {x["index"]: x["error"] for x in body["rejected"]}
    assert errors[1].startswith("properties.n: 9007199254740992 is beyond ±9007199254740991")
    assert errors[2].startswith("properties.deep.n: ")
    assert errors[3].startswith("context.n: ")
    assert errors[4].startswith("properties.f: ")
    assert stored(server, "properties", "max") == {"n": 2**53 - 1, "m": -(2**53 - 1)}
    assert stored(server, "properties", "frac") == {"f": 0.1, "g": 12345.678}


def test_big_batches_are_checked_too(server):
    """Bodies with many brackets take the full walk; the rule is the same."""
    app = server.create_app(rateLimitPerMinute=1000)
    events = [ev(id=f"e{i}", properties={"l": [1, [2]], "o": {"p": {}}}) for i in range(60)]
    events[41]["properties"]["o"] = nested(40)
    r = server.track(app.public, batch(*events))
    assert r.json()["accepted"] == 59
    assert r.json()["rejected"] == [{"index": 41,
                                     "error": "properties nests deeper than 32 levels"}]


def test_lead_traits_too_deep_or_with_nul_are_422_not_500(server):
    app = server.create_app()
    server.track(app.public, batch(ev(id="x")))
    headers = {"Authorization": f"Bearer {app.secret}"}
    for changes, field in (({"traits": nested(255)}, "traits nests deeper than 32"),
                           ({"traits": {"plan": "p\u0000"}}, "traits.plan must not contain"),
                           ({"traits": {"n": 2**60}}, "traits.n: "),
                           ({"name": "A\u0000"}, "name must not contain")):
        r = server.client.patch("/api/v1/leads/fp_1", json=changes, headers=headers)
        assert r.status_code == 422 and r.json()["error"].startswith(field), r.text
    r = server.client.patch("/api/v1/leads/fp_1", json={"traits": nested(32)}, headers=headers)
    assert r.status_code == 200 and r.json()["traits"] == nested(32)


def test_timestamps_in_epoch_seconds_get_a_hint(server):
    app = server.create_app()
    seconds = int(time.time())
    r = server.track(app.public, batch(ev(id="s", timestamp=seconds), ev(id="ms")))
    body = r.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["error"] == (
        f"timestamp {seconds} looks like epoch seconds: timestamp must be epoch milliseconds "
        f"(seconds × 1000, e.g. {seconds * 1000})")
    r = server.track(app.public, batch(ev(), sentAt=seconds))
    assert r.status_code == 422 and "sentAt" in r.json()["error"]
    assert "epoch seconds" in r.json()["error"]


@pytest.mark.parametrize("content_type,status", [
    ("application/json", 200), ("application/json; charset=utf-8", 200),
    ("text/plain;charset=UTF-8", 200), ("TEXT/PLAIN", 200), (None, 200),
    ("application/xml", 415), ("application/x-www-form-urlencoded", 415),
    ("application/json; charset=latin-1", 415)])
def test_content_types(server, content_type, status):
    app = server.create_app()
    headers = {"Authorization": f"Bearer {app.public}"}
    if content_type:
        headers["Content-Type"] = content_type
    r = server.client.post("/api/v1/track", content=json.dumps(batch(ev())), headers=headers)
    assert r.status_code == status, r.text
    if status == 415:
        named = content_type.split(";")[-1].split("=")[-1] if "charset" in content_type \
            else content_type
        assert named in r.json()["error"] and r.json()["status"] == 415
    assert server.scalar("SELECT count(*) FROM activities") == (1 if status == 200 else 0)


def test_gzip_bodies_are_inflated_within_the_limit(server):
    app = server.create_app()
    headers = {"Authorization": f"Bearer {app.public}", "Content-Type": "application/json",
               "Content-Encoding": "gzip"}
    r = server.client.post("/api/v1/track", headers=headers,
                           content=gzip.compress(json.dumps(batch(ev(id="gz"))).encode()))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    bomb = gzip.compress(json.dumps(batch(ev(properties={"x": " " * 600_000}))).encode())
    assert len(bomb) < 10_000
    r = server.client.post("/api/v1/track", headers=headers, content=bomb)
    assert r.status_code == 413 and "inflates to over the limit of 524288" in r.json()["error"]
    r = server.client.post("/api/v1/track", headers=headers, content=b"not gzip at all")
    assert r.status_code == 400 and "not valid gzip" in r.json()["error"]
    r = server.client.post("/api/v1/track", headers={**headers, "Content-Encoding": "br"},
                           content=b"{}")
    assert r.status_code == 415 and "Content-Encoding br" in r.json()["error"]
    assert [x.id for x in server.rows("SELECT id FROM activities")] == ["gz"]


def test_unknown_fields_are_stored_without_but_named_in_warnings(server):
    app = server.create_app()
    r = server.track(app.public, {"fingerprint": "fp_1", "userId": "u1", "events": [
        {"id": "p", "eventName": "e", "props": {"a": 1}},
        {"id": "q", "eventName": "e", "properties": {"b": 2}, "event_name": "x"}]})
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 2
    assert body["warnings"] == [
        {"index": None, "field": "userId",
         "warning": "userId: unknown field, did you mean fingerprint?"},
        {"index": 0, "field": "props", "warning": "props: unknown field, did you mean properties?"},
        {"index": 1, "field": "event_name",
         "warning": "event_name: unknown field, did you mean eventName?"}]
    assert stored(server, "properties", "p") is None
    assert stored(server, "properties", "q") == {"b": 2}
    # Without unknown fields there is no warnings key.
    assert "warnings" not in server.track(app.public, batch(ev())).json()


def test_422_and_429_answers_carry_error_and_status(server):
    app = server.create_app(rateLimitPerMinute=1)
    r = server.track(app.public, batch(ev("bad name!")))
    assert r.status_code == 422
    assert r.json() == {"accepted": 0, "duplicates": 0, "rejected": [
        {"index": 0, "error": r.json()["rejected"][0]["error"]}], "status": 422,
        "error": "no event was accepted (1 rejected); first: events[0]: "
                 + r.json()["rejected"][0]["error"]}
    r = server.track(app.public, {"fingerprint": "f", "events": []})
    assert r.status_code == 422 and r.json()["status"] == 422 and "1-100" in r.json()["error"]
    assert r.json()["accepted"] == 0 and r.json()["rejected"] == []
    assert server.track(app.public, batch(ev())).status_code == 200
    r = server.track(app.public, batch(ev()))
    body = r.json()
    assert r.status_code == 429 and body["status"] == 429 and body["accepted"] == 0
    assert body["error"].startswith("rate limit: over 1 events per minute for fingerprint fp_1")
    assert f"retry after {r.headers['Retry-After']} s" in body["error"]


def test_openapi_states_the_track_body_and_answer(server):
    spec = server.client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/track"]["post"]
    content = op["requestBody"]["content"]
    body = content["application/json"]["schema"]
    assert body["required"] == ["events"]
    event = body["properties"]["events"]["items"]
    assert event["required"] == ["eventName"] and "pattern" in event["properties"]["eventName"]
    assert body["properties"]["events"]["maxItems"] == 100
    assert "32 levels" in event["properties"]["properties"]["description"]
    assert content["text/plain"]["schema"]["type"] == "string"
    answer = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    model = spec["components"]["schemas"][answer.rsplit("/", 1)[-1]]
    assert {"accepted", "duplicates", "rejected", "warnings"} <= set(model["properties"])
    assert {"415", "413", "429", "503"} <= set(op["responses"])


def test_future_checks_still_hold_for_millisecond_times(server):
    app = server.create_app()
    r = server.track(app.public, batch(ev(timestamp=now_ms() + 2 * 3_600_000)))
    assert r.status_code == 422 and "1 hour in the future" in r.json()["rejected"][0]["error"]
