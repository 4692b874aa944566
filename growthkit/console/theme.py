"""Light and dark themes (Fusion with a palette and a small style sheet); system by default."""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def system_is_dark() -> bool:
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    # Unknown (e.g. offscreen, some X11 desktops): judge by the default window colour.
    return QApplication.style().standardPalette().color(QPalette.ColorRole.Window).lightness() \
        < 128


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 32, 36), QColor(43, 45, 50), QColor(222, 224, 228)
    muted, accent = QColor(140, 144, 150), QColor(76, 141, 246)
    for role, colour in ((QPalette.ColorRole.Window, window),
                         (QPalette.ColorRole.WindowText, text),
                         (QPalette.ColorRole.Base, base),
                         (QPalette.ColorRole.AlternateBase, QColor(38, 40, 45)),
                         (QPalette.ColorRole.ToolTipBase, window),
                         (QPalette.ColorRole.ToolTipText, text),
                         (QPalette.ColorRole.PlaceholderText, muted),
                         (QPalette.ColorRole.Text, text),
                         (QPalette.ColorRole.Button, window),
                         (QPalette.ColorRole.ButtonText, text),
                         (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
                         (QPalette.ColorRole.Link, accent),
                         (QPalette.ColorRole.Highlight, accent),
                         (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
                         (QPalette.ColorRole.Mid, QColor(60, 62, 68)),
                         (QPalette.ColorRole.Dark, QColor(24, 25, 28))):
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, muted)
    return p


def style_sheet(dark: bool) -> str:
    name = "dark.qss" if dark else "light.qss"
    return resources.files("growthkit.resources").joinpath("styles", name).read_text("utf-8")


def app_icon() -> QIcon:
    path = resources.files("growthkit.resources").joinpath("icons", "growthkit.svg")
    return QIcon(str(path))


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply "system", "light" or "dark"; answers whether the result is dark. Widgets that
    paint their own colours (charts) read the application property `darkTheme`."""
    app.setStyle("Fusion")
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    app.setStyleSheet(style_sheet(dark))
    app.setProperty("darkTheme", dark)
    return dark
