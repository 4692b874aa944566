"""The frame around each dock's widget: busy indicator, error text and "last refreshed"."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget


def ago(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'just now', '42 s ago', '3 min ago', or the local time for older refreshes."""
    if when is None:
        return "not loaded yet"
    seconds = int(((now or dt.datetime.now(dt.UTC)) - when).total_seconds())
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return when.astimezone().strftime("at %H:%M")


class DockFrame(QWidget):
    """Holds one content widget; shows its loading state without hiding or clearing it, so
    a refresh never flickers and the user's zoom, selection and scroll stay put."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.setObjectName(f"{content.objectName()}Frame")
        self.busy = QProgressBar(self)
        self.busy.setObjectName("busy")
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setFixedHeight(3)
        self.busy.setTextVisible(False)
        policy = self.busy.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # showing it must not push the content down
        self.busy.setSizePolicy(policy)
        self.busy.setVisible(False)
        self.error = QLabel(self)
        self.error.setObjectName("dockError")
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # server text is never markup
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.refreshed_label = QLabel("not loaded yet", self)
        self.refreshed_label.setObjectName("lastRefreshed")
        self.refreshed_label.setTextFormat(Qt.TextFormat.PlainText)
        self.refreshed_at: dt.datetime | None = None
        self.note = ""

        footer = QHBoxLayout()
        footer.setContentsMargins(6, 0, 6, 2)
        footer.addWidget(self.error, 1)
        footer.addStretch(0)
        footer.addWidget(self.refreshed_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.busy)
        layout.addWidget(content, 1)
        layout.addLayout(footer)

        self._tick = QTimer(self)  # keeps "N s ago" true without a reload
        self._tick.timeout.connect(self._show_age)
        self._tick.start(5000)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def is_busy(self) -> bool:
        return self.busy.isVisible()

    def set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))

    def mark_refreshed(self, when: dt.datetime | None = None, note: str = "") -> None:
        """A fresh answer is shown; `note` says where it came from when not the server."""
        self.refreshed_at = when or dt.datetime.now(dt.UTC)
        self.note = note
        self.set_error(None)
        self._show_age()

    def _show_age(self) -> None:
        text = ago(self.refreshed_at)
        if self.refreshed_at is not None:
            text = f"updated {text}" + (f" · {self.note}" if self.note else "")
        self.refreshed_label.setText(text)
