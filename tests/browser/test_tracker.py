"""The browser tracker (tracker/growthkit.js) in headless Chromium against a real server."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any
from urllib.parse import urlencode

import harness as root
import pytest
from browser_harness import Tab, stored, wait_for
from sqlalchemy import text

from growthkit.core.store import open_engine


@pytest.fixture
def app(live_server):
    return live_server.create_app("Browser", rateLimitPerMinute=100_000)


def test_track_is_stored_with_full_context(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public)
    tab.js("document.title = 'Pricing'")
    tab.track("signup_completed", {"method": "email", "plan": {"name": "pro", "seats": 3}})
    tab.js("gk.flush()")
    [event] = tab.stored(1, app.id, "the event")
    assert event["name"] == "signup_completed"
    assert event["properties"] == {"method": "email", "plan": {"name": "pro", "seats": 3}}
    ua = tab.js("navigator.userAgent")
    major = ua.split("Chrome/")[1].split(".")[0]
    ctx = event["context"]
    assert ctx["browser"] == f"Chrome {major}"
    assert ctx["os"] == "Linux"
    assert ctx["device"] == "desktop"
    assert ctx["userAgent"] == ua
    assert ctx["screenResolution"] == tab.js("screen.width + 'x' + screen.height")
    assert ctx["viewport"] == "1280x720"
    assert ctx["url"] == tab.url
    assert ctx["title"] == "Pricing"
    assert ctx["referrer"] == ""
    assert ctx["language"] == "en-US"
    assert ctx["timeZone"] == "Asia/Tokyo"
    assert ctx["pageViews"] == 0
    assert isinstance(ctx["sessionDuration"], int) and ctx["sessionDuration"] >= 0
    session = tab.js("JSON.parse(localStorage.getItem('gk_s'))")
    assert event["session"] == session["id"]
    fingerprint = tab.js("gk.fingerprint()")
    assert event["fingerprint"] == fingerprint == tab.js("JSON.parse(localStorage.gk_fp)")
    assert fingerprint.startswith("fp_")
    assert live_server.scalar("SELECT count(*) FROM leads WHERE fingerprint = :f",
                              f=fingerprint) == 1
    # A second event in the same session counts on; the fingerprint is stable across pages.
    tab.open()
    tab.track("second")
    tab.js("gk.flush()")
    second = tab.wait(lambda: stored(live_server, app.id, "second"), "second event")[0]
    assert second["session"] == event["session"]
    assert second["fingerprint"] == fingerprint
    assert tab.queued() == []


def test_ten_events_go_out_in_one_request(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public)
    for i in range(9):
        tab.track("item_viewed", {"i": i})
    # Nine events wait for the batch (or the 30 s interval): nothing is sent yet.
    tab.page.wait_for_timeout(300)
    assert tab.requests == []
    assert len(tab.queued()) == 9
    tab.track("item_viewed", {"i": 9})
    events = tab.stored(10, app.id, "10 events")
    assert [e["properties"]["i"] for e in events] == list(range(10))
    tab.wait(lambda: len(tab.requests) == 1, "the request to be reported")
    body = json.loads(tab.requests[0].post_data)
    assert len(body["events"]) == 10 and body["key"] == app.public
    assert len({e["id"] for e in body["events"]}) == 10
    tab.wait(lambda: tab.queued() == [], "an empty queue")


def test_interval_flush(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public, interval=300)
    tab.js("gk.track('a'); gk.track('b')")  # in one task: no tick can fall between them
    events = tab.stored(2, app.id, "the interval flush")
    assert [e["name"] for e in events] == ["a", "b"]
    # Playwright may report the request a moment after the rows are visible.
    tab.wait(lambda: len(tab.requests) == 1, "the request to be reported")
    tab.page.wait_for_timeout(400)  # a further interval passes: no second request
    assert len(tab.requests) == 1


# Chromium sends beacons from the browser process after the page is gone, where neither
# Playwright nor DevTools report them; this records each call (and still sends it).
BEACON_SPY = """
    const send = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, data) => {
        const ok = send(url, data);
        const calls = JSON.parse(localStorage.getItem('beacons') || '[]');
        calls.push({url, body: data, ok});
        localStorage.setItem('beacons', JSON.stringify(calls));
        return ok;
    };
"""


def test_navigating_away_right_after_track_sends_a_beacon(live_server, app, context, pages):
    context.add_init_script(BEACON_SPY)
    tab = Tab(context, pages, live_server, app.public)
    tab.js("""() => { gk.track('checkout_started', {total: 42});
                      document.getElementById('next').click(); }""")
    tab.page.wait_for_url("**/next.html")
    [event] = tab.stored(1, app.id, "the beaconed event")
    assert event["name"] == "checkout_started" and event["properties"] == {"total": 42}
    [beacon] = tab.js("JSON.parse(localStorage.getItem('beacons'))")
    assert beacon["ok"] is True
    assert beacon["url"] == f"{live_server.base_url}/api/v1/track?beacon=1"
    assert isinstance(beacon["body"], str) and len(beacon["body"].encode()) < 64 * 1024
    body = json.loads(beacon["body"])  # text/plain JSON, the key in the body
    assert body["key"] == app.public
    assert [e["id"] for e in body["events"]] == [event["id"]]
    # Handed to the beacon, so no longer queued for the next page.
    assert tab.queued() == []


def test_offline_queue_survives_a_reload_and_is_stored_once(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public, cache=1)
    context.set_offline(True)
    for i in range(3):
        tab.track("offline_event", {"i": i})
    tab.js("gk.flush()")
    assert tab.requests == []  # paused while navigator.onLine is false
    queued = tab.queued()
    assert [e["properties"]["i"] for e in queued] == [0, 1, 2]
    # Load the page again while still offline (page and tracker come from the HTTP cache):
    # the hidden page must not hand the queue to a beacon, the new one adopts it.
    tab.open()
    assert tab.js("navigator.onLine") is False
    assert tab.requests == []
    assert sorted(e["id"] for e in tab.queued()) == sorted(e["id"] for e in queued)
    assert stored(live_server, app.id) == []
    context.set_offline(False)  # fires `online`: the tracker resumes
    events = tab.stored(3, app.id, "the offline events")
    assert sorted(e["id"] for e in events) == sorted(e["id"] for e in queued)
    tab.wait(lambda: tab.queued() == [], "an empty queue")
    tab.js("gk.flush()")
    tab.page.wait_for_timeout(200)
    assert len(stored(live_server, app.id)) == 3
    assert len(tab.requests) == 1


def _slow_store_server(database_url: str):
    """A live server whose writes give up after 200 ms (503) instead of 5 s."""
    url = database_url
    if url.startswith("postgresql"):
        # PostgreSQL waits for locks forever unless told otherwise.
        url = url.replace("options=-c", "options=-clock_timeout%3D200%20-c")
    srv, thread, base = root.start_live_server(root.make_settings(url, None,
                                                                  write_timeout_ms=200))
    import httpx

    engine = open_engine(database_url)
    live = root.LiveServer(client=httpx.Client(base_url=base), engine=engine, base_url=base)
    return live, srv, thread


@pytest.fixture
def slow_store(database_url):
    live, srv, thread = _slow_store_server(database_url)
    yield live
    srv.should_exit = True
    thread.join(timeout=10)
    live.client.close()
    live.engine.dispose()


class StoreLock:
    """Really make the store refuse writes: hold its write lock from another connection."""

    def __init__(self, database_url: str):
        self.url = database_url
        self.released = threading.Event()

    def __enter__(self) -> StoreLock:
        if self.url.startswith("sqlite"):
            self.conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=5,
                                        isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.engine = open_engine(self.url)
            self.conn = self.engine.connect()
            self.conn.execute(text("LOCK TABLE activities IN EXCLUSIVE MODE"))
        return self

    def release(self) -> None:
        if self.released.is_set():
            return
        self.released.set()
        if self.url.startswith("sqlite"):
            self.conn.execute("ROLLBACK")
            self.conn.close()
        else:
            self.conn.rollback()
            self.conn.close()
            self.engine.dispose()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def test_server_failing_for_a_while_loses_nothing_and_duplicates_nothing(
        slow_store, database_url, context, pages):
    app = slow_store.create_app("Browser", rateLimitPerMinute=100_000)
    tab = Tab(context, pages, slow_store, app.public, batch=5)
    with StoreLock(database_url) as lock:
        for i in range(12):
            tab.track("during_outage", {"i": i})
        # The tracker retries with backoff (honouring Retry-After: 1) while the store is locked.
        tab.wait(lambda: tab.statuses.count(503) >= 2, "two 503 answers")
        assert stored(slow_store, app.id) == []
        assert len(tab.queued()) == 12
        lock.release()
        tab.track("after_outage")
        tab.js("gk.flush()")
        events = tab.stored(13, app.id, "all events", timeout=30)
    assert sorted(e["properties"]["i"] for e in events if e["name"] == "during_outage") == \
        list(range(12))
    tab.wait(lambda: tab.queued() == [], "an empty queue")
    tab.page.wait_for_timeout(300)
    assert len(stored(slow_store, app.id)) == 13  # exactly once each
    assert 200 in tab.statuses and all(s in (200, 503) for s in tab.statuses)
    assert any("retrying" in line for line in tab.console)


def test_network_errors_are_retried_until_delivered(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public)
    failed: list[str] = []
    track_url = f"{live_server.base_url}/api/v1/track"

    def refuse(route) -> None:  # the connection fails while the browser still says online
        failed.append(route.request.url)
        route.abort("connectionrefused")

    context.route(track_url, refuse)
    for i in range(4):
        tab.track("flaky_network", {"i": i})
    tab.js("gk.flush()")
    tab.wait(lambda: len(failed) >= 2, "two refused attempts")
    assert tab.js("navigator.onLine") is True
    assert len(tab.queued()) == 4
    context.unroute(track_url)
    events = tab.stored(4, app.id, "the retried events")
    assert sorted(e["properties"]["i"] for e in events) == [0, 1, 2, 3]
    tab.wait(lambda: tab.queued() == [], "an empty queue")
    assert any("delivery failed (TypeError" in line for line in tab.console)


def test_rate_limited_events_are_kept_for_a_retry(live_server, context, pages):
    app = live_server.create_app("Limited", rateLimitPerMinute=3)
    tab = Tab(context, pages, live_server, app.public, batch=5)
    for i in range(5):
        tab.track("burst", {"i": i})
    events = tab.stored(3, app.id, "the events under the limit")
    assert [e["properties"]["i"] for e in events] == [0, 1, 2]
    # The two over the limit wait in the queue for the limiter's Retry-After.
    tab.wait(lambda: len(tab.queued()) == 2, "two kept events")
    assert [e["properties"]["i"] for e in tab.queued()] == [3, 4]
    assert tab.statuses[0] == 200
    assert any("retrying in" in line for line in tab.console)


def test_spa_page_views_without_duplicates(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public, pv=1)
    tab.js("""() => {
        history.pushState({}, '', '/app/projects');
        history.pushState({}, '', '/app/projects');          // same path: no new view
        history.replaceState({}, '', '/app/projects?sort=name');  // same path again
        history.pushState({}, '', '/app/settings');
    }""")
    tab.page.go_back()  # popstate back to /app/projects
    tab.page.wait_for_function("location.pathname === '/app/projects'")
    tab.page.wait_for_timeout(100)
    tab.js("gk.flush()")
    views = tab.stored(4, app.id, "page views")
    assert [v["properties"]["path"] for v in views] == [
        "/tracker.html", "/app/projects", "/app/settings", "/app/projects"]
    assert {v["name"] for v in views} == {"page_viewed"}
    assert [v["context"]["pageViews"] for v in views] == [1, 2, 3, 4]
    assert views[1]["context"]["url"].endswith("/app/projects")
    tab.page.wait_for_timeout(200)
    assert len(stored(live_server, app.id)) == 4


def test_back_forward_cache_restore_counts_a_page_view(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public, pv=1, cache=1)  # no-store blocks bfcache
    tab.js("window.sameDocument = true")
    tab.js("document.getElementById('next').click()")
    tab.page.wait_for_url("**/next.html")
    tab.page.go_back(wait_until="commit")  # a restore fires pageshow, not load
    # Restored from the back/forward cache: the same document, the module did not run again.
    tab.page.wait_for_function("window.sameDocument === true")
    tab.js("gk.flush()")
    views = tab.stored(2, app.id, "two page views")
    assert [v["properties"]["path"] for v in views] == ["/tracker.html", "/tracker.html"]
    assert [v["context"]["pageViews"] for v in views] == [1, 2]
    tab.page.wait_for_timeout(200)
    assert len(stored(live_server, app.id)) == 2


def test_script_tag_starts_by_itself(live_server, app, context, pages):
    page = context.new_page()
    page.goto(f"{pages}/tag.html?" + urlencode({"api": live_server.base_url,
                                                 "key": app.public}))
    page.wait_for_function("window.growthkit !== undefined")
    page.click("#buy")
    page.evaluate("growthkit.flush()")
    events = wait_for(lambda: len(stored(live_server, app.id)) >= 2 and
                      stored(live_server, app.id), page, what="the tag's events")
    assert [(e["name"], e["properties"]) for e in events] == [
        ("page_viewed", {"path": "/tag.html"}), ("buy_clicked", {"plan": "pro"})]


def test_bad_calls_never_throw_and_are_explained(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public)
    results = tab.js("""() => {
        const cyclic = {}; cyclic.self = cyclic;
        const calls = [() => gk.track(''), () => gk.track('bad<name>'), () => gk.track(42),
                       () => gk.track('ok_name', [1, 2]), () => gk.track('ok_name', cyclic),
                       () => gk.track('big', {blob: 'x'.repeat(40000)})];
        return calls.map(call => { try { call(); return 'ok'; } catch (e) { return 'threw'; } });
    }""")
    assert results == ["ok"] * 6
    assert tab.queued() == []
    joined = "\n".join(tab.console)
    assert 'eventName "bad<name>" is not 1-200 letters' in joined
    assert "properties must be a plain object" in joined
    assert 'track("ok_name") failed' in joined  # the cyclic object
    assert "over the 32 KB limit" in joined


def test_rejected_batches_are_dropped_with_a_message(live_server, app, context, pages):
    # An unknown key: the server answers 401 and retrying cannot help, so the events go.
    tab = Tab(context, pages, live_server, "pk_unknown")
    tab.track("lost")
    tab.js("gk.flush()")
    tab.wait(lambda: 401 in tab.statuses, "the 401")
    tab.wait(lambda: tab.queued() == [], "the dropped batch")
    assert any("1 events dropped: unknown app key" in line for line in tab.console)


def test_storage_failures_fall_back_to_memory(live_server, app, context, pages):
    # Storage that throws on every use (private modes, blocked third-party storage).
    context.add_init_script("""
        Object.defineProperty(window, 'localStorage', {get() {
            throw new DOMException('The operation is insecure.', 'SecurityError'); }});
    """)
    tab = Tab(context, pages, live_server, app.public)
    fingerprint = tab.js("gk.fingerprint()")
    tab.track("private_mode")
    tab.js("gk.flush()")
    [event] = tab.stored(1, app.id, "the event")
    assert event["fingerprint"] == fingerprint
    # Without storage the id is the hash of stable signals alone: the same after a reload.
    tab.open()
    assert tab.js("gk.fingerprint()") == fingerprint
    assert "_" not in fingerprint.removeprefix("fp_")


def test_app_supplied_fingerprint_is_used(live_server, app, context, pages):
    tab = Tab(context, pages, live_server, app.public, fp="visitor-123")
    tab.track("mine")
    tab.js("gk.flush()")
    [event] = tab.stored(1, app.id, "the event")
    assert event["fingerprint"] == "visitor-123"


def test_fingerprint_promise_is_awaited_and_a_failing_one_falls_back(live_server, app, context,
                                                                      pages):
    tab = Tab(context, pages, live_server, app.public, page="next.html")
    api, key = live_server.base_url, app.public
    script = """async ([api, key, fail]) => {
        const gk = await import(api + '/sdk/growthkit.js');
        let resolve;
        const later = new Promise((r) => (resolve = r));
        gk.init({publicKey: key, apiUrl: api, batchSize: 1,
                 fingerprint: fail ? () => { throw new Error('no fingerprint'); } : later});
        gk.track('waited');
        if (!fail) setTimeout(() => resolve('fpjs-visitor'), 300);
        return gk.fingerprint();
    }"""
    assert tab.js(script, [api, key, False]) == "fpjs-visitor"
    [event] = tab.stored(1, app.id, "the event")
    assert event["fingerprint"] == "fpjs-visitor"
    tab.page.reload()
    fallback = tab.js(script, [api, key, True])
    assert fallback.startswith("fp_")
    events = tab.stored(2, app.id, "the second event")
    assert events[1]["fingerprint"] == fallback
