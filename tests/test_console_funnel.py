"""Funnel and Segments docks, offscreen, handed a live server's own answers: the funnel's
numbers equal the API's, a step's dropped leads are exactly the fixture's, saved funnels,
a drill-down saved as a segment, custom rules, and a segment opening its leads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from lead_story import DAY, Api, S  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402

from growthkit.core.clock import now_ms  # noqa: E402
from growthkit.widgets.funnel import FunnelWidget  # noqa: E402
from growthkit.widgets.leads import LeadsWidget  # noqa: E402
from growthkit.widgets.saved import saved_funnels, saved_segments  # noqa: E402
from growthkit.widgets.segments import SegmentsWidget  # noqa: E402


@pytest.fixture
def shop(live_server) -> Api:
    """u1, u3 buy; u2 activates only; u4 signs up only; u5 activates outside the 1 h window;
    u6 never signs up. u1 and u2 viewed pages twice."""
    keys = live_server.create_app("Shop", rateLimitPerMinute=100_000)
    api = Api(live_server, keys)
    base = (now_ms() - 10 * DAY) // 60_000 * 60_000
    story = {
        "u1": [("signup", 0), ("activate", 60), ("purchase", 180), ("page_viewed", 200),
               ("page_viewed", 210)],
        "u2": [("signup", 0), ("activate", 120), ("page_viewed", 130), ("page_viewed", 140)],
        "u3": [("signup", 0), ("activate", 300), ("purchase", 400)],
        "u4": [("signup", 0)],
        "u5": [("signup", 0), ("activate", 7200)],
        "u6": [("activate", 0), ("purchase", 10)],
    }
    for fp, events in story.items():
        api.track(fp, [(n, base + s * S) for n, s in events])
    api.patch("/leads/u4", {"email": "u4@example.com"})
    return api


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat)


def drill(api: Api, request: dict) -> dict:
    """What the console does for a drill-down: the body, and the cursor as a parameter."""
    body = {k: v for k, v in request.items() if k != "cursor"}
    params = {"cursor": request["cursor"]} if "cursor" in request else {}
    return api.post("/analytics/funnel/leads", body, **params)


def build(qtbot, settings, segments=None) -> FunnelWidget:
    dock = FunnelWidget(funnels=saved_funnels(settings),
                        segments=segments or saved_segments(settings))
    qtbot.addWidget(dock)
    dock.set_event_names(["activate", "page_viewed", "purchase", "signup"])
    dock.rows[0].event_box.setCurrentText("signup")
    dock.rows[1].event_box.setCurrentText("activate")
    dock.add_step("purchase")
    dock.window_box.setValue(1)
    dock.unit.setCurrentText("hours")
    return dock


def test_funnel_numbers_equal_the_api_and_dropped_leads(qtbot, shop, settings):
    dock = build(qtbot, settings)
    with qtbot.waitSignal(dock.funnel_requested) as sent:
        qtbot.mouseClick(dock.run_btn, Qt.MouseButton.LeftButton)
    body = sent.args[0]
    assert [s["eventName"] for s in body["steps"]] == ["signup", "activate", "purchase"]
    assert body["windowSeconds"] == 3600
    answer = shop.post("/analytics/funnel", body)
    dock.show_data(answer)
    shown = [[dock.step_model.data(dock.step_model.index(r, c)) for c in range(7)]
             for r in range(3)]
    assert shown == [
        ["1", "signup", "5", "100.0%", "100.0%", "0", ""],
        ["2", "activate", "3", "60.0%", "60.0%", "2", "2 min"],
        ["3", "purchase", "2", "40.0%", "66.7%", "1", "1 min 50 s"],
    ]
    assert list(dock.bars.opts["height"]) == [s["users"] for s in answer["steps"]]

    ttc: list[dict] = []
    dock.time_to_convert_requested.connect(ttc.append)
    dock.select_step(2)
    assert ttc[-1]["step"] == 2
    histogram = shop.post("/analytics/funnel/time-to-convert", ttc[-1])
    dock.show_time_to_convert(histogram)
    assert sum(dock.hist_bars.opts["height"]) == 3
    assert "median 2 min" in dock.histogram.plotItem.titleLabel.text

    with qtbot.waitSignal(dock.step_leads_requested) as asked:
        qtbot.mouseClick(dock.dropped_btn, Qt.MouseButton.LeftButton)
    request = asked.args[0]
    assert request["outcome"] == "dropped" and request["step"] == 2
    assert {k: v for k, v in request.items() if k not in ("step", "outcome")} == body
    dock.show_step_leads(drill(shop, request))
    assert dock.leads_shown() == ["u4", "u5"]
    assert "2 dropped leads" in dock.lead_caption.text()
    assert dock.lead_model.rows[0]["email"] == "u4@example.com"

    opened: list[str] = []
    dock.lead_requested.connect(opened.append)
    dock.lead_table.doubleClicked.emit(dock.lead_table.model().index(1, 0))
    assert opened == ["u5"]

    dock.request_leads("converted")
    dock.show_step_leads(drill(shop, dock.drill))
    assert dock.leads_shown() == ["u1", "u2", "u3"]


def test_drill_down_pages(qtbot, shop, settings):
    dock = build(qtbot, settings)
    dock.run()
    dock.show_data(shop.post("/analytics/funnel", dock.body))
    dock.select_step(1)
    asked: list[dict] = []
    dock.step_leads_requested.connect(asked.append)
    dock.request_leads("converted")
    dock.show_step_leads(drill(shop, asked[-1]) | {})
    assert dock.leads_shown() == ["u1", "u2", "u3", "u4", "u5"]
    # The console pages with ?limit; the dock appends what "More" brings.
    first = shop.post("/analytics/funnel/leads", dock.drill, limit=2)
    dock.show_step_leads(first)
    assert dock.more_btn.isVisibleTo(dock)
    qtbot.mouseClick(dock.more_btn, Qt.MouseButton.LeftButton)
    nxt = shop.post("/analytics/funnel/leads",
                    {k: v for k, v in asked[-1].items() if k != "cursor"},
                    cursor=asked[-1]["cursor"], limit=2)
    dock.show_step_leads(nxt, append=True)
    assert dock.leads_shown() == ["u1", "u2", "u3", "u4"]


def test_save_rename_and_reopen_a_funnel(qtbot, shop, settings):
    dock = build(qtbot, settings)
    dock.rows[2].condition.setText("plan:eq:pro")
    dock.save_funnel("Checkout")
    dock.rename_funnel("Checkout", "Checkout (pro)")
    assert saved_funnels(settings).names() == ["Checkout (pro)"]
    again = FunnelWidget(funnels=saved_funnels(settings), segments=saved_segments(settings))
    qtbot.addWidget(again)
    assert [again.saved.itemText(i) for i in range(again.saved.count())] == ["Checkout (pro)"]
    with qtbot.waitSignal(again.funnel_requested) as sent:
        again.open_funnel("Checkout (pro)")
    assert sent.args[0]["steps"] == [
        {"eventName": "signup"}, {"eventName": "activate"},
        {"eventName": "purchase", "where": [{"key": "plan", "op": "eq", "value": "pro"}]}]
    assert sent.args[0]["windowSeconds"] == 3600
    # A condition the API could not read is refused in the dock, naming the rule.
    again.rows[2].condition.setText("plan:gt:3")
    again.run()
    assert "op one of eq" in again.message.text()


def segment_count(api: Api, segment: dict) -> int:
    """What the console does for a custom segment's count."""
    if segment["kind"] == "rule":
        return api.post("/analytics/segments/query", segment["rule"], limit=1)["count"]
    body = {**segment["funnel"], "step": segment["step"], "outcome": segment["outcome"]}
    return api.post("/analytics/funnel/leads", body, limit=1)["count"]


def segment_members(api: Api, segment: dict) -> dict:
    if segment["kind"] == "builtin":
        return api.get(f"/analytics/segments/{segment['id']}/members", limit=1000,
                       **({"event": segment["event"]} if segment.get("event") else {}))
    if segment["kind"] == "rule":
        return api.post("/analytics/segments/query", segment["rule"], limit=1000)
    body = {**segment["funnel"], "step": segment["step"], "outcome": segment["outcome"]}
    return api.post("/analytics/funnel/leads", body, limit=1000)


def wire(qtbot, api: Api, segments: SegmentsWidget) -> LeadsWidget:
    leads = LeadsWidget()
    qtbot.addWidget(leads)
    segments.count_requested.connect(
        lambda seg: segments.show_count(seg["name"], segment_count(api, seg)))
    segments.members_requested.connect(
        lambda seg: leads.show_members(seg["name"], segment_members(api, seg)))
    return leads


def test_dropped_list_saved_as_a_segment_opens_its_leads(qtbot, shop, settings):
    store = saved_segments(settings)  # the console hands both docks one store
    dock = build(qtbot, settings, store)
    dock.run()
    dock.show_data(shop.post("/analytics/funnel", dock.body))
    dock.select_step(2)
    dock.request_leads("dropped")
    dock.show_step_leads(drill(shop, dock.drill))
    segments = SegmentsWidget(store=store)
    qtbot.addWidget(segments)
    leads = wire(qtbot, shop, segments)
    segments.show_data(shop.get("/analytics/segments"))
    dock.save_as_segment("Dropped at activate")
    assert segments.count_of("Dropped at activate") == 2
    segments.open_segment("Dropped at activate")
    assert sorted(leads.table.fingerprints()) == ["u4", "u5"]
    assert leads.banner.text() == "Dropped at activate: 2 leads"


def test_builtin_and_custom_segments_with_counts(qtbot, shop, settings):
    segments = SegmentsWidget(store=saved_segments(settings))
    qtbot.addWidget(segments)
    leads = wire(qtbot, shop, segments)
    answer = shop.get("/analytics/segments", event="purchase")
    segments.show_data(answer)
    for s in answer["data"]:
        assert segments.count_of(s["name"]) == s["count"]
    assert segments.count_of("Active") == 0  # every event is ten days old
    segments.open_segment("Converters")
    assert sorted(leads.table.fingerprints()) == ["u1", "u3", "u6"]

    form = segments.form
    form.name.setText("Browsers")
    form.did.setCurrentText("page_viewed")
    form.at_least.setValue(2)
    form.days.setValue(30)
    segments.save_rule()
    assert segments.count_of("Browsers") == 2
    segments.open_segment("Browsers")
    assert sorted(leads.table.fingerprints()) == ["u1", "u2"]

    form.name.setText("Signed up, never bought")
    form.did.setCurrentText("signup")
    form.at_least.setValue(1)
    form.days.setValue(0)
    form.use_not.setChecked(True)
    form.did_not.setCurrentText("purchase")
    segments.save_rule()
    row = next(r for r in segments.model.rows if r["name"] == "Signed up, never bought")
    assert row["description"] == "did signup but not purchase"
    assert segments.count_of("Signed up, never bought") == 3
    segments.open_segment("Signed up, never bought")
    assert sorted(leads.table.fingerprints()) == ["u2", "u4", "u5"]
    # Editing: selecting the rule fills the form; saving under its name replaces it.
    segments.select("Browsers")
    assert form.did.currentText() == "page_viewed" and form.at_least.value() == 2
    form.at_least.setValue(3)
    segments.save_rule()
    assert segments.count_of("Browsers") == 0
    form.name.setText("")
    segments.save_rule()
    assert "name" in segments.message.text()
