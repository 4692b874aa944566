"""The settings page: refresh interval, theme, and the tray alerts."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from growthkit.console.settings import ConsoleSettings
from growthkit.console.theme import THEMES


class SettingsDialog(QDialog):
    """Edits ConsoleSettings; saved on OK."""

    def __init__(self, settings: ConsoleSettings, *, tray_available: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Console settings")
        self.settings = settings
        self.refresh = QSpinBox(self, minimum=5, maximum=3600, suffix=" s")
        self.refresh.setValue(settings.refresh_seconds)
        self.theme = QComboBox(self)
        self.theme.addItems(THEMES)
        self.theme.setCurrentText(settings.theme)
        self.alert_events = QLineEdit(", ".join(settings.alert_events), self)
        self.alert_events.setObjectName("alertEvents")
        self.alert_events.setPlaceholderText("e.g. signup_completed, purchase_completed")
        self.alert_rate = QSpinBox(self, minimum=0, maximum=1_000_000, suffix=" events/min")
        self.alert_rate.setObjectName("alertRate")
        self.alert_rate.setSpecialValueText("off")
        self.alert_rate.setValue(settings.alert_rate)
        self.tray_note = QLabel(
            "Alerts appear as desktop notifications from the tray icon; click one to open "
            "the console on that event." if tray_available else
            "This desktop has no system tray: alerts are shown in the console's status bar "
            "instead of as notifications.", self)
        self.tray_note.setObjectName("trayNote")
        self.tray_note.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Refresh every", self.refresh)
        form.addRow("Theme", self.theme)
        form.addRow("Alert on events", self.alert_events)
        form.addRow("Alert above", self.alert_rate)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.tray_note)
        layout.addWidget(buttons)

    def save(self) -> None:
        self.settings.refresh_seconds = self.refresh.value()
        self.settings.theme = self.theme.currentText()
        names = [n.strip() for n in self.alert_events.text().split(",") if n.strip()]
        self.settings.alert_events = names
        self.settings.alert_rate = self.alert_rate.value()
        self.accept()
