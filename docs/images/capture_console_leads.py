"""Regenerate docs/images/console-lead.png, console-funnel.png (and console-offline.png when
a snapshot can be taken): the real console at 1600×1000 on a demo store, offscreen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/images/capture_console_leads.py
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import uvicorn  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from growthkit.core import apps as core_apps  # noqa: E402
from growthkit.core.clock import now_ms  # noqa: E402
from growthkit.core.schema import credit_operations, leads  # noqa: E402
from growthkit.core.store import migrate, open_engine, write_connection  # noqa: E402
from growthkit.server.app import create_app  # noqa: E402
from growthkit.server.demo import DEMO_SETTINGS  # noqa: E402
from growthkit.server.demo_history import write_history  # noqa: E402
from growthkit.server.settings import Settings  # noqa: E402

OUT = Path(__file__).resolve().parent
DAY = 86_400_000


def save(window, name: str) -> None:  # noqa: ANN001
    image = window.grab()
    image.save(str(OUT / name))
    print(f"{name}: {image.width()}x{image.height()}")


def wait(qt: QApplication, condition, seconds: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the console")
        qt.processEvents()
        time.sleep(0.02)


def settle(qt: QApplication, seconds: float = 0.8) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qt.processEvents()
        time.sleep(0.02)


def only(qt: QApplication, window, *names: str) -> None:  # noqa: ANN001
    """Show just these docks side by side (the first one narrow), the window 1600×1000."""
    for name, d in window.docks.items():
        d.dock.setVisible(name in names)
    docks = [window.docks[n].dock for n in names]
    for dock in docks:
        window.removeDockWidget(dock)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, docks[0])
    for dock in docks[1:]:
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    for dock in docks:
        dock.show()
    window.resize(1600, 1000)
    settle(qt, 0.3)
    window.resizeDocks(docks[:2], [440, 1160], Qt.Orientation.Horizontal)
    settle(qt, 0.3)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gk-shots-"))
    url = f"sqlite:///{tmp / 'demo.db'}"
    engine = open_engine(url)
    migrate(engine)
    with write_connection(engine) as conn, conn.begin():
        app = core_apps.create_app(conn, "Demo", DEMO_SETTINGS)
    now = now_ms()
    write_history(engine, app.app.id, start=now - 21 * DAY, end=now, leads=400, seed=7,
                  log=lambda _m: None)
    with engine.connect() as conn:  # a lead with a profile, many events and a ledger
        fp = conn.execute(
            select(leads.c.fingerprint).where(leads.c.email.is_not(None))
            .where(leads.c.fingerprint.in_(select(credit_operations.c.fingerprint_id)
                                           .group_by(credit_operations.c.fingerprint_id)
                                           .having(func.count() > 3)))
            .order_by(leads.c.events.desc()).limit(1)).scalar_one()
    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(database_url=url)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)

    from growthkit.console.app import Console
    from growthkit.console.connection import open_server
    from growthkit.console.settings import ConsoleSettings

    qt = QApplication.instance() or QApplication(sys.argv[:1])
    console = Console(qt, ConsoleSettings(tmp / "console.ini"))
    window = console.open(open_server(f"http://127.0.0.1:{port}", app.secret_key))
    window.resize(1600, 1000)
    wait(qt, lambda: window.docks["leads"].frame.refreshed_at is not None)

    # The lead profile: searched by email, opened, its timeline shown.
    leads_dock = window.docks["leads"].widget
    profile = window.docks["lead_profile"].widget
    with engine.connect() as conn:
        email = conn.execute(select(leads.c.email).where(leads.c.fingerprint == fp)).scalar()
    leads_dock.query.setText(email.split("@")[0])
    leads_dock.search_now()
    wait(qt, lambda: fp in leads_dock.table.fingerprints())
    window.pick_lead(fp)
    wait(qt, lambda: profile.header.fingerprint.text() == fp and profile.timeline.lines())
    profile.tabs.setCurrentIndex(0)
    only(qt, window, "leads", "lead_profile")
    settle(qt)
    save(window, "console-lead.png")

    # The funnel with a drill-down into the leads that dropped at step 2.
    only(qt, window, "segments", "funnel")
    window.resizeDocks([window.docks["segments"].dock, window.docks["funnel"].dock],
                       [360, 1240], Qt.Orientation.Horizontal)
    funnel = window.docks["funnel"].widget
    wait(qt, lambda: "signup_completed" in funnel.names)
    funnel.rows[0].event_box.setCurrentText("page_viewed")
    funnel.rows[1].event_box.setCurrentText("signup_started")
    funnel.add_step("signup_completed")
    funnel.add_step("purchase_completed")
    funnel.window_box.setValue(7)
    funnel.unit.setCurrentText("days")
    funnel.run()
    wait(qt, lambda: len(funnel.step_model.rows) == 4)
    funnel.select_step(3)
    funnel.request_leads("dropped")
    wait(qt, lambda: funnel.lead_model.rows and funnel.hist_bars.opts["height"] is not None
         and len(funnel.hist_bars.opts["height"]))
    settle(qt)
    save(window, "console-funnel.png")

    source = window.session.source
    if hasattr(source, "snapshot"):
        try:
            shot_offline(qt, console, window, tmp, now)
        except Exception as exc:  # noqa: BLE001 - the other two shots stand on their own
            print(f"no offline screenshot: {exc}")
    window.close()
    console.shutdown()
    server.should_exit = True


def shot_offline(qt: QApplication, console, window, tmp: Path, now: int) -> None:  # noqa: ANN001
    from growthkit.console.file_actions import open_snapshot_file

    path = tmp / "demo-week.gksnap"
    window.session.source.snapshot(path, start=now - 7 * DAY, end=now)
    server_window = window
    open_snapshot_file(console, window, str(path))
    wait(qt, lambda: console.window is not server_window)
    offline = console.window
    offline.resize(1600, 1000)
    wait(qt, lambda: offline.docks["leads"].frame.refreshed_at is not None)
    fp = offline.docks["leads"].widget.table.fingerprints()[0]
    offline.pick_lead(fp)
    profile = offline.docks["lead_profile"].widget
    wait(qt, lambda: profile.header.fingerprint.text() == fp and profile.history.model.rows)
    only(qt, offline, "leads", "lead_profile")
    profile.tabs.setCurrentIndex(2)  # Activity: the per-day bars and patterns
    settle(qt, 1.5)
    save(offline, "console-offline.png")
    offline.close()


if __name__ == "__main__":
    main()
