"""Credits through HTTP: initial grant, earn/spend/adjust, idempotency, completed actions,
409/404 answers, concurrent spends that must never overdraw, and key rules."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from growthkit.core.clock import now_ms

COSTS = {"export_pdf": 3, "free_preview": 0}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def credit(server, key: str, **body) -> httpx.Response:
    return server.client.post("/api/v1/credits", json=body, headers=auth(key))


def complete(server, key: str | None, body: dict, **kwargs) -> httpx.Response:
    headers = {**(auth(key) if key else {}), **kwargs.pop("headers", {})}
    return server.client.post("/api/v1/actions/complete", json=body, headers=headers, **kwargs)


def history(server, key: str, fp: str, **params) -> dict:
    r = server.client.get(f"/api/v1/leads/{fp}/credits", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def app(server):
    return server.create_app(initialCredits=10, actionCosts=COSTS)


def test_initial_grant_then_earn_spend_adjust(server, app):
    r = credit(server, app.secret, fingerprint="fp_1", amount=5, action="purchase")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["balance"] == 15
    op = body["operation"]
    assert op["fingerprint"] == "fp_1" and op["action"] == "purchase" and op["amount"] == 5
    assert op["balanceAfter"] == 15 and op["reason"] is None and op["timestamp"].endswith("Z")
    assert op["id"]

    r = credit(server, app.secret, fingerprint="fp_1", amount=-12, action="export")
    assert r.json()["balance"] == 3
    r = credit(server, app.secret, fingerprint="fp_1", amount=4, action="adjust",
               reason="goodwill after outage")
    assert r.json()["balance"] == 7

    ledger = history(server, app.secret, "fp_1", order="asc")
    assert ledger["balance"] == 7 and ledger["nextCursor"] is None
    assert [(o["action"], o["amount"], o["balanceAfter"]) for o in ledger["data"]] == [
        ("initial_credits", 10, 10), ("purchase", 5, 15), ("export", -12, 3),
        ("adjust", 4, 7)]
    assert ledger["data"][-1]["reason"] == "goodwill after outage"
    newest_first = history(server, app.secret, "fp_1")["data"]
    assert [o["id"] for o in newest_first] == [o["id"] for o in reversed(ledger["data"])]
    # The ledger as stored: one row per operation, balance_after chained.
    rows = server.rows("SELECT amount, balance_after FROM credit_operations ORDER BY seq")
    assert [(r.amount, r.balance_after) for r in rows] == [(10, 10), (5, 15), (-12, 3), (4, 7)]


def test_credit_for_unknown_fingerprint_creates_the_lead(server, app):
    before = now_ms()
    assert credit(server, app.secret, fingerprint="fp_new", amount=1,
                  action="bonus").status_code == 200
    leads = server.client.get("/api/v1/leads", headers=auth(app.secret)).json()["data"]
    assert [(lead["fingerprint"], lead["events"]) for lead in leads] == [("fp_new", 0)]
    row = server.rows("SELECT first_seen, last_seen FROM leads")[0]
    assert row.first_seen == row.last_seen and before <= row.first_seen <= now_ms()
    details = server.client.get("/api/v1/leads/fp_new", headers=auth(app.secret)).json()
    assert details["creditBalance"] == 11


def test_balance_before_any_operation_is_the_starting_grant(server, app):
    server.track(app.public, {"fingerprint": "fp_1", "events": [{"eventName": "x"}]})
    ledger = history(server, app.secret, "fp_1")
    assert ledger == {"balance": 10, "data": [], "nextCursor": None}
    assert server.scalar("SELECT count(*) FROM credit_operations") == 0  # reading writes nothing


def test_spend_over_balance_is_409_and_writes_nothing(server, app):
    r = credit(server, app.secret, fingerprint="fp_1", amount=-11, action="export")
    assert r.status_code == 409
    assert "not enough credits" in r.json()["error"] and "10" in r.json()["error"]
    assert server.scalar("SELECT count(*) FROM credit_operations") == 0
    assert server.scalar("SELECT count(*) FROM leads") == 0
    assert credit(server, app.secret, fingerprint="fp_1", amount=-10,
                  action="export").json()["balance"] == 0
    r = credit(server, app.secret, fingerprint="fp_1", amount=-1, action="export")
    assert r.status_code == 409
    assert history(server, app.secret, "fp_1")["balance"] == 0


def test_same_operation_id_never_applies_twice(server, app):
    first = credit(server, app.secret, fingerprint="fp_1", amount=-4, action="export",
                   id="op-42")
    assert first.status_code == 200 and first.json()["operation"]["id"] == "op-42"
    credit(server, app.secret, fingerprint="fp_1", amount=2, action="bonus")
    again = credit(server, app.secret, fingerprint="fp_1", amount=-4, action="export",
                   id="op-42")
    assert again.status_code == 200
    assert again.json() == first.json()  # the original operation and balance
    assert again.headers["Idempotent-Replayed"] == "true"
    assert history(server, app.secret, "fp_1")["balance"] == 8
    assert server.scalar("SELECT count(*) FROM credit_operations WHERE id = 'op-42'") == 1
    # The same id for something else is a conflict, not a silent replay.
    r = credit(server, app.secret, fingerprint="fp_1", amount=-5, action="export", id="op-42")
    assert r.status_code == 409 and "op-42" in r.json()["error"]
    r = credit(server, app.secret, fingerprint="fp_2", amount=-4, action="export", id="op-42")
    assert r.status_code == 409
    assert server.scalar("SELECT count(*) FROM leads WHERE fingerprint = 'fp_2'") == 0


def test_complete_action_spends_the_configured_cost(server, app):
    r = complete(server, app.public, {"fingerprint": "fp_1", "action": "export_pdf"})
    assert r.status_code == 200, r.text
    assert r.json()["balance"] == 7
    assert r.json()["operation"]["amount"] == -3
    assert r.json()["operation"]["action"] == "export_pdf"
    # The key may also come as ?key= or in the body (as for /track).
    r = complete(server, None, {"fingerprint": "fp_1", "action": "export_pdf"},
                 params={"key": app.public})
    assert r.json()["balance"] == 4
    r = complete(server, None, {"fingerprint": "fp_1", "action": "free_preview",
                                "key": app.public})
    assert r.status_code == 200 and r.json()["balance"] == 4
    assert r.json()["operation"]["amount"] == 0
    r = complete(server, app.public, {"fingerprint": "fp_1", "action": "export_pdf",
                                      "id": "c-1"})
    assert r.json()["balance"] == 1
    assert complete(server, app.public, {"fingerprint": "fp_1", "action": "export_pdf",
                                         "id": "c-1"}).json() == r.json()
    r = complete(server, app.public, {"fingerprint": "fp_1", "action": "export_pdf"})
    assert r.status_code == 409 and "not enough credits" in r.json()["error"]
    r = complete(server, app.public, {"fingerprint": "fp_1", "action": "teleport"})
    assert r.status_code == 404 and "teleport" in r.json()["error"]
    assert history(server, app.secret, "fp_1")["balance"] == 1
    assert server.scalar("SELECT count(*) FROM credit_operations") == 5


def test_action_costs_follow_app_settings(server, app):
    r = server.client.patch("/api/v1/app", headers=auth(app.secret),
                            json={"actionCosts": {"export_pdf": 6}, "initialCredits": 50})
    assert r.status_code == 200, r.text
    r = complete(server, app.public, {"fingerprint": "fp_9", "action": "export_pdf"})
    assert r.json()["balance"] == 44
    assert complete(server, app.public, {"fingerprint": "fp_9",
                                         "action": "free_preview"}).status_code == 404


@pytest.mark.parametrize("settings, field", [
    ({"initialCredits": -1}, "initialCredits"), ({"initialCredits": 2.5}, "initialCredits"),
    ({"initialCredits": True}, "initialCredits"), ({"actionCosts": {"x": -1}}, "actionCosts"),
    ({"actionCosts": ["x"]}, "actionCosts"), ({"actionCosts": {"": 1}}, "actionCosts"),
])
def test_bad_credit_settings(server, app, settings, field):
    r = server.client.patch("/api/v1/app", headers=auth(app.secret), json=settings)
    assert r.status_code == 422 and field in r.json()["error"], r.text


@pytest.mark.parametrize("body, field", [
    ({"fingerprint": "fp_1", "amount": 0, "action": "x"}, "amount"),
    ({"fingerprint": "fp_1", "amount": "5", "action": "x"}, "amount"),
    ({"fingerprint": "fp_1", "amount": 1.5, "action": "x"}, "amount"),
    ({"fingerprint": "fp_1", "amount": 10**10, "action": "x"}, "amount"),
    ({"amount": 1, "action": "x"}, "fingerprint"),
    ({"fingerprint": "", "amount": 1, "action": "x"}, "fingerprint"),
    ({"fingerprint": "fp_1", "amount": 1, "action": ""}, "action"),
    ({"fingerprint": "fp_1", "amount": 1}, "action"),
    ({"fingerprint": "fp_1", "amount": 1, "action": "initial_credits"}, "initial_credits"),
    ({"fingerprint": "fp_1", "amount": -1, "action": "adjust"}, "reason"),
    ({"fingerprint": "fp_1", "amount": 1, "action": "x", "id": "i" * 65}, "id"),
    ({"fingerprint": "fp_1", "amount": 1, "action": "x", "bonus": 1}, "bonus"),
])
def test_bad_credit_operations(server, app, body, field):
    r = server.client.post("/api/v1/credits", json=body, headers=auth(app.secret))
    assert r.status_code == 422 and field in r.json()["error"], r.text
    assert server.scalar("SELECT count(*) FROM credit_operations") == 0


def test_keys(server, app):
    body = {"fingerprint": "fp_1", "amount": 1, "action": "x"}
    assert credit(server, app.public, **body).status_code == 403
    assert server.client.post("/api/v1/credits", json=body).status_code == 401
    assert credit(server, "sk_nope", **body).status_code == 401
    r = server.client.get("/api/v1/leads/fp_1/credits", headers=auth(app.public))
    assert r.status_code == 403
    action = {"fingerprint": "fp_1", "action": "export_pdf"}
    assert complete(server, app.secret, action).status_code == 403  # public key endpoint
    assert complete(server, None, action).status_code == 401
    assert complete(server, "pk_nope", action).status_code == 401
    assert server.scalar("SELECT count(*) FROM credit_operations") == 0


def test_complete_action_respects_allowed_origins(server):
    app = server.create_app(initialCredits=5, actionCosts=COSTS,
                            allowedOrigins=["https://app.example"])
    body = {"fingerprint": "fp_1", "action": "export_pdf"}
    r = complete(server, app.public, body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "origin" in r.json()["error"]
    r = complete(server, app.public, body, headers={"Origin": "https://app.example"})
    assert r.status_code == 200 and r.json()["balance"] == 2


def test_ledgers_are_per_app(server, app):
    other = server.create_app("Other", initialCredits=100, actionCosts={"export_pdf": 1})
    credit(server, app.secret, fingerprint="fp_1", amount=-10, action="export")
    r = complete(server, other.public, {"fingerprint": "fp_1", "action": "export_pdf"})
    assert r.json()["balance"] == 99
    assert history(server, app.secret, "fp_1")["balance"] == 0
    assert [o["amount"] for o in history(server, other.secret, "fp_1")["data"]] == [-1, 100]
    # Operation ids are scoped per app: app B may reuse app A's id.
    credit(server, app.secret, fingerprint="fp_1", amount=1, action="x", id="shared")
    r = credit(server, other.secret, fingerprint="fp_1", amount=1, action="x", id="shared")
    assert r.status_code == 200 and r.json()["balance"] == 100
    assert "Idempotent-Replayed" not in r.headers


def test_history_paging(server, app):
    for i in range(6):
        credit(server, app.secret, fingerprint="fp_1", amount=i + 1, action="earn")
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = history(server, app.secret, "fp_1", **params)
        assert page["balance"] == 31
        seen += [o["balanceAfter"] for o in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [31, 25, 20, 16, 13, 11, 10]
    r = server.client.get("/api/v1/leads/fp_1/credits", params={"cursor": "nope"},
                          headers=auth(app.secret))
    assert r.status_code == 400


def test_concurrent_spends_never_overdraw(live_server):
    """25 spends of 1 race on a new lead that starts with 10 credits: exactly 10 succeed."""
    app = live_server.create_app(initialCredits=10, actionCosts={"use": 1})
    barrier = threading.Barrier(25)

    def spend(i: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
            barrier.wait()
            if i % 2:
                return client.post("/api/v1/credits", headers=auth(app.secret),
                                   json={"fingerprint": "fp_race", "amount": -1,
                                         "action": "use"})
            return client.post("/api/v1/actions/complete", headers=auth(app.public),
                               json={"fingerprint": "fp_race", "action": "use"})

    with ThreadPoolExecutor(25) as pool:
        answers = list(pool.map(spend, range(25)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 10 + [409] * 15, [r.text for r in answers if r.status_code
                                                  not in (200, 409)]
    balances = sorted(r.json()["balance"] for r in answers if r.status_code == 200)
    assert balances == list(range(10))
    rows = live_server.rows("SELECT action, amount, balance_after FROM credit_operations "
                            "ORDER BY seq")
    assert [(r.action, r.amount) for r in rows] == [("initial_credits", 10)] + [("use", -1)] * 10
    assert [r.balance_after for r in rows] == [10, *range(9, -1, -1)]
    assert live_server.scalar("SELECT count(*) FROM leads WHERE fingerprint = 'fp_race'") == 1
