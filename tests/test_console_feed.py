"""The live feed against a real server: events arrive while the console is open, a reader
scrolled away is not moved, filters reach every dock, properties stay plain text, tray
alerts fire for chosen events."""

from __future__ import annotations

import pytest
from qt_console import WAIT_MS, feed_docks, wait_loaded

from growthkit.widgets.feed_model import EVENT, LEAD, PAGE

HTML = '<b>bold</b> <a href="https://evil.example">click</a> <img src=x onerror=alert(1)>'


def track(server, keys, fingerprint: str, *names: str, **props) -> None:
    events = [{"eventName": n, "properties": dict(props)} for n in names]
    r = server.track(keys.public, {"fingerprint": fingerprint, "events": events})
    assert r.status_code == 200, r.text


@pytest.fixture
def keys(live_server):
    return live_server.create_app("Console", rateLimitPerMinute=100_000)


def feed_rows(feed) -> list[tuple[str, str]]:
    proxy = feed.proxy
    return [(proxy.index(r, EVENT).data(), proxy.index(r, LEAD).data())
            for r in range(proxy.rowCount())]


def test_event_ingested_while_open_appears_newest_first(qtbot, live_server, keys, open_console):
    track(live_server, keys, "fp_old", "page_viewed", path="/pricing")
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    feed = window.feed()
    assert feed_rows(feed) == [("page_viewed", "fp_old")]
    assert feed.proxy.index(0, PAGE).data() == "/pricing"
    qtbot.waitUntil(lambda: window.connection_state == "live", timeout=WAIT_MS)

    track(live_server, keys, "fp_new", "signup_completed")
    qtbot.waitUntil(lambda: feed.model.rowCount() == 2, timeout=WAIT_MS)
    assert feed_rows(feed) == [("signup_completed", "fp_new"), ("page_viewed", "fp_old")]
    qtbot.waitUntil(lambda: feed.live_now.text() == "live now: 2", timeout=WAIT_MS)
    assert window.windowTitle().startswith("GrowthKit Console — Console on server 127.0.0.1:")
    assert window.store_label.text().startswith("store: server")


def test_new_events_wait_behind_an_indicator_while_scrolled(qtbot, live_server, keys,
                                                            open_console):
    for i in range(4):
        track(live_server, keys, f"fp_{i}", *["page_viewed"] * 50)
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.connection_state == "live", timeout=WAIT_MS)
    feed = window.feed()
    assert feed.model.rowCount() == 200
    bar = feed.table.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    reading = feed.table.indexAt(feed.table.viewport().rect().topLeft()).row()
    first_visible = feed.proxy.index(reading, LEAD).data()

    track(live_server, keys, "fp_late", "signup_completed", "signup_completed")
    qtbot.waitUntil(lambda: feed.new_button.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: feed.new_button.text() == "↑ 2 new events", timeout=WAIT_MS)
    assert feed.model.rowCount() == 200  # nothing moved under the reader
    assert feed.table.indexAt(feed.table.viewport().rect().topLeft()).row() == reading
    assert feed.proxy.index(reading, LEAD).data() == first_visible

    feed.new_button.click()
    assert bar.value() == 0
    assert not feed.new_button.isVisible()
    assert feed_rows(feed)[:2] == [("signup_completed", "fp_late")] * 2
    assert feed.model.rowCount() == 202


def test_pause_holds_rows_until_resumed(qtbot, live_server, keys, open_console):
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.connection_state == "live", timeout=WAIT_MS)
    feed = window.feed()
    window.pause_action.trigger()  # Space
    assert feed.paused
    track(live_server, keys, "fp_1", "page_viewed")
    qtbot.waitUntil(lambda: feed.new_button.text() == "↑ 1 new event", timeout=WAIT_MS)
    assert feed.model.rowCount() == 0
    window.pause_action.trigger()
    assert feed.model.rowCount() == 1


def test_html_in_a_property_is_shown_literally(qtbot, live_server, keys, open_console):
    track(live_server, keys, "fp_html", "note_added", path=HTML, note=HTML)
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    feed = window.feed()
    feed.set_property_columns(["note"])
    assert feed.proxy.index(0, PAGE).data() == HTML
    assert feed.proxy.index(0, 5).data() == HTML
    feed.select_row(0)
    props = feed.tree.topLevelItem(0)
    note = next(props.child(i) for i in range(props.childCount())
                if props.child(i).text(0) == "note")
    assert note.text(1) == '"' + HTML.replace('"', '\\"') + '"'
    assert HTML.replace('"', '\\"') in feed.raw.toPlainText()
    window.set_filter({"search": "<b>bold</b>"})
    assert "search: <b>bold</b>" in window.chips.chip_texts()


def test_a_filter_change_reaches_every_dock(qtbot, live_server, keys, open_console):
    track(live_server, keys, "fp_a", "page_viewed", "page_viewed", plan="pro")
    track(live_server, keys, "fp_b", "signup_completed", plan="free")
    window = open_console(live_server.base_url, keys.secret)
    wait_loaded(qtbot, window)
    filters, feed = window.docks["filters"].widget, window.feed()
    assert filters.names.item(0).text() == "page_viewed  (2)"
    before = {n: d.frame.refreshed_at for n, d in window.docks.items()}

    filters.path.setText("plan")
    filters.value.setText("free")
    filters._add_condition()
    assert window.filter == {"where": ["plan:eq:free"]}
    assert window.chips.chip_texts() == ["where plan:eq:free"]
    # Every dock that loads from the server reloads with the filter
    live = [n for n, d in window.docks.items() if d.spec.refresh.value != "once"]
    qtbot.waitUntil(lambda: all(window.docks[n].frame.refreshed_at != before[n]
                                for n in live), timeout=WAIT_MS)
    assert [filters.names.item(i).text() for i in range(filters.names.count())] == \
        ["signup_completed  (1)"]

    window.set_filter({"event": ["signup_completed"]})
    assert feed_rows(feed) == [("signup_completed", "fp_b")]
    window.chips.chip("event: signup_completed").click()
    assert window.filter == {}
    assert len(feed_rows(feed)) == 3


def test_a_tray_alert_fires_for_a_chosen_event(qtbot, live_server, keys, open_console,
                                               console_settings):
    console_settings.alert_events = ["signup_completed"]
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.connection_state == "live", timeout=WAIT_MS)
    tray = window.console.tray
    track(live_server, keys, "fp_x", "page_viewed")
    track(live_server, keys, "fp_y", "signup_completed")
    qtbot.waitUntil(lambda: len(tray.alerts) == 1, timeout=WAIT_MS)
    assert tray.alerts[0].message == "signup_completed from fp_y"
    if not tray.available:  # offscreen: no tray, the status bar says it
        assert window.statusBar().currentMessage() == "Alert — signup_completed from fp_y"
    tray.open_last()
    assert feed_rows(window.feed())[window.feed().table.currentIndex().row()] == \
        ("signup_completed", "fp_y")


def test_feed_footer_dates_from_the_last_streamed_event(qtbot, live_server, keys, open_console):
    """A streaming feed must not read "updated 6 min ago" while rows keep arriving."""
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.connection_state == "live", timeout=WAIT_MS)
    frame = window.docks["liveFeed"].frame
    loaded_at = frame.refreshed_at
    track(live_server, keys, "fp_new", "signup_completed")
    qtbot.waitUntil(lambda: window.feed().model.rowCount() == 1, timeout=WAIT_MS)
    assert frame.refreshed_at > loaded_at
