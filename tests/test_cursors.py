"""Page cursors across every paged listing: each continues only the listing (and order) it
came from; any other listing's cursor, garbage or a forged one answers 400, never 500."""

from __future__ import annotations

import base64
import json

import pytest

from growthkit.core.clock import now_ms

# name: (method, path, query params, JSON body) of a first page of one item.
LISTINGS = {
    "activities desc": ("get", "/api/v1/activities", {"limit": 1}, None),
    "activities asc": ("get", "/api/v1/activities", {"limit": 1, "order": "asc"}, None),
    "leads": ("get", "/api/v1/leads", {"limit": 1}, None),
    "leads by events": ("get", "/api/v1/leads", {"limit": 1, "sort": "events"}, None),
    "credits": ("get", "/api/v1/leads/fp_a/credits", {"limit": 1}, None),
    "timeline": ("get", "/api/v1/leads/fp_a/timeline", {"limit": 1}, None),
    "timeline desc": ("get", "/api/v1/leads/fp_a/timeline", {"limit": 1, "order": "desc"}, None),
    "segment members": ("get", "/api/v1/analytics/segments/active/members", {"limit": 1}, None),
    "segment query": ("post", "/api/v1/analytics/segments/query", {"limit": 1},
                      {"did": [{"eventName": "view"}]}),
}


def forged(kind: str, values: list) -> str:
    raw = json.dumps({"k": kind, "v": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def paged(server):
    """An app where every listing has more than one item: (key, {listing: its nextCursor})."""
    app = server.create_app(rateLimitPerMinute=10_000, initialCredits=5)
    t = now_ms()
    for fp in ("fp_a", "fp_b"):
        r = server.track(app.public, {"fingerprint": fp, "events": [
            {"eventName": "view", "timestamp": t - i * 60_000} for i in range(3)]})
        assert r.json()["accepted"] == 3, r.text
    headers = {"Authorization": f"Bearer {app.secret}"}
    r = server.client.post("/api/v1/credits", headers=headers,
                           json={"fingerprint": "fp_a", "amount": 2, "action": "earn"})
    assert r.status_code == 200, r.text
    cursors = {}
    for name, (method, path, params, body) in LISTINGS.items():
        r = server.client.request(method, path, params=params, json=body, headers=headers)
        assert r.status_code == 200, (name, r.text)
        assert r.json()["nextCursor"], name
        cursors[name] = r.json()["nextCursor"]
    return headers, cursors


def fetch(server, headers, name: str, cursor: str):
    method, path, params, body = LISTINGS[name]
    return server.client.request(method, path, params={**params, "cursor": cursor},
                                 json=body, headers=headers)


# Segment member pages of any rule share one keyset (lead id as of a pinned time).
SAME_WALK = {"segment members": "segments", "segment query": "segments"}


def test_a_cursor_continues_only_its_own_listing(server, paged):
    headers, cursors = paged
    for name in LISTINGS:
        for origin, cursor in cursors.items():
            r = fetch(server, headers, name, cursor)
            if SAME_WALK.get(origin, origin) == SAME_WALK.get(name, name):
                assert r.status_code == 200, (name, r.text)
            else:
                assert r.status_code == 400, (name, origin, r.text)
                assert "cursor is not valid" in r.json()["error"], (name, origin)


@pytest.mark.parametrize("cursor", [
    "not-a-cursor!",
    "%%%",
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),          # not UTF-8
    base64.urlsafe_b64encode(b"[1,2]").decode(),             # JSON, not a cursor
    forged("activities:desc", [2**63, 1]),                   # beyond BIGINT
    forged("activities:desc", [1.5, 1]),                     # not integers
    forged("activities:desc", [True, 1]),
    forged("activities:desc", [1]),                          # wrong size
])
def test_garbage_and_forged_cursors_answer_400(server, paged, cursor):
    headers, _ = paged
    for name in LISTINGS:
        r = fetch(server, headers, name, cursor)
        assert r.status_code == 400, (name, r.text)
        assert "cursor is not valid" in r.json()["error"], name


def test_a_forged_cursor_of_the_right_kind_is_only_a_position(server, paged):
    """The format is not secret: a well-formed cursor is a keyset position, nothing more."""
    headers, _ = paged
    r = fetch(server, headers, "activities desc", forged("activities:desc", [now_ms() + 1, 0]))
    assert r.status_code == 200 and len(r.json()["data"]) == 1
