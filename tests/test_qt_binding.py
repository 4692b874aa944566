"""The Qt binding in use does not lose references to None (PySide6 6.12.0 does: every call
of a method returning nothing takes one, so a console refreshing its charts for a while
dies with 'none_dealloc'/'bool_dealloc'; pyproject.toml keeps it out)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QPen  # noqa: E402


def test_void_calls_keep_none_alive(qapp):
    pen = QPen()
    before = sys.getrefcount(None)
    for _ in range(1000):
        pen.setWidthF(1.0)
        qapp.processEvents()
    assert sys.getrefcount(None) >= before - 10
