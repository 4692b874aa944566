"""An offline snapshot in the real console: saved from the File menu with progress, opened
with the server stopped, every lead dock showing the numbers they showed online, a banner
naming the file, app and range, and the snapshot listed under recent snapshots."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from lead_story import DAY, lead_story  # noqa: E402
from qt_console import WAIT_MS, wait_loaded  # noqa: E402

from growthkit.console.connection import open_snapshot  # noqa: E402
from growthkit.console.file_actions import recent_snapshots  # noqa: E402


def open_lead(qtbot, window, fp: str):
    profile = window.docks["lead_profile"].widget
    window.pick_lead(fp)
    qtbot.waitUntil(lambda: profile.header.fingerprint.text() == fp
                    and len(profile.timeline.lines()) > 0, timeout=WAIT_MS)
    return profile


def run_funnel(qtbot, window) -> list[int]:
    funnel = window.docks["funnel"].widget
    funnel.rows[0].event_box.setCurrentText("signup_completed")
    funnel.rows[1].event_box.setCurrentText("project_created")
    funnel.window_box.setValue(30)
    funnel.unit.setCurrentText("days")
    funnel.range.setCurrentText("Last 7 days")
    funnel.step_model.set_rows([])
    funnel.run()
    qtbot.waitUntil(lambda: len(funnel.step_model.rows) == 2, timeout=WAIT_MS)
    return [r["users"] for r in funnel.step_model.rows]


def test_snapshot_opens_without_the_server_with_the_same_numbers(
        qtbot, live_server, open_console, tmp_path):
    story = lead_story(live_server)
    online = open_console(live_server.base_url, story.api.keys.secret)
    wait_loaded(qtbot, online, "leads", "segments")
    profile = open_lead(qtbot, online, "fp_ada")
    seen = (profile.header_numbers(), profile.timeline.lines(),
            [s["sessionId"] for s in profile.sessions.sessions.rows])
    funnel_online = run_funnel(qtbot, online)
    leads_online = sorted(online.docks["leads"].widget.table.fingerprints())

    # Save offline snapshot… : the last 7 days, through the dialog on a worker.
    online.save_snapshot_action.trigger()
    dialog = online.transfer_dialog
    path = tmp_path / "shop.gksnap"
    dialog.path.setText(str(path))
    dialog.start.setDate(dialog.end.date().addDays(-6))
    dialog.begin()
    qtbot.waitUntil(lambda: dialog.result is not None or "Failed" in dialog.status.text(),
                    timeout=WAIT_MS)
    assert dialog.result is not None, dialog.status.text()
    assert dialog.result["rows"] == 6 and dialog.result["bytes"] == path.stat().st_size
    assert story.t1 > story.t3 - 7 * DAY  # every fixture event is inside the range

    live_server.uvicorn.should_exit = True  # no server from here on
    online.close()
    console = open_console.console()
    window = console.open(open_snapshot(path))
    qtbot.waitExposed(window)
    assert window.stream is None  # live feed off
    banner = window.snapshot_banner.text()
    assert "shop.gksnap" in banner and "app Shop" in banner and "→" in banner
    assert str(path) in recent_snapshots(console.settings)
    wait_loaded(qtbot, window, "leads", "segments")
    assert sorted(window.docks["leads"].widget.table.fingerprints()) == leads_online
    offline = open_lead(qtbot, window, "fp_ada")
    assert (offline.header_numbers(), offline.timeline.lines(),
            [s["sessionId"] for s in offline.sessions.sessions.rows]) == seen
    assert run_funnel(qtbot, window) == funnel_online == [1, 1]
    # Search works offline too.
    leads = window.docks["leads"].widget
    leads.query.setText("bob@")
    leads.search_now()
    qtbot.waitUntil(lambda: leads.table.fingerprints() == ["fp_bob"], timeout=WAIT_MS)
    assert not window.save_snapshot_action.isEnabled()
