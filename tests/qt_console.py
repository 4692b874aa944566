"""Qt test helpers: open the real console offscreen on a server, and wait on what it shows."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from growthkit.console.app import Console
from growthkit.console.connection import open_server
from growthkit.console.main_window import MainWindow
from growthkit.console.settings import ConsoleSettings

WAIT_MS = 15000  # how long a test waits for something to appear before failing


def feed_docks() -> list:
    """Only the filters and the live feed: for tests about those two (faster to open)."""
    from growthkit.console.dock_specs import default_docks

    return [s for s in default_docks() if s.widget.__name__ in ("FiltersWidget",
                                                                "LiveFeedWidget")]


class ConsoleOpener:
    def __init__(self, qtbot: Any, settings: ConsoleSettings) -> None:
        self.qtbot, self.settings = qtbot, settings
        self.consoles: list[Console] = []

    def __call__(self, base_url: str, key: str, specs: list | None = None,
                 settings: ConsoleSettings | None = None) -> MainWindow:
        console = self.console(specs, settings)
        window = console.open(open_server(base_url, key))
        window.console = console
        self.qtbot.waitExposed(window)
        return window

    def console(self, specs: list | None = None,
                settings: ConsoleSettings | None = None) -> Console:
        console = Console(QApplication.instance(), settings or self.settings, specs)
        self.consoles.append(console)
        return console

    def close_all(self) -> None:
        """Close and delete every console on the GUI thread now. Left to Python's garbage
        collector, a window could be destroyed on a worker thread (the collector runs in
        whichever thread allocates), leaving its timers to fire on freed memory."""
        for console in self.consoles:
            if console.window is not None:
                console.window.close()
            console.shutdown()
            for obj in (console.window, console.dialog, console):
                if obj is not None:
                    obj.deleteLater()
        self.consoles.clear()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def wait_loaded(qtbot: Any, window: MainWindow, *names: str) -> None:
    """Wait until the named docks (all by default) have had their first answer and none
    of them is still loading."""
    wanted = names or tuple(n for n, d in window.docks.items() if d.spec.load is not None)
    qtbot.waitUntil(lambda: all(window.docks[n].answered and not window.docks[n].frame.is_busy()
                                for n in wanted), timeout=WAIT_MS)
