"""The console's dock layout: saved and restored across restarts, broken states ignored,
"Reset layout" brings every dock back."""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QApplication

from growthkit.console.dock_specs import default_docks
from growthkit.console.main_window import MainWindow, Session
from growthkit.console.settings import LAYOUT_VERSION, ConsoleSettings
from growthkit.console.workers import WorkerPool


def window(qtbot, settings: ConsoleSettings) -> MainWindow:
    # No source is needed to lay out docks: nothing is loaded until start().
    w = MainWindow(Session(source=None, url="http://127.0.0.1:1"), default_docks(),
                   WorkerPool(QApplication.instance()), settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.restore_layout()
    return w


def test_layout_survives_a_restart(qtbot, tmp_path):
    path = tmp_path / "console.ini"
    first = window(qtbot, ConsoleSettings(path))
    feed = first.docks["liveFeed"].dock
    feed.setFloating(True)
    first.docks["filters"].dock.hide()
    first.close()

    second = window(qtbot, ConsoleSettings(path))
    assert second.docks["liveFeed"].dock.isFloating()
    assert not second.docks["filters"].dock.isVisible()
    assert second.docks["filters"].dock.toggleViewAction() in second.view_menu.actions()


def test_corrupt_or_stale_state_falls_back_to_the_default(qtbot, tmp_path):
    path = tmp_path / "console.ini"
    settings = ConsoleSettings(path)
    settings.save_layout(QByteArray(b"not a geometry"), QByteArray(b"\x00garbage\xff" * 20))
    settings.sync()
    w = window(qtbot, ConsoleSettings(path))
    assert all(d.dock.isVisible() and not d.dock.isFloating() for d in w.docks.values())

    w.docks["liveFeed"].dock.setFloating(True)
    w.close()
    stale = ConsoleSettings(path)
    stale.q.setValue("layout/version", LAYOUT_VERSION + 1)  # saved by another console version
    stale.sync()
    w = window(qtbot, ConsoleSettings(path))
    assert not w.docks["liveFeed"].dock.isFloating()


def test_reset_layout_unfloats_and_shows_every_dock(qtbot, tmp_path):
    w = window(qtbot, ConsoleSettings(tmp_path / "console.ini"))
    w.docks["liveFeed"].dock.setFloating(True)
    w.docks["filters"].dock.hide()
    w.reset_layout()
    assert all(d.dock.isVisible() and not d.dock.isFloating() for d in w.docks.values())
    titles = [a.text() for a in w.view_menu.actions()]
    assert {"Filters", "Live feed", "Reset &layout"} <= set(titles)
