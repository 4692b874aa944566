"""Connecting the console: each failure gets its own clear message, never a crash; a good
connection is saved as a profile and its key kept (only for the session without a keyring)."""

from __future__ import annotations

import http.server
import threading

import pytest
from harness import free_port
from qt_console import WAIT_MS

from growthkit.console.connect_dialog import ConnectionDialog
from growthkit.console.keystore import KeyStore
from growthkit.console.settings import ConsoleSettings


def dialog(qtbot, opener, settings: ConsoleSettings, keys: KeyStore | None = None,
           **kwargs) -> ConnectionDialog:
    console = opener.console(settings=settings)
    d = ConnectionDialog(settings, keys or console.keys, console.workers, **kwargs)
    qtbot.addWidget(d)
    d.show()
    return d


def attempt(qtbot, d: ConnectionDialog, url: str, key: str) -> str:
    d.url.setText(url)
    d.key.setText(key)
    d.connect_button.click()
    qtbot.waitUntil(lambda: d.message.isVisible() or d.session is not None, timeout=WAIT_MS)
    return d.message.text()


@pytest.fixture
def not_growthkit():
    """Some other web server: a directory listing on a local port."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_wrong_and_public_keys_are_told_apart(qtbot, live_server, open_console,
                                              console_settings):
    keys = live_server.create_app("Shop")
    d = dialog(qtbot, open_console, console_settings)
    # No profile yet: the URL starts at the local server's default address.
    assert d.url.text() == "http://127.0.0.1:8000"
    text = attempt(qtbot, d, live_server.base_url, "sk_not_a_real_key")
    assert text.startswith("Wrong secret key.")
    assert d.session is None and d.isVisible()
    assert attempt(qtbot, d, live_server.base_url, keys.public).startswith(
        "That is a public key.")
    assert d.session is None


def test_unreachable_tls_and_foreign_servers_get_their_own_message(
        qtbot, open_console, console_settings, live_server, not_growthkit):
    keys = live_server.create_app("Shop")
    d = dialog(qtbot, open_console, console_settings)
    nobody = f"http://127.0.0.1:{free_port()}"
    assert attempt(qtbot, d, nobody, keys.secret).startswith("Server unreachable.")
    tls = live_server.base_url.replace("http://", "https://")
    assert attempt(qtbot, d, tls, keys.secret).startswith("TLS error.")
    assert attempt(qtbot, d, not_growthkit, keys.secret).startswith(
        "Not a GrowthKit server.")
    assert attempt(qtbot, d, "", keys.secret).startswith("Check the connection details.")


def test_flags_with_a_bad_key_open_the_dialog_with_the_reason(qtbot, live_server, open_console):
    live_server.create_app("Shop")
    console = open_console.console()
    console.start(url=live_server.base_url, key="sk_wrong")
    qtbot.waitUntil(lambda: console.dialog is not None and console.dialog.isVisible(),
                    timeout=WAIT_MS)
    assert console.dialog.message.text().startswith("Wrong secret key.")
    assert console.dialog.url.text() == live_server.base_url
    assert console.window is None


def test_a_good_connection_is_saved_and_the_key_kept_for_the_session(
        qtbot, live_server, open_console, console_settings):
    keys = live_server.create_app("Shop")
    store = KeyStore()  # the tests run with no OS keyring
    d = dialog(qtbot, open_console, console_settings, keys=store)
    assert not store.usable
    assert d.keyring_note.isVisible()
    assert "session only" in d.keyring_note.text()
    attempt(qtbot, d, live_server.base_url, keys.secret)
    assert d.session is not None and d.session.app_name == "Shop"
    [profile] = console_settings.profiles()
    assert profile.url == live_server.base_url and profile.app_id == keys.id
    console_settings.sync()
    assert "sk_" not in console_settings.path.read_text()  # never in plain text on disk

    again = dialog(qtbot, open_console, console_settings, keys=store)
    assert again.profile.currentText() == profile.name
    qtbot.waitUntil(lambda: again.key.text() == keys.secret, timeout=WAIT_MS)
