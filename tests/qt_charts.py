"""Qt test helpers for the chart docks: where a bar is on screen, a pointer moving there."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def hover(viewport: Any, pos: QPoint) -> None:
    """The pointer moving onto pos (a plain move event: no button held)."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(viewport.mapToGlobal(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def bar_point(widget: Any, name: str) -> QPoint:
    """Where the bar of event `name` is in an EventFrequencyWidget (viewport coordinates)."""
    row = [b["eventName"] for b in widget.bars].index(name)
    vb = widget.bar_plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(widget.bars[row]["count"] / 2, len(widget.bars) - 1 - row))
    return widget.bar_plot.mapFromScene(scene)
