"""The console shell on a real server: F5 and the timed refresh, shortcuts, About, the
settings page, themes, and closing while loads are running."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from qt_console import WAIT_MS, feed_docks, wait_loaded

from growthkit import __version__


@pytest.fixture
def keys(live_server):
    keys = live_server.create_app("Shell", rateLimitPerMinute=100_000)
    live_server.track(keys.public, {"fingerprint": "fp_1", "events": [{"eventName": "a"}]})
    return keys


def names(window) -> list[str]:
    return window.docks["filters"].widget.event_names()


def test_f5_reloads_and_shortcuts_reach_their_docks(qtbot, live_server, keys, open_console):
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    assert names(window) == ["a"]
    live_server.track(keys.public, {"fingerprint": "fp_2", "events": [{"eventName": "b"}]})
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: names(window) == ["a", "b"], timeout=WAIT_MS)
    assert window.refresh_label.text().startswith("refreshed ")

    window.search_action.trigger()  # Ctrl+F
    assert QApplication.focusWidget() is window.docks["filters"].widget.search
    window.docks["liveFeed"].dock.hide()
    [focus_feed] = [a for a in window.actions() if a.shortcut().toString() == "Ctrl+2"]
    focus_feed.trigger()
    assert window.docks["liveFeed"].dock.isVisible()


def test_the_timed_refresh_follows_the_setting(qtbot, live_server, keys, open_console,
                                               console_settings):
    console_settings.refresh_seconds = 5
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    wait_loaded(qtbot, window)
    assert window.refresh_timer.interval() == 5000
    live_server.track(keys.public, {"fingerprint": "fp_2", "events": [{"eventName": "b"}]})
    qtbot.waitUntil(lambda: names(window) == ["a", "b"], timeout=3 * WAIT_MS)


def test_about_names_the_console_server_and_qt(qtbot, live_server, keys, open_console):
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    window.console.show_about()
    text = window.console._about.text()
    assert f"GrowthKit Console {__version__}" in text
    assert f"GrowthKit server {__version__}" in text and live_server.base_url in text
    assert "Qt 6." in text and "PySide6 6." in text


def test_settings_page_saves_alerts_and_says_when_there_is_no_tray(
        qtbot, live_server, keys, open_console, console_settings):
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    console = window.console
    console.show_settings()
    page = console._settings_dialog
    if not console.tray.available:
        assert "no system tray" in page.tray_note.text()
    page.alert_events.setText("signup_completed, purchase_completed")
    page.alert_rate.setValue(120)
    page.refresh.setValue(45)
    page.save()
    assert console_settings.alert_events == ["signup_completed", "purchase_completed"]
    assert console_settings.alert_rate == 120
    assert console.tray.events == {"signup_completed", "purchase_completed"}
    assert window.refresh_timer.interval() == 45000


def test_dark_and_light_themes(qtbot, live_server, keys, open_console):
    window = open_console(live_server.base_url, keys.secret, feed_docks())
    app = QApplication.instance()
    window.console.set_theme("dark")
    assert app.property("darkTheme") is True
    assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
    window.console.set_theme("light")
    assert app.property("darkTheme") is False
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > 180


def test_closing_while_loads_run_stops_every_worker(qtbot, live_server, keys, open_console):
    window = open_console(live_server.base_url, keys.secret)  # every dock starts loading
    console = window.console
    assert console.workers.active() > 0
    window.close()
    console.shutdown()
    assert console.workers.active() == 0
    assert not window.stream.running
