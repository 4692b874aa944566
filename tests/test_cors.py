"""CORS: public-key paths answer any site; the secret-key API only origins an app names."""

from __future__ import annotations

import pytest

EVIL = "https://evil.example"
CONSOLE = "https://console.example"


def _preflight(server, path: str, origin: str, method: str = "GET"):
    return server.client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})


@pytest.mark.parametrize("path", ["/api/v1/activities", "/api/v1/app", "/api/v1/stats",
                                  "/api/v1/leads/fp_1", "/api/v1/export"])
def test_secret_api_sends_no_cors_to_unnamed_origins(server, path):
    app = server.create_app()
    pre = _preflight(server, path, EVIL)
    assert pre.status_code == 403 and pre.json()["status"] == 403
    assert EVIL in pre.json()["error"] and "allowedOrigins" in pre.json()["error"]
    assert not any(h.startswith("access-control-") for h in pre.headers)
    r = server.client.get(path, headers={"Origin": EVIL,
                                         "Authorization": f"Bearer {app.secret}"})
    assert r.status_code in (200, 404)  # answered (servers need no CORS) ...
    assert not any(h.startswith("access-control-") for h in r.headers)  # ... browsers can't read


def test_secret_api_cors_for_an_origin_the_app_names(server):
    named = server.create_app("Named", allowedOrigins=[CONSOLE])
    other = server.create_app("Other")
    pre = _preflight(server, "/api/v1/activities", CONSOLE)
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == CONSOLE
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert "Origin" in pre.headers["vary"]

    r = server.client.get("/api/v1/activities", headers={
        "Origin": CONSOLE, "Authorization": f"Bearer {named.secret}"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == CONSOLE and "Origin" in r.headers["vary"]
    # The same origin with an app that does not name it: no CORS headers.
    r = server.client.get("/api/v1/activities", headers={
        "Origin": CONSOLE, "Authorization": f"Bearer {other.secret}"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_wildcard_allowed_origins_do_not_open_the_secret_api(server):
    app = server.create_app(allowedOrigins=["*"])
    assert _preflight(server, "/api/v1/activities", EVIL).status_code == 403
    r = server.client.get("/api/v1/activities", headers={
        "Origin": EVIL, "Authorization": f"Bearer {app.secret}"})
    assert "access-control-allow-origin" not in r.headers


def test_newly_named_origin_is_allowed_after_a_settings_change(server):
    app = server.create_app()
    assert _preflight(server, "/api/v1/stats", CONSOLE).status_code == 403
    r = server.client.patch("/api/v1/app", json={"allowedOrigins": [CONSOLE]},
                            headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 200
    assert _preflight(server, "/api/v1/stats", CONSOLE).status_code == 204


@pytest.mark.parametrize(("path", "method"), [("/api/v1/track", "POST"),
                                              ("/api/v1/actions/complete", "POST"),
                                              ("/sdk/growthkit.js", "GET")])
def test_public_paths_keep_wildcard_cors(server, path, method):
    pre = _preflight(server, path, EVIL, method)
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] in ("*", EVIL)


def test_track_answers_any_origin(server):
    app = server.create_app()
    r = server.track(app.public, {"fingerprint": "fp_1", "events": [{"eventName": "x"}]},
                     headers={"Origin": EVIL})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
