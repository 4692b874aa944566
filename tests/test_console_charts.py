"""The founders' docks in the real console on a real server: the numbers it holds for a
hand-made fixture, a bar click filtering every dock, a dock's own option reloading it, and
a time zone chosen in the heatmap re-bucketing the charts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PySide6.QtCore import Qt
from qt_charts import bar_point
from qt_console import WAIT_MS, wait_loaded

from growthkit.core.clock import now_ms

HOUR = 3_600_000


@pytest.fixture
def shop(live_server):
    """In the last day: lead a views twice and signs up, lead b views once; 30 h ago (the
    previous day) lead a viewed once. Returns the keys and every event's time."""
    keys = live_server.create_app("Shop", rateLimitPerMinute=100_000)
    now = now_ms()
    times = {"a": [now - 3 * HOUR, now - 3 * HOUR + 60_000, now - 3 * HOUR + 120_000],
             "b": [now - 2 * HOUR], "old": [now - 30 * HOUR]}
    batches = [("fp_a", [("page_viewed", times["a"][0]), ("page_viewed", times["a"][1]),
                         ("signup_completed", times["a"][2])]),
               ("fp_b", [("page_viewed", times["b"][0])]),
               ("fp_a", [("page_viewed", times["old"][0])])]
    for fp, events in batches:
        r = live_server.track(keys.public, {"fingerprint": fp, "events": [
            {"eventName": n, "timestamp": t} for n, t in events]})
        assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text
    keys.times = [t for ts in times.values() for t in ts]
    return keys


def expected_matrix(times: list[int], tz: str) -> np.ndarray:
    m = np.zeros((7, 24))
    for t in times:
        local = dt.datetime.fromtimestamp(t / 1000, ZoneInfo(tz))
        m[local.weekday(), local.hour] += 1
    return m


def tiles(window) -> dict[str, str]:  # noqa: ANN001
    return {k: t.value.text() for k, t in window.docks["quickStats"].widget.tiles.items()}


def test_docks_show_the_servers_numbers_and_follow_filter_and_time_zone(
        qtbot, live_server, shop, open_console):
    window = open_console(live_server.base_url, shop.secret)
    wait_loaded(qtbot, window)
    stats = window.docks["quickStats"].widget
    freq = window.docks["eventFrequency"].widget
    heat = window.docks["activityHeatmap"].widget
    popular = window.docks["popularEvents"].widget
    assert tiles(window) == {"events": "4", "eventsPerHour": "0.2", "uniqueUsers": "2",
                             "sessions": "2"}
    assert stats.tiles["events"].change.text() == "▲ 300%"
    assert [(b["eventName"], b["count"]) for b in freq.bars] == [("page_viewed", 4),
                                                                 ("signup_completed", 1)]
    assert freq.curves["total"].getData()[1].sum() == 5
    assert [popular.proxy.index(r, 1).data() for r in range(popular.proxy.rowCount())] == [
        "page_viewed", "signup_completed"]
    assert popular.proxy.index(0, 2).data() == "4"
    assert (heat.image.image == expected_matrix(shop.times, "UTC")).all()

    # A click on a bar filters every dock by that event.
    wait_for = {n: d.frame.refreshed_at for n, d in window.docks.items()}
    qtbot.mouseClick(freq.bar_plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=bar_point(freq, "signup_completed"))
    assert window.filter.get("event") == ["signup_completed"]
    qtbot.waitUntil(lambda: all(window.docks[n].frame.refreshed_at != wait_for[n]
                                for n in ("quickStats", "eventFrequency", "activityHeatmap")),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tiles(window)["events"] == "1", timeout=WAIT_MS)
    assert [b["eventName"] for b in freq.bars] == ["signup_completed"]
    assert heat.image.image.sum() == 1

    # The dock's own option reloads it (and only it asks for hours).
    window.set_filter({})
    qtbot.waitUntil(lambda: tiles(window)["events"] == "4", timeout=WAIT_MS)
    freq.interval.setCurrentText("hour")
    qtbot.waitUntil(lambda: freq.data.get("interval") == "hour", timeout=WAIT_MS)
    assert freq.series_plot.getPlotItem().getAxis("left").labelText == "events per hour"

    # A time zone chosen in the heatmap: every time-bucketed dock reloads in it.
    heat.zone_box.setCurrentText("Asia/Kathmandu")
    heat.zone_box.lineEdit().editingFinished.emit()
    assert window.session.time_zone == "Asia/Kathmandu"
    qtbot.waitUntil(lambda: heat.data.get("timeZone") == "Asia/Kathmandu", timeout=WAIT_MS)
    assert (heat.image.image == expected_matrix(shop.times, "Asia/Kathmandu")).all()
    assert heat.plot.getPlotItem().getAxis("bottom").labelText == \
        "hour of day (Asia/Kathmandu)"
    qtbot.waitUntil(lambda: "(Asia/Kathmandu)" in stats.note.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: freq.data.get("timeZone") == "Asia/Kathmandu", timeout=WAIT_MS)
    assert freq.series_plot.getPlotItem().getAxis("bottom").labelText == \
        "time (Asia/Kathmandu)"
