"""The quick stats, event frequency, popular events and heatmap docks, offscreen, showing
what a real server (SQLite and PostgreSQL) answers for a hand-made set of events."""

from __future__ import annotations

import datetime as dt
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from qt_charts import bar_point, hover  # noqa: E402

from growthkit.widgets.formatting import short_number  # noqa: E402
from growthkit.widgets.frequency import OTHER, EventFrequencyWidget  # noqa: E402
from growthkit.widgets.heatmap import HeatmapWidget  # noqa: E402
from growthkit.widgets.popular_events import CHANGE, COUNT, EVENT, PopularEventsWidget  # noqa: E402
from growthkit.widgets.stats import QuickStatsWidget  # noqa: E402

HOUR = 3_600_000


def last_monday_1815() -> dt.datetime:
    """The latest Monday 18:15 UTC at least two hours ago (18:15 UTC is Tuesday 00:00 in
    Kathmandu, +05:45)."""
    now = dt.datetime.now(dt.UTC)
    t = (now - dt.timedelta(days=now.weekday())).replace(hour=18, minute=15, second=0,
                                                          microsecond=0)
    while t > now - dt.timedelta(hours=2):
        t -= dt.timedelta(days=7)
    return t


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def shop(server):
    """At T (a Monday 18:15 UTC): lead a views twice and signs up, lead b views once; two
    hours before, lead a viewed once (the previous period of [T-1h, T+1h))."""
    keys = server.create_app("Shop")
    t = int(last_monday_1815().timestamp() * 1000)

    def track(fp, *events):  # noqa: ANN001, ANN002
        r = server.track(keys.public, {"fingerprint": fp, "events": [
            {"eventName": name, "timestamp": at} for name, at in events]})
        assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text

    track("fp_a", ("page_viewed", t - 2 * HOUR))
    track("fp_a", ("page_viewed", t), ("page_viewed", t + 60_000),
          ("signup_completed", t + 120_000))
    track("fp_b", ("page_viewed", t + 180_000))

    def get(path: str, **params) -> dict:  # noqa: ANN003
        r = server.client.get(path, params=params,
                              headers={"Authorization": f"Bearer {keys.secret}"})
        assert r.status_code == 200, r.text
        return r.json()

    get.t = t  # type: ignore[attr-defined]
    get.track = track  # type: ignore[attr-defined]
    return get


def shown(qtbot, widget):  # noqa: ANN001
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_quick_stats_tiles_and_top_events_show_the_servers_numbers(qtbot, shop):
    t = shop.t
    w = shown(qtbot, QuickStatsWidget())
    w.show_data(shop("/api/v1/stats", **{"from": iso(t - HOUR), "to": iso(t + HOUR)}))
    tiles = {k: (tile.value.text(), tile.change.text(), tile.detail.text())
             for k, tile in w.tiles.items()}
    assert tiles["events"] == ("4", "▲ 300%", "previous 1")
    assert tiles["uniqueUsers"] == ("2", "▲ 100%", "previous 1")
    assert tiles["sessions"] == ("2", "▲ 100%", "previous 1")
    assert tiles["eventsPerHour"][:2] == ("2", "▲ 300%")
    rows = [[w.top_proxy.index(r, c).data() for c in range(4)]
            for r in range(w.top_proxy.rowCount())]
    assert rows == [["page_viewed", "3", "1", "▲ 200%"], ["signup_completed", "1", "0", "new"]]
    assert "(UTC)" in w.note.text() and "previous 2 h" in w.note.text()
    assert "from stored events" in w.note.text()
    with qtbot.waitSignal(w.filter_requested) as sig:
        w.top_view.doubleClicked.emit(w.top_proxy.index(1, 0))
    assert sig.args == [{"event": ["signup_completed"]}]


def test_event_frequency_bars_series_hover_and_click_to_filter(qtbot, shop):
    t = shop.t
    w = shown(qtbot, EventFrequencyWidget())
    with qtbot.waitSignal(w.params_changed) as sig:
        w.interval.setCurrentText("hour")
    assert sig.args == [{"interval": "hour"}]
    data = shop("/api/v1/analytics/events", interval="hour",
                **{"from": iso(t - HOUR), "to": iso(t + HOUR)})
    w.show_data(data)
    assert [(b["eventName"], b["count"]) for b in w.bars] == [("page_viewed", 3),
                                                              ("signup_completed", 1)]
    ticks = w.bar_plot.getPlotItem().getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == ["page_viewed", "signup_completed"]
    total = w.curves["total"].getData()[1]
    assert total.sum() == 4 and total.max() == 4  # all four in the 18:00 bucket
    assert w.curves["page_viewed"].getData()[1].sum() == 3
    assert w.x.dtype == np.float64
    left = w.series_plot.getPlotItem().getAxis("left").labelText
    assert left == "events per hour"
    assert w.series_plot.getPlotItem().getAxis("bottom").labelText == "time (UTC)"
    assert "4 events · ▲ 300% vs previous" in w.range_label.text()
    # Hovering a bar names its numbers; the series hover names the bucket's.
    hover(w.bar_plot.viewport(), bar_point(w, "signup_completed"))
    qtbot.waitUntil(lambda: w.hover.text().startswith("signup_completed: 1 events (25.0%)"))
    assert "18:00: 4 events" in w.point_text(int(np.argmax(total)))
    # A click on a bar asks every dock to filter by that event.
    with qtbot.waitSignal(w.filter_requested) as sig:
        qtbot.mouseClick(w.bar_plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=bar_point(w, "page_viewed"))
    assert sig.args == [{"event": ["page_viewed"]}]
    # Top 1: the rest becomes "other", which is not a filter.
    w.top_n.setValue(1)
    assert [(b["eventName"], b["count"]) for b in w.bars] == [("page_viewed", 3), (OTHER, 1)]
    with qtbot.assertNotEmitted(w.filter_requested):
        qtbot.mouseClick(w.bar_plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=bar_point(w, OTHER))


def test_refresh_keeps_the_users_zoom_selection_and_scroll(qtbot, shop):
    t = shop.t
    params = {"interval": "hour", "from": iso(t - HOUR), "to": iso(t + HOUR)}
    freq = shown(qtbot, EventFrequencyWidget())
    freq.show_data(shop("/api/v1/analytics/events", **params))
    vb = freq.series_plot.getPlotItem().getViewBox()
    zoom = (freq.x[0] + 600, freq.x[0] + 1800)
    vb.setXRange(*zoom, padding=0)  # what a wheel zoom does: auto-range is off from now on
    popular = shown(qtbot, PopularEventsWidget())
    popular.show_data(shop("/api/v1/analytics/events", **params))
    popular.view.selectRow(1)
    assert popular.proxy.index(1, EVENT).data() == "signup_completed"
    shop.track("fp_c", ("feature_used", t + 240_000), ("feature_used", t + 250_000))
    again = shop("/api/v1/analytics/events", **params)
    assert again["total"] == 6
    freq.show_data(again)
    popular.show_data(again)
    assert vb.viewRange()[0] == pytest.approx(list(zoom))
    assert freq.curves["total"].getData()[1].sum() == 6
    selected = [popular.proxy.index(i.row(), EVENT).data()
                for i in popular.view.selectionModel().selectedRows()]
    assert selected == ["signup_completed"]


def test_popular_events_ranking_table(qtbot, shop):
    t = shop.t
    w = shown(qtbot, PopularEventsWidget())
    w.show_data(shop("/api/v1/analytics/events", **{"from": iso(t - HOUR),
                                                    "to": iso(t + HOUR)}))
    cells = [[w.proxy.index(r, c).data() for c in range(7)] for r in range(w.proxy.rowCount())]
    assert cells == [["1", "page_viewed", "3", "75.0%", "1", "▲ 200%", "="],
                     ["2", "signup_completed", "1", "25.0%", "0", "new", "new"]]
    w.view.sortByColumn(EVENT, Qt.SortOrder.DescendingOrder)
    assert w.proxy.index(0, EVENT).data() == "signup_completed"
    w.search.setText("PAGE")
    assert w.proxy.rowCount() == 1 and w.proxy.index(0, COUNT).data() == "3"
    assert w.proxy.index(0, CHANGE).data() == "▲ 200%"
    with qtbot.waitSignal(w.filter_requested) as sig:
        w.view.doubleClicked.emit(w.proxy.index(0, EVENT))
    assert sig.args == [{"event": ["page_viewed"]}]


def test_heatmap_cells_totals_and_a_time_zone_change_rebuckets(qtbot, shop):
    t = shop.t
    span = {"from": iso(t - 3 * HOUR), "to": iso(t + HOUR)}
    w = shown(qtbot, HeatmapWidget())
    w.show_data(shop("/api/v1/analytics/heatmap", **span))
    image = w.image.image
    assert image.shape == (7, 24) and image.sum() == 5
    assert image[0, 18] == 4 and image[0, 16] == 1  # Monday 18:00 and 16:00 UTC
    assert w.row_totals[0].toPlainText() == "5" and w.col_totals[18].toPlainText() == "4"
    assert w.plot.getPlotItem().getAxis("bottom").labelText == "hour of day (UTC)"
    assert w.cell_text(0, 18).startswith("Monday 18:00–19:00 (UTC): 4 events (80.0% of 5)")
    assert w.colour_bar.axis.labelText == "events per cell"
    # A zone that does not exist is refused in the dock, without asking for a reload.
    with qtbot.assertNotEmitted(w.time_zone_changed):
        w.zone_box.setCurrentText("Mars/Olympus")
        w.zone_box.lineEdit().editingFinished.emit()
    assert "not an IANA time zone" in w.message.text()
    with qtbot.waitSignal(w.time_zone_changed) as sig:
        w.zone_box.lineEdit().clear()
        qtbot.keyClicks(w.zone_box.lineEdit(), "Asia/Kathmandu")
        qtbot.keyClick(w.zone_box.lineEdit(), Qt.Key.Key_Return)
    assert sig.args == ["Asia/Kathmandu"]
    w.show_data(shop("/api/v1/analytics/heatmap", tz=sig.args[0], **span))
    image = w.image.image
    assert image[1, 0] == 4 and image[0, 22] == 1 and image.sum() == 5  # Tue 00:00, Mon 22:00
    assert w.plot.getPlotItem().getAxis("bottom").labelText == "hour of day (Asia/Kathmandu)"
    assert w.zone_box.currentText() == "Asia/Kathmandu" and w.message.text() == ""
    with qtbot.waitSignal(w.params_changed) as sig:
        w.metric_box.setCurrentIndex(w.metric_box.findData("users"))
    assert sig.args == [{"metric": "users"}]
    w.show_data(shop("/api/v1/analytics/heatmap", tz="Asia/Kathmandu", metric="users", **span))
    assert w.image.image[1, 0] == 2 and w.colour_bar.axis.labelText == "users per cell"


def test_short_numbers():
    assert [short_number(v) for v in (0, 999, 1000, 1749, 12_345, 1_700_000, 2.5)] == [
        "0", "999", "1K", "1.7K", "12.3K", "1.7M", "2.5"]
