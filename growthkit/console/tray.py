"""Tray alerts: a notification when a chosen event arrives or events/min crosses a line."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from growthkit.console.main_window import MainWindow
from growthkit.console.settings import ConsoleSettings
from growthkit.console.theme import app_icon

RATE_COOLDOWN_S = 300  # one "busy" alert per five minutes, not one per second
EVENT_COOLDOWN_S = 2  # bursts of the same chosen event make one notification


@dataclass
class Alert:
    title: str
    message: str
    activity_id: str | None = None


class TrayAlerts(QObject):
    """Watches the live stream for the events chosen in Settings. Where the platform has
    no tray the alerts still show in the status bar (and the settings page says so)."""

    fired = Signal(object)  # the Alert

    def __init__(self, window: MainWindow, settings: ConsoleSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window, self.settings = window, settings
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.alerts: list[Alert] = []
        self._last: Alert | None = None
        self._event_at: dict[str, float] = {}
        self._rate_at = 0.0
        self.reload_settings()
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(app_icon(), self)
            self.icon.setToolTip(window.windowTitle())
            menu = QMenu()
            menu.addAction("Show console", self.bring_up)
            menu.addAction("Quit", window.close)
            self.icon.setContextMenu(menu)
            self._menu = menu
            self.icon.activated.connect(lambda _reason: self.bring_up())
            self.icon.messageClicked.connect(self.open_last)
            self.icon.show()
        if window.stream is not None:
            window.stream.events.connect(self.check_events)
        self._rate_timer = QTimer(self, interval=1000)
        self._rate_timer.timeout.connect(self.check_rate)
        self._rate_timer.start()

    def reload_settings(self) -> None:
        self.events = set(self.settings.alert_events)
        self.rate = self.settings.alert_rate

    def check_events(self, activities: list) -> None:
        now = time.monotonic()
        for a in activities:
            name = a.get("eventName")
            if name not in self.events:
                continue
            if now - self._event_at.get(name, -1e9) < EVENT_COOLDOWN_S:
                continue
            self._event_at[name] = now
            lead = a.get("fingerprintId") or "unknown lead"
            self.notify(Alert(f"GrowthKit: {name}", f"{name} from {lead}", a.get("id")))

    def check_rate(self) -> None:
        feed = self.window.feed()
        if not self.rate or feed is None or not hasattr(feed, "events_per_minute"):
            return
        rate = feed.events_per_minute()
        now = time.monotonic()
        if rate >= self.rate and now - self._rate_at > RATE_COOLDOWN_S:
            self._rate_at = now
            self.notify(Alert("GrowthKit: busy", f"{rate:,} events in the last minute "
                                                 f"(alert at {self.rate:,})"))

    def notify(self, alert: Alert) -> None:
        self.alerts.append(alert)
        self._last = alert
        if self.icon is not None:
            self.icon.showMessage(alert.title, alert.message,
                                  QSystemTrayIcon.MessageIcon.Information, 8000)
        else:
            self.window.statusBar().showMessage(f"Alert — {alert.message}", 15000)
        self.fired.emit(alert)

    def bring_up(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def open_last(self) -> None:
        """The notification was clicked: show the console on that event."""
        self.bring_up()
        alert, feed = self._last, self.window.feed()
        if alert and alert.activity_id and feed is not None:
            dock = self.window.docks["liveFeed"].dock
            self.window.focus_dock(dock)
            feed.show_event(alert.activity_id)

    def hide(self) -> None:
        self._rate_timer.stop()
        if self.icon is not None:
            self.icon.hide()
