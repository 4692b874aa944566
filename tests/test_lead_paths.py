"""Lead endpoints reach every fingerprint the ingest accepts: `/`, `%`, spaces, any script,
and fingerprints that end like a sub-resource (`x/activities`)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

FINGERPRINTS = ["a/b", "a/b/activities", "x/timeline", "/leading/slash/", "100% sure",
                "fp with  spaces", "Ünïcødé/日本語", "a%2Fb", "?q=1#frag", "..", "a;b=c"]


def _url(fp: str, suffix: str = "") -> str:
    encoded = quote(fp, safe="")
    if encoded in (".", ".."):  # URL libraries remove dot segments: send them as %2E
        encoded = encoded.replace(".", "%2E")
    return f"/api/v1/leads/{encoded}{suffix}"


@pytest.mark.parametrize("fp", FINGERPRINTS)
def test_every_lead_endpoint_reaches_the_fingerprint(server, fp):
    app = server.create_app()
    auth = {"Authorization": f"Bearer {app.secret}"}
    r = server.track(app.public, {"fingerprint": fp, "events": [{"eventName": "seen"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text

    details = server.client.get(_url(fp), headers=auth)
    assert details.status_code == 200, details.text
    assert details.json()["fingerprint"] == fp and details.json()["events"] == 1

    patched = server.client.patch(_url(fp), json={"name": "Ada"}, headers=auth)
    assert patched.status_code == 200 and patched.json()["fingerprint"] == fp
    assert server.client.get(_url(fp), headers=auth).json()["name"] == "Ada"

    acts = server.client.get(_url(fp, "/activities"), headers=auth)
    assert acts.status_code == 200
    assert [a["fingerprintId"] for a in acts.json()["data"]] == [fp]

    credit = server.client.post("/api/v1/credits", headers=auth,
                                json={"fingerprint": fp, "amount": 7, "action": "bonus"})
    assert credit.status_code == 200, credit.text
    credits = server.client.get(_url(fp, "/credits"), headers=auth)
    assert credits.status_code == 200 and credits.json()["balance"] == 7

    timeline = server.client.get(_url(fp, "/timeline"), headers=auth)
    assert timeline.status_code == 200
    items = {(i["kind"], i["name"]) for i in timeline.json()["data"]}
    assert {("event", "seen"), ("credit", "bonus")} <= items, items

    sessions = server.client.get(_url(fp, "/sessions"), headers=auth)
    assert sessions.status_code == 200 and len(sessions.json()["data"]) == 1


def test_literal_slashes_work_and_sub_resources_win(server):
    app = server.create_app()
    auth = {"Authorization": f"Bearer {app.secret}"}
    for fp in ("a/b", "a/b/activities"):
        server.track(app.public, {"fingerprint": fp, "events": [{"eventName": "seen"}]})
    r = server.client.get("/api/v1/leads/a/b", headers=auth)
    assert r.status_code == 200 and r.json()["fingerprint"] == "a/b"
    # Unencoded, a trailing /activities is the sub-resource; encoded, part of the lead.
    r = server.client.get("/api/v1/leads/a/b/activities", headers=auth)
    assert [a["fingerprintId"] for a in r.json()["data"]] == ["a/b"]
    r = server.client.get("/api/v1/leads/a%2Fb%2Factivities", headers=auth)
    assert r.json()["fingerprint"] == "a/b/activities"


def test_bad_fingerprint_urls_are_named(server):
    app = server.create_app()
    auth = {"Authorization": f"Bearer {app.secret}"}
    r = server.client.get("/api/v1/leads/%FF%FE", headers=auth)
    assert r.status_code == 400 and "fingerprint" in r.json()["error"]
    r = server.client.get(_url("x" * 129), headers=auth)
    assert r.status_code == 422 and "fingerprint" in r.json()["error"]
    r = server.client.get(_url("never-seen/lead"), headers=auth)
    assert r.status_code == 404 and r.json()["status"] == 404
