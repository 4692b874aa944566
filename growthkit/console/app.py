"""The console application: connect (dialog, flags or snapshot), open the window, clean up."""

from __future__ import annotations

import logging
import sys
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, QTimer, qVersion
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QApplication, QMessageBox

from growthkit import __version__
from growthkit.console.connect_dialog import ConnectionDialog
from growthkit.console.connection import ConnectionFailed, classify, open_server, open_snapshot
from growthkit.console.dock_specs import default_docks
from growthkit.console.docks import DockSpec
from growthkit.console.keystore import KeyStore
from growthkit.console.main_window import MainWindow, Session
from growthkit.console.settings import ConsoleSettings
from growthkit.console.theme import THEMES, app_icon, apply_theme
from growthkit.console.workers import WorkerPool

log = logging.getLogger(__name__)


def about_text(session: Session | None) -> str:
    server = "offline snapshot" if session and session.offline else (
        f"GrowthKit server {session.server_version or 'unknown version'} "
        f"({session.store or 'unknown store'}) at {session.url}" if session else "not connected")
    return (f"GrowthKit Console {__version__}\n\nServer: {server}\n"
            f"Qt {qVersion()} · PySide6 {pyside_version} · Python {sys.version.split()[0]}")


class Console(QObject):
    """Owns the workers, the key store, the window and the tray for one application run."""

    def __init__(self, qt: QApplication, settings: ConsoleSettings | None = None,
                 specs: list[DockSpec] | None = None) -> None:
        super().__init__(qt)
        self.qt = qt
        self.settings = settings or ConsoleSettings()
        self.specs = specs if specs is not None else default_docks()
        self.workers = WorkerPool(self)
        self.keys = KeyStore()
        self.window: MainWindow | None = None
        self.tray: Any = None
        self.dialog: ConnectionDialog | None = None
        self.dark = apply_theme(qt, self.settings.theme)
        qt.aboutToQuit.connect(self.shutdown)

    # -- connecting
    def start(self, url: str | None = None, key: str | None = None, app: str | None = None,
              snapshot: str | None = None) -> None:
        """Begin connecting (returns at once; the window opens when the connection works)."""
        if snapshot:
            self.workers.submit(lambda: open_snapshot(snapshot), self.open,
                                lambda exc: self._fatal("Cannot open the snapshot", exc))
        elif url and key:
            self.workers.submit(lambda: open_server(url, key, app), self.open,
                                lambda exc: self.ask(url=url, key=key, app=app or "",
                                                     message=classify(exc, key).text()))
        else:
            self.ask(url=url or "", app=app or "")

    def ask(self, url: str = "", key: str = "", app: str = "", message: str = "") -> None:
        self.dialog = ConnectionDialog(self.settings, self.keys, self.workers, url=url,
                                       key=key, app=app, message=message)
        self.dialog.accepted.connect(lambda: self.open(self.dialog.session))
        self.dialog.rejected.connect(self._cancelled)
        self.dialog.show()

    def _cancelled(self) -> None:
        if self.window is None:
            self.qt.quit()

    def _fatal(self, title: str, exc: BaseException) -> None:
        failure = exc if isinstance(exc, ConnectionFailed) else classify(exc)
        box = QMessageBox(QMessageBox.Icon.Critical, title, failure.text())
        box.finished.connect(lambda _: self.qt.quit() if self.window is None else None)
        box.open()
        self._box = box

    # -- the window
    def open(self, session: Session) -> MainWindow:
        window = MainWindow(session, self.specs, self.workers, self.settings)
        self.window = window
        self._add_menus(window)
        window.show()
        # After show(): docks need a shown window to float correctly, and sizes to apply.
        if not window.restore_layout():
            window.apply_default_sizes()
        from growthkit.console.tray import TrayAlerts

        self.tray = TrayAlerts(window, self.settings, self)
        window.settings_action.triggered.connect(self.show_settings)
        window.start()
        if not session.offline:
            from growthkit.console.offline_cache import open_cache

            client, app_id = session.source, session.app_id
            self.workers.submit(lambda: open_cache(client, app_id), window.set_cache,
                                lambda exc: log.warning("no local cache: %s", exc))
        return window

    def _add_menus(self, window: MainWindow) -> None:
        group = QActionGroup(window)
        for theme in THEMES:
            action = QAction(theme.capitalize(), window, checkable=True,
                             checked=theme == self.settings.theme)
            action.triggered.connect(lambda _=False, t=theme: self.set_theme(t))
            group.addAction(action)
            window.theme_menu.addAction(action)
        from growthkit.console import file_actions

        file_actions.install(self, window)  # Export, snapshots, the snapshot banner
        about = window.help_menu.addAction("&About GrowthKit Console")
        about.triggered.connect(self.show_about)

    def set_theme(self, theme: str) -> None:
        self.settings.theme = theme
        self.dark = apply_theme(self.qt, theme)

    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About GrowthKit Console",
                          about_text(self.window.session if self.window else None),
                          parent=self.window)
        box.setObjectName("aboutDialog")
        box.setIconPixmap(app_icon().pixmap(48, 48))
        box.open()
        self._about = box

    def show_settings(self) -> None:
        from growthkit.console.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, tray_available=self.tray.available,
                                parent=self.window)
        dialog.accepted.connect(self._settings_saved)
        dialog.open()
        self._settings_dialog = dialog

    def _settings_saved(self) -> None:
        self.dark = apply_theme(self.qt, self.settings.theme)
        if self.window is not None:
            self.window.set_refresh_seconds(self.settings.refresh_seconds)
        if self.tray is not None:
            self.tray.reload_settings()
        self.settings.sync()

    # -- closing
    def shutdown(self) -> None:
        if self.window is not None:
            self.window.shutdown()
        if self.tray is not None:
            self.tray.hide()
        stream = self.window.stream if self.window else None
        self.workers.shutdown(nudge=stream.stop if stream is not None else None)
        source = self.window.session.source if self.window else None
        close = getattr(source, "close", None)
        if close is not None:
            close()


def run(url: str | None = None, key: str | None = None, app: str | None = None,
        snapshot: str | None = None) -> int:
    """`growthkit console`: run the console until its window closes."""
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    qt.setApplicationName("GrowthKit Console")
    qt.setOrganizationName("GrowthKit")
    qt.setWindowIcon(app_icon())
    console = Console(qt)
    QTimer.singleShot(0, lambda: console.start(url, key, app, snapshot))
    return qt.exec()
