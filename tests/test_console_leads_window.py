"""The real console on a live server: find a lead by email, open it, read its profile and
timeline; edit its email; build a funnel and list who dropped; a segment opens its leads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from lead_story import lead_story  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from qt_console import WAIT_MS, wait_loaded  # noqa: E402


def test_support_journey_find_open_read_edit(qtbot, live_server, open_console):
    story = lead_story(live_server)
    window = open_console(live_server.base_url, story.api.keys.secret)
    wait_loaded(qtbot, window, "leads")
    leads = window.docks["leads"].widget
    assert sorted(leads.table.fingerprints()) == ["fp_ada", "fp_bob", "fp_carol"]
    qtbot.keyClicks(leads.query, "ada@example")
    qtbot.waitUntil(lambda: leads.table.fingerprints() == ["fp_ada"], timeout=WAIT_MS)

    leads.table.setCurrentIndex(leads.table.proxy.index(0, 0))
    qtbot.keyClick(leads.table, Qt.Key.Key_Return)
    profile = window.docks["lead_profile"].widget
    qtbot.waitUntil(lambda: profile.header.fingerprint.text() == "fp_ada", timeout=WAIT_MS)
    lead = story.api.get("/leads/fp_ada")
    numbers = profile.header_numbers()
    assert (numbers["events"], numbers["sessions"], numbers["creditBalance"]) == (
        str(lead["events"]), str(lead["sessions"]), str(lead["creditBalance"]))
    lines = profile.timeline.lines()
    assert [line.split(" - ", 1)[1] for line in lines if " - " in line] == [
        "🔵 signup_completed (method: email)", "🔵 page_viewed (path: /pricing)",
        "💰 purchase (10 credits earned)", "💰 create-project (5 credits spent)",
        "🔵 project_created"]
    assert "— 3 days —" in lines
    assert [s["sessionId"] for s in profile.sessions.sessions.rows] == ["s_second", "s_first"]

    # A session's events, fetched when it is selected.
    profile.sessions.select_session("s_first")
    qtbot.waitUntil(lambda: len(profile.sessions.events.rows) == 2, timeout=WAIT_MS)

    # The timeline filtered to credit operations, through the console's worker.
    profile.timeline.kind.setCurrentText("Credits only")
    qtbot.waitUntil(lambda: [line.split(" - ", 1)[1] for line in profile.timeline.lines()
                             if " - " in line] == ["💰 purchase (10 credits earned)",
                                                   "💰 create-project (5 credits spent)"],
                    timeout=WAIT_MS)

    # Editing the email: the server stores it and the profile shows it.
    profile.header.email.setText("ada@lovelace.dev")
    profile.header.save.click()
    qtbot.waitUntil(lambda: story.api.get("/leads/fp_ada")["email"] == "ada@lovelace.dev",
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: profile.header.email.text() == "ada@lovelace.dev"
                    and not profile.header.save.isEnabled(), timeout=WAIT_MS)


def test_analyst_journey_funnel_drop_off_segment(qtbot, live_server, open_console):
    story = lead_story(live_server)
    window = open_console(live_server.base_url, story.api.keys.secret)
    wait_loaded(qtbot, window, "leads", "segments")
    funnel = window.docks["funnel"].widget
    qtbot.waitUntil(lambda: "signup_completed" in funnel.names, timeout=WAIT_MS)
    funnel.rows[0].event_box.setCurrentText("signup_completed")
    funnel.rows[1].event_box.setCurrentText("project_created")
    funnel.window_box.setValue(30)
    funnel.unit.setCurrentText("days")
    funnel.run()
    qtbot.waitUntil(lambda: len(funnel.step_model.rows) == 2, timeout=WAIT_MS)
    answer = story.api.post("/analytics/funnel", funnel.body)
    assert [r["users"] for r in funnel.step_model.rows] == [s["users"] for s in answer["steps"]]
    assert [r["users"] for r in funnel.step_model.rows] == [1, 1]
    funnel.select_step(2)
    qtbot.waitUntil(lambda: funnel.hist_bars.opts["height"] is not None
                    and sum(funnel.hist_bars.opts["height"]) == 1, timeout=WAIT_MS)
    funnel.request_leads("converted")
    qtbot.waitUntil(lambda: funnel.leads_shown() == ["fp_ada"], timeout=WAIT_MS)

    segments = window.docks["segments"].widget
    funnel.save_as_segment("Made a project")
    qtbot.waitUntil(lambda: segments.count_of("Made a project") == 1, timeout=WAIT_MS)
    segments.open_segment("Made a project")
    leads = window.docks["leads"].widget
    qtbot.waitUntil(lambda: leads.table.fingerprints() == ["fp_ada"], timeout=WAIT_MS)
    assert leads.banner.text() == "Made a project: 1 lead"
