"""Leads dock and lead profile, offscreen, handed a live server's own answers: search by
email and fingerprint prefix, stale answers dropped, the profile's numbers, the unified
timeline's order, icons and gaps, sessions and their events, credits, paging, edits."""

from __future__ import annotations

import datetime as dt
import os
import re
from zoneinfo import ZoneInfo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from lead_story import Api, lead_story  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from growthkit.core.clock import now_ms, to_iso  # noqa: E402
from growthkit.widgets.lead_profile import LeadProfileWidget  # noqa: E402
from growthkit.widgets.leads import LeadsWidget  # noqa: E402

UTC = ZoneInfo("UTC")
DAY_MS = 86_400_000


@pytest.fixture
def story(live_server):
    return lead_story(live_server)


def hms(ms: int) -> str:
    return to_iso(ms)[11:19]


def day(ms: int) -> str:
    """The timeline's day row for a time, in UTC."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d · %A")


def items(lines: list[str]) -> list[str]:
    """The timeline's lines without its day rows."""
    return [line for line in lines if "·" not in line]


def answer(api, request: dict) -> dict:
    """What the console does for a search: GET /leads with the request, tagged by seq."""
    page = api.get("/leads", q=request["search"], sort=request["sort"])
    return {**page, "seq": request["seq"]}


def test_search_by_email_and_fingerprint_prefix(qtbot, story):
    dock = LeadsWidget()
    qtbot.addWidget(dock)
    requests: list[dict] = []
    dock.search_requested.connect(requests.append)
    with qtbot.waitSignal(dock.search_requested, timeout=2000):
        qtbot.keyClicks(dock.query, "ada@exa")
    # Debounced: one request for the whole word, not one per keystroke.
    assert [r["search"] for r in requests] == ["ada@exa"]
    dock.show_data(answer(story.api, requests[-1]))
    assert dock.table.fingerprints() == ["fp_ada"]
    dock.query.clear()
    qtbot.keyClicks(dock.query, "fp_b")
    dock.search_now()
    dock.show_data(answer(story.api, requests[-1]))
    assert dock.table.fingerprints() == ["fp_bob"]
    # By name, any case; the row shows the email the server has.
    dock.query.setText("LOVELACE")
    dock.search_now()
    dock.show_data(answer(story.api, requests[-1]))
    assert dock.table.fingerprints() == ["fp_ada"]
    assert dock.table.model_.rows[0]["email"] == "ada@example.com"


def test_a_stale_answer_never_replaces_a_newer_one(qtbot, story):
    dock = LeadsWidget()
    qtbot.addWidget(dock)
    requests: list[dict] = []
    dock.search_requested.connect(requests.append)
    dock.query.setText("fp_")
    dock.search_now()
    dock.query.setText("fp_car")
    dock.search_now()
    old, new = requests
    assert new["seq"] > old["seq"]
    old_answer, new_answer = answer(story.api, old), answer(story.api, new)
    assert len(old_answer["data"]) == 3
    dock.show_data(new_answer)
    dock.show_data(old_answer)  # the slow answer to the old keystroke arrives last
    assert dock.table.fingerprints() == ["fp_carol"]
    # And an old answer arriving before the newer one is dropped too.
    dock.query.setText("fp_a")
    dock.search_now()
    dock.show_data(answer(story.api, requests[-2]))
    assert dock.table.fingerprints() == ["fp_carol"]
    dock.show_data(answer(story.api, requests[-1]))
    assert dock.table.fingerprints() == ["fp_ada"]


def test_sorting_and_opening_a_lead(qtbot, story):
    dock = LeadsWidget()
    qtbot.addWidget(dock)
    requests: list[dict] = []
    dock.search_requested.connect(requests.append)
    dock.sort.setCurrentText("Events")
    assert requests[-1]["sort"] == "events"
    dock.show_data(answer(story.api, requests[-1]))
    assert dock.table.fingerprints() == ["fp_ada", "fp_carol", "fp_bob"]
    dock.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)  # last seen
    assert dock.table.fingerprints()[0] == "fp_ada"
    opened: list[str] = []
    dock.lead_requested.connect(opened.append)
    with qtbot.waitActive(dock):
        dock.show()
        dock.activateWindow()
    dock.table.setFocus()
    dock.table.setCurrentIndex(dock.table.proxy.index(1, 0))
    qtbot.keyClick(dock.table, Qt.Key.Key_Return)
    index = dock.table.proxy.index(2, 0)
    rect = dock.table.visualRect(index)
    qtbot.mouseClick(dock.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(dock.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.keyClick(dock.table, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert dock.jump.hasFocus()
    qtbot.keyClicks(dock.jump, "fp_carol")
    qtbot.keyClick(dock.jump, Qt.Key.Key_Return)
    assert opened == dock.table.fingerprints()[1:3] + ["fp_carol"]


def profile_data(api, fp: str) -> dict:
    """What the console hands the profile when a lead opens."""
    return {"lead": api.get(f"/leads/{fp}"), "timeline": api.get(f"/leads/{fp}/timeline"),
            "sessions": api.get(f"/leads/{fp}/sessions"),
            "credits": api.get(f"/leads/{fp}/credits")}


def test_profile_numbers_equal_the_server(qtbot, story):
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.set_time_zone(UTC)
    data = profile_data(story.api, "fp_ada")
    widget.show_data(data)
    lead = data["lead"]
    assert (lead["events"], lead["sessions"], lead["creditBalance"]) == (3, 2, 5)
    numbers = widget.header_numbers()
    assert numbers["events"] == "3" and numbers["sessions"] == "2"
    assert numbers["creditBalance"] == "5"
    assert numbers["firstSeen"] == to_iso(story.t1)[:19].replace("T", " ")
    assert widget.header.fingerprint.text() == "fp_ada"
    assert widget.header.email.text() == "ada@example.com"
    assert widget.header.name.text() == "Ada Lovelace"
    assert widget.credits.balance.text() == "Balance: 5 credits"
    assert [r["amount"] for r in widget.credits.ledger.rows] == [-5, 10, 0]


def test_timeline_order_icons_and_gaps(qtbot, story):
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.set_time_zone(UTC)
    widget.show_data(profile_data(story.api, "fp_ada"))
    _, purchase, spend = story.credits
    lines = widget.timeline.lines()
    assert items(lines) == [
        f"{hms(story.t1)} - 🔵 signup_completed (method: email)",
        "— 28 s —",
        f"{hms(story.t2)} - 🔵 page_viewed (path: /pricing)",
        "— 3 days —",
        f"{hms(purchase)} - 💰 purchase (10 credits earned)",
        f"{hms(spend)} - 💰 create-project (5 credits spent)",
        "— 35 min —",
        f"{hms(story.t3)} - 🔵 project_created",
    ]
    # A day row opens the list and goes before the first item of each later day: every
    # item sits under the row of its own day.
    times = [story.t1, story.t2, purchase, spend, story.t3]
    assert lines[0] == day(story.t1)
    assert [line for line in lines if "·" in line] == list(dict.fromkeys(map(day, times)))
    under, current = [], None
    for line in lines:
        current = line if "·" in line else current
        if " - " in line:
            under.append((line[:8], current))
    assert under == [(hms(t), day(t)) for t in times]
    # The time axis: one spot per item on its kind's lane; clicking one selects its row.
    spots = widget.timeline.scatter.points()
    assert sorted(p.pos().y() for p in spots) == [0, 0, 1, 1, 1]
    credit_spot = next(p for p in spots if p.pos().y() == 0)
    widget.timeline._point_clicked(widget.timeline.scatter, [credit_spot])
    selected = lines[widget.timeline.selected_row()]
    assert selected == f"{hms(purchase)} - 💰 purchase (10 credits earned)"


def test_timeline_day_rows_follow_the_zone(qtbot, story):
    """Ten seconds either side of a UTC midnight: two days in UTC, one in Kathmandu
    (+05:45), where both are early morning."""
    midnight = (now_ms() // DAY_MS - 2) * DAY_MS
    story.api.track("fp_night", [("before", midnight - 10_000), ("after", midnight + 10_000)])
    page = story.api.get("/leads/fp_night/timeline")
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.set_time_zone(UTC)
    widget.show_data({"lead": story.api.get("/leads/fp_night"), "timeline": page})
    assert widget.timeline.lines() == [
        day(midnight - 10_000), "23:59:50 - 🔵 before", "— 20 s —",
        day(midnight), "00:00:10 - 🔵 after"]
    widget.set_time_zone(ZoneInfo("Asia/Kathmandu"))
    widget.show_data({"lead": story.api.get("/leads/fp_night"), "timeline": page})
    assert widget.timeline.lines() == [
        dt.datetime.fromtimestamp(midnight / 1000, ZoneInfo("Asia/Kathmandu"))
        .strftime("%Y-%m-%d · %A"), "05:44:50 - 🔵 before", "— 20 s —", "05:45:10 - 🔵 after"]


def test_timeline_filters_and_pages(qtbot, story):
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.set_time_zone(UTC)
    widget.show_data({"lead": story.api.get("/leads/fp_ada")})
    asked: list[tuple[str, dict]] = []
    widget.timeline_requested.connect(lambda fp, q: asked.append((fp, q)))

    def serve(fp: str, q: dict) -> None:
        params = {k: v for k, v in q.items() if v is not None}
        page = story.api.get(f"/leads/{fp}/timeline", **{
            {"start": "from", "end": "to"}.get(k, k): v for k, v in params.items()})
        widget.show_timeline(page, append="cursor" in q)

    widget.timeline.kind.setCurrentText("Credits only")
    fp, q = asked[-1]
    assert fp == "fp_ada" and q["kind"] == "credit"
    serve(fp, q)
    assert [line.split(" - ")[1] for line in items(widget.timeline.lines())] == [
        "💰 purchase (10 credits earned)", "💰 create-project (5 credits spent)"]
    widget.timeline.kind.setCurrentText("Events only")
    serve(*asked[-1])
    assert len(items(widget.timeline.lines())) == 5  # 3 events and 2 gaps
    # Paged as you scroll: a page of one item, then the rest as the list scrolls.
    widget.timeline.kind.setCurrentText("Events and credits")
    fp, q = asked[-1]
    serve(fp, {**q, "limit": 2})
    assert len(items(widget.timeline.lines())) == 3 and widget.timeline.next_cursor
    while widget.timeline.next_cursor:
        widget.timeline.load_more()
        fp, q = asked[-1]
        serve(fp, {**q, "limit": 2})
    shown = items(widget.timeline.lines())
    assert shown[-2:] == ["— 35 min —", f"{hms(story.t3)} - 🔵 project_created"]
    assert len(shown) == 8
    # Another lead opens unfiltered, and its controls say so.
    widget.timeline.kind.setCurrentText("Credits only")
    widget.show_data(profile_data(story.api, "fp_bob"))
    assert widget.timeline.kind.currentText() == "Events and credits"
    assert [line.split(" - ")[1] for line in items(widget.timeline.lines())] == ["🔵 page_viewed"]


def test_sessions_and_their_events(qtbot, story):
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.set_time_zone(UTC)
    widget.show_data(profile_data(story.api, "fp_ada"))
    sessions = widget.sessions.sessions.rows
    assert [s["sessionId"] for s in sessions] == ["s_second", "s_first"]
    first = sessions[1]
    assert (first["events"], first["pageViews"], first["durationSeconds"]) == (2, 1, 28.0)
    assert first["entryPage"] == "https://app.example/pricing"
    asked: list[tuple[str, str]] = []
    widget.session_requested.connect(lambda fp, sid: asked.append((fp, sid)))
    widget.sessions.select_session("s_first")
    assert asked == [("fp_ada", "s_first")]
    widget.show_session_events(story.api.get("/leads/fp_ada/activities", sessionId="s_first",
                                             order="asc"))
    events = widget.sessions.events.rows
    assert [e["eventName"] for e in events] == ["signup_completed", "page_viewed"]
    view = widget.sessions.session_table
    assert [view.model().data(view.model().index(i, 1)) for i in (0, 1)] == ["0 s", "28 s"]


def test_activity_tab_pages_and_day_bars(qtbot, story):
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.set_time_zone(UTC)
    widget.show_data({"lead": story.api.get("/leads/fp_ada")})
    asked: list[dict] = []
    widget.history_requested.connect(lambda fp, q: asked.append(q))
    widget.history.order.setCurrentIndex(1)
    widget.history.reload()
    q = asked[-1]
    page = story.api.get("/leads/fp_ada/activities", **{"from": q["start"], "to": q["end"]},
                         order=q["order"], limit=2)
    days = story.api.get("/analytics/events", fingerprint="fp_ada", interval="day",
                         **{"from": q["start"], "to": q["end"]})
    widget.show_history({"activities": page, "days": days})
    assert [r["eventName"] for r in widget.history.model.rows] == ["signup_completed",
                                                                   "page_viewed"]
    assert widget.history.next_cursor
    heights = widget.history.day_bars.opts["height"]
    assert sum(heights) == 3 and max(heights) == 2
    top = [widget.history.top.item(i).text().split()[-1]
           for i in range(widget.history.top.count())]
    assert sorted(top) == ["page_viewed", "project_created", "signup_completed"]


def test_editing_email_and_name_asks_for_an_update(qtbot, story):
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.show_data({"lead": story.api.get("/leads/fp_ada")})
    edits: list[tuple[str, dict]] = []
    widget.lead_edited.connect(lambda fp, ch: edits.append((fp, ch)))
    widget.header.email.clear()
    qtbot.keyClicks(widget.header.email, "ada@lovelace.dev")
    assert widget.header.save.isEnabled()
    qtbot.keyClick(widget.header.email, Qt.Key.Key_Return)
    assert edits == [("fp_ada", {"email": "ada@lovelace.dev"})]
    updated = story.api.patch("/leads/fp_ada", edits[0][1])
    widget.show_data({"lead": {**story.api.get("/leads/fp_ada"), **updated}})
    assert widget.header.email.text() == "ada@lovelace.dev"
    assert not widget.header.save.isEnabled()


def test_a_balance_with_no_operations_says_it_is_the_starting_grant(qtbot, live_server):
    keys = live_server.create_app("Grants", initialCredits=10)
    api = Api(live_server, keys)
    api.track("fp_new", [("page_viewed", now_ms())])
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.show_data(profile_data(api, "fp_new"))
    assert widget.header_numbers()["creditBalance"] == "10"
    assert widget.credits.ledger.rows == []
    assert widget.credits.balance.text() == (
        "Balance: 10 credits (the app's starting grant: no credit operations yet)")


def test_date_fields_read_year_month_day(qtbot, story):
    widget = LeadProfileWidget()
    qtbot.addWidget(widget)
    widget.show_data(profile_data(story.api, "fp_ada"))
    for edit in (widget.timeline.start, widget.timeline.end, widget.history.start,
                 widget.history.end, widget.history.jump):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", edit.text()), edit.text()
