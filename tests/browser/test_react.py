"""useGrowthKit in a small React app (React from the npm registry) in headless Chromium."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from browser_harness import stored, wait_for


@pytest.fixture
def react_page(live_server, context, pages, node_modules):
    def open_page(key: str):
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{pages}/react.html?" + urlencode({"api": live_server.base_url, "key": key}))
        page.wait_for_selector("#click")
        page.errors = errors
        return page
    return open_page


def names(live, app_id: str) -> list[str]:
    return [e["name"] for e in stored(live, app_id)]


def test_hook_tracks_with_a_stable_function(live_server, react_page):
    app = live_server.create_app("React", rateLimitPerMinute=100_000)
    page = react_page(app.public)
    for _ in range(3):
        page.click("#click")
    page.wait_for_selector("text=clicked 3")
    events = wait_for(lambda: len(stored(live_server, app.id)) >= 4 and
                      stored(live_server, app.id), page, what="the hook's events")
    # The child's mount effect ran before the provider's init(): queued, not lost.
    assert [e["name"] for e in events] == ["counter_mounted"] + ["button_clicked"] * 3
    assert [e["properties"] for e in events[1:]] == [{"clicks": n} for n in (1, 2, 3)]
    assert len({e["fingerprint"] for e in events}) == 1
    assert all(e["context"]["url"].startswith(page.url.split("?")[0]) for e in events)
    # Every render got the same track function (safe in dependency arrays).
    renders, same = page.evaluate(
        "[trackIdentities.length, trackIdentities.every(t => t === trackIdentities[0])]")
    assert renders >= 4 and same is True
    assert page.errors == []


def test_hook_complete_action_updates_credits(live_server, react_page):
    paths = live_server.client.get("/openapi.json").json()["paths"]
    if "/api/v1/actions/complete" not in paths:
        pytest.skip("the server has no POST /api/v1/actions/complete yet")
    app = live_server.create_app("React credits", rateLimitPerMinute=100_000,
                                 initialCredits=5, actionCosts={"export": 2})
    page = react_page(app.public)
    assert page.inner_text("#credits") == "none"
    page.click("#spend")
    page.wait_for_selector("#credits:text-is('3')")
    page.click("#spend")
    page.wait_for_selector("#credits:text-is('1')")
    page.click("#spend")  # 1 credit left, the action costs 2: 409, the balance stays
    page.wait_for_function("errors.length === 1")
    assert page.evaluate("errors") == [409]
    assert page.inner_text("#credits") == "1"
    fingerprint = page.evaluate("api => import(api + '/sdk/growthkit.js')"
                                ".then(m => m.fingerprint())", live_server.base_url)
    balance = live_server.client.get(f"/api/v1/leads/{fingerprint}/credits",
                                     headers={"Authorization": f"Bearer {app.secret}"})
    assert balance.status_code == 200 and balance.json()["balance"] == 1
    assert page.errors == []
