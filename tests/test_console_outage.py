"""The server going away mid-session: the console says so, keeps what it shows, answers from
the local cache, reconnects by itself and the live feed resumes with every event missed,
none twice."""

from __future__ import annotations

from urllib.parse import urlsplit

from qt_console import WAIT_MS, feed_docks, wait_loaded
from tcp_proxy import TcpProxy

from growthkit.widgets.feed_model import ACTIVITY_ROLE


def track(server, keys, fingerprint: str, n: int) -> None:
    events = [{"eventName": "page_viewed", "properties": {"n": i}} for i in range(n)]
    r = server.track(keys.public, {"fingerprint": fingerprint, "events": events})
    assert r.status_code == 200, r.text


def feed_ids(feed) -> list[str]:
    return [feed.model.index(r, 0).data(ACTIVITY_ROLE)["id"]
            for r in range(feed.model.rowCount())]


def test_server_gone_then_back_resumes_the_feed_without_gaps(qtbot, live_server, open_console):
    keys = live_server.create_app("Outage", rateLimitPerMinute=100_000)
    track(live_server, keys, "fp_before", 3)
    target = urlsplit(live_server.base_url)
    proxy = TcpProxy(target.hostname, target.port)
    try:
        window = open_console(proxy.url, keys.secret, feed_docks())
        wait_loaded(qtbot, window)
        qtbot.waitUntil(lambda: window.connection_state == "live", timeout=WAIT_MS)
        feed = window.feed()
        track(live_server, keys, "fp_live", 2)
        qtbot.waitUntil(lambda: feed.model.rowCount() == 5, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.fallback is not None, timeout=WAIT_MS)  # cache opened
        window.sync_cache()  # as every refresh does: the cache takes the two live events too
        qtbot.waitUntil(lambda: not window._syncing, timeout=WAIT_MS)

        proxy.cut()
        qtbot.waitUntil(lambda: window.connection_state == "offline", timeout=WAIT_MS)
        assert window.connection_label.text() == "○ offline"
        assert window.statusBar().currentMessage().startswith("Server unreachable")
        assert feed.offline_banner.isVisible()
        assert feed.model.rowCount() == 5  # what it had is still shown
        assert window.store_label.text() == "store: local cache (server away)"
        filters = window.docks["filters"]
        window.reload(None)  # F5 while away: the docks answer from the local cache
        qtbot.waitUntil(lambda: "from the local cache" in filters.frame.refreshed_label.text(),
                        timeout=2 * WAIT_MS)
        # what the cache holds (PostgreSQL's sync may leave the newest seconds for the next)
        [cached] = window.fallback.event_frequency().to_json()["events"]
        assert cached["count"] >= 3
        assert filters.widget.names.item(0).text() == f"page_viewed  ({cached['count']})"
        assert not filters.frame.error.isVisible()

        track(live_server, keys, "fp_during", 4)  # stored while the console cannot see
        proxy.restore()
        qtbot.waitUntil(lambda: window.connection_state == "live", timeout=3 * WAIT_MS)
        qtbot.waitUntil(lambda: feed.model.rowCount() == 9, timeout=WAIT_MS)
        assert not feed.offline_banner.isVisible()
        track(live_server, keys, "fp_after", 1)
        qtbot.waitUntil(lambda: feed.model.rowCount() == 10, timeout=WAIT_MS)

        stored = [row[0] for row in live_server.rows(
            "SELECT id FROM activities ORDER BY seq DESC")]
        assert feed_ids(feed) == stored  # every event, newest first, none twice
        qtbot.waitUntil(lambda: "local cache" not in filters.frame.refreshed_label.text(),
                        timeout=WAIT_MS)
        assert window.store_label.text().startswith("store: server")
    finally:
        proxy.close()
