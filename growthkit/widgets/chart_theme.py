"""Charts that follow the widget palette (light or dark): backgrounds, axes, series colours;
and the plain-text labels the chart docks share."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# Okabe-Ito: told apart with colour-vision deficiencies, readable on light and dark.
SERIES = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31",
          "#999999"]
UP, DOWN = "#2E7D32", "#C62828"
UP_DARK, DOWN_DARK = "#81C784", "#EF9A9A"

pg.setConfigOptions(antialias=True)


def is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Window).lightness() < 128


def change_colour(widget: QWidget, change: float | None) -> QColor | None:
    """Green for a rise, red for a fall (lighter shades on a dark palette); None: no change."""
    if change is None or abs(change) < 0.05:
        return None
    dark = is_dark(widget)
    return QColor((UP_DARK if dark else UP) if change > 0 else (DOWN_DARK if dark else DOWN))


def muted_text(palette: QPalette) -> QColor:
    """Secondary text: the text colour a third of the way towards the background."""
    fg, bg = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    return QColor(*(round(a * 0.65 + b * 0.35) for a, b in (
        (fg.red(), bg.red()), (fg.green(), bg.green()), (fg.blue(), bg.blue()))))


def series_colour(i: int) -> str:
    return SERIES[i % len(SERIES)]


def style_plot(plot: pg.PlotWidget, palette: QPalette) -> None:
    """Background, axis lines, tick text and labels from the palette."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    line = QColor(text)
    line.setAlpha(150)
    plot.setBackground(base)
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(line, width=1))
        axis.setTextPen(pg.mkPen(text))  # tick text and the axis label
    if item.titleLabel is not None:
        item.titleLabel.item.setDefaultTextColor(text)


def palette_changed(event: QEvent) -> bool:
    """Whether a widget's changeEvent is a palette (theme) change it should restyle for."""
    return event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def text_label(text: str = "", name: str | None = None) -> QLabel:
    """Plain text (never HTML) that wraps instead of widening its dock."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setMinimumWidth(40)
    if name:
        label.setObjectName(name)
    return label
