"""A lead fixture for the console's lead views: events and credit operations mixed, with
known gaps and sessions, on a live server; plus `Api`, the secret-key HTTP reader the
tests use to hand widgets the server's own answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import Keys, LiveServer

from growthkit.core.clock import now_ms

S, MIN, H, DAY = 1000, 60_000, 3_600_000, 86_400_000


@dataclass
class Api:
    live: LiveServer
    keys: Keys

    def get(self, path: str, **params: Any) -> dict:
        r = self.live.client.get(f"/api/v1{path}", params=params,
                                 headers={"Authorization": f"Bearer {self.keys.secret}"})
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: Any, **params: Any) -> dict:
        r = self.live.client.post(f"/api/v1{path}", json=body, params=params,
                                  headers={"Authorization": f"Bearer {self.keys.secret}"})
        assert r.status_code == 200, r.text
        return r.json()

    def patch(self, path: str, body: Any) -> dict:
        r = self.live.client.patch(f"/api/v1{path}", json=body,
                                   headers={"Authorization": f"Bearer {self.keys.secret}"})
        assert r.status_code == 200, r.text
        return r.json()

    def track(self, fingerprint: str, events: list[tuple], session: str | None = None,
              url: str | None = None) -> None:
        body: dict[str, Any] = {"fingerprint": fingerprint, "events": [
            {"eventName": e[0], "timestamp": e[1], **({"properties": e[2]} if len(e) > 2 else {})}
            for e in events]}
        if session:
            body["sessionId"] = session
        if url:
            body["context"] = {"url": url}
        r = self.live.track(self.keys.public, body)
        assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


@dataclass
class Story:
    api: Api
    fingerprint: str
    t1: int  # signup
    t2: int  # page view 28 s later
    credits: list[int]  # the ledger's times: opening (0), purchase (+10), create-project (-5)
    t3: int  # project_created, 35 min after the last credit operation


def lead_story(live: LiveServer) -> Story:
    """fp_ada (ada@example.com): signup, a page view 28 s later; three days on, a ledger
    opened with 0 credits, +10 purchase and -5 create-project; 35 min later a project.
    Two other leads (bob, carol) to search among."""
    keys = live.create_app("Shop", rateLimitPerMinute=100_000, initialCredits=0)
    api = Api(live, keys)
    t1 = (now_ms() - 3 * DAY - 2 * H) // 1000 * 1000
    t2 = t1 + 28 * S
    api.track("fp_ada", [("signup_completed", t1, {"method": "email"}),
                         ("page_viewed", t2, {"path": "/pricing"})],
              session="s_first", url="https://app.example/pricing")
    api.track("fp_bob", [("page_viewed", t1 + 5 * MIN)], session="s_bob")
    api.track("fp_carol", [("page_viewed", t1 + 6 * MIN), ("page_viewed", t1 + 7 * MIN)])
    api.post("/credits", {"fingerprint": "fp_ada", "amount": 10, "action": "purchase"})
    api.post("/credits", {"fingerprint": "fp_ada", "amount": -5, "action": "create-project"})
    credits = [row.timestamp for row in live.rows(
        "SELECT timestamp FROM credit_operations WHERE fingerprint_id = 'fp_ada' ORDER BY seq")]
    t3 = credits[-1] + 35 * MIN
    api.track("fp_ada", [("project_created", t3)], session="s_second",
              url="https://app.example/projects")
    api.patch("/leads/fp_ada", {"email": "ada@example.com", "name": "Ada Lovelace"})
    api.patch("/leads/fp_bob", {"email": "bob@example.org", "name": "Bob"})
    return Story(api, "fp_ada", t1, t2, credits, t3)
