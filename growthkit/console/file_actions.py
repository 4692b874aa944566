"""File menu additions: Export… (Ctrl+E), Save offline snapshot…, Open snapshot…, recent
snapshots, and the banner naming an open snapshot (its file, app and time range)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QToolBar

RECENT_KEY = "snapshots/recent"
RECENT_MAX = 8


def recent_snapshots(settings: Any) -> list[str]:
    raw = settings.q.value(RECENT_KEY, "")
    try:
        items = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        return []
    return [p for p in items if isinstance(p, str)]


def remember_snapshot(settings: Any, path: str) -> None:
    items = [str(Path(path))] + [p for p in recent_snapshots(settings) if p != str(Path(path))]
    settings.q.setValue(RECENT_KEY, orjson.dumps(items[:RECENT_MAX]).decode())
    settings.q.sync()


def snapshot_banner(session: Any) -> str:
    """"Offline snapshot shop.gksnap · app Shop · 2026-11-01 → 2026-12-01 (UTC)"."""
    meta = {}
    source = session.source
    read = getattr(source, "meta", None)
    try:
        meta = (read() if callable(read) else read) or {}
    except Exception:  # an old or foreign file: the banner still names it
        meta = {}
    span = ""
    start, end = meta.get("from") or meta.get("start"), meta.get("to") or meta.get("end")
    if start or end:
        span = f" · {str(start or '…')[:10]} → {str(end or '…')[:10]} (UTC)"
    app = session.app_name or meta.get("appName") or session.app_id
    return f"Offline snapshot {Path(session.url).name} · app {app}{span} · live feed off"


def _file_menu(window: Any) -> QMenu:
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == "File":
            return action.menu()
    return window.menuBar().addMenu("&File")


def install(console: Any, window: Any) -> None:
    """Add the export and snapshot actions to `window`'s File menu (before Settings)."""
    menu = _file_menu(window)
    before = window.settings_action
    export = QAction("&Export…", window)
    export.setObjectName("exportAction")
    export.setShortcut(QKeySequence("Ctrl+E"))
    export.triggered.connect(lambda: open_transfer(console, window, "export"))
    save = QAction("Save offline &snapshot…", window)
    save.setObjectName("saveSnapshotAction")
    save.setEnabled(hasattr(window.session.source, "snapshot"))
    save.triggered.connect(lambda: open_transfer(console, window, "snapshot"))
    open_ = QAction("&Open snapshot…", window)
    open_.setObjectName("openSnapshotAction")
    open_.setShortcut(QKeySequence.StandardKey.Open)
    open_.triggered.connect(lambda: _ask_snapshot(console, window))
    recent = QMenu("Recent snapshots", window)
    recent.setObjectName("recentSnapshots")
    recent.aboutToShow.connect(lambda: _fill_recent(console, window, recent))
    for action in (export, save, open_):
        menu.insertAction(before, action)
    menu.insertMenu(before, recent)
    menu.insertSeparator(before)
    window.export_action, window.save_snapshot_action = export, save
    window.open_snapshot_action, window.recent_menu = open_, recent
    if window.session.offline:
        bar = QToolBar("Snapshot", window)
        bar.setObjectName("snapshotBar")
        bar.setMovable(False)
        label = QLabel(snapshot_banner(window.session))
        label.setObjectName("snapshotBanner")
        label.setStyleSheet("QLabel { background: #fff3cd; color: #664d03; padding: 4px 8px; }")
        bar.addWidget(label)
        window.addToolBarBreak()
        window.addToolBar(bar)
        window.snapshot_banner = label
        remember_snapshot(console.settings, window.session.url)


def open_transfer(console: Any, window: Any, kind: str) -> Any:
    from growthkit.console.transfer_dialog import TransferDialog

    dialog = TransferDialog(kind, window.session.source, console.workers,
                            window.context().kwargs(), parent=window)
    dialog.setModal(False)
    dialog.show()
    window.transfer_dialog = dialog
    return dialog


def _ask_snapshot(console: Any, window: Any) -> None:
    name, _ = QFileDialog.getOpenFileName(window, "Open snapshot", "",
                                          "GrowthKit snapshot (*.gksnap *.sqlite *.db);;"
                                          "All files (*)")
    if name:
        open_snapshot_file(console, window, name)


def _fill_recent(console: Any, window: Any, menu: QMenu) -> None:
    menu.clear()
    items = recent_snapshots(console.settings)
    if not items:
        menu.addAction("(none yet)").setEnabled(False)
    for path in items:
        action = menu.addAction(path)
        action.triggered.connect(lambda _=False, p=path: open_snapshot_file(console, window, p))


def open_snapshot_file(console: Any, window: Any, path: str) -> None:
    """Open `path` on a worker; the new window replaces this one when it opened."""
    from growthkit.console.connection import classify, open_snapshot

    def opened(session: Any) -> None:
        old_source = window.session.source
        if console.tray is not None:
            console.tray.hide()
        console.open(session)
        window.close()
        close = getattr(old_source, "close", None)
        if close is not None:
            close()

    console.workers.submit(lambda: open_snapshot(path), opened,
                           lambda exc: window.show_error("Cannot open the snapshot",
                                                         classify(exc).text()))
