"""Export from the real console (Ctrl+E) of the current filter: the file holds the filtered
events and the dialog reports its rows and size; a cancelled export leaves no file."""

from __future__ import annotations

import csv
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyarrow.parquet as pq  # noqa: E402
from lead_story import lead_story  # noqa: E402
from qt_console import WAIT_MS, wait_loaded  # noqa: E402


def test_export_writes_the_filtered_rows(qtbot, live_server, open_console, tmp_path):
    story = lead_story(live_server)
    window = open_console(live_server.base_url, story.api.keys.secret)
    wait_loaded(qtbot, window, "leads")
    window.set_filter({"event": ["page_viewed"]})
    window.export_action.trigger()
    dialog = window.transfer_dialog
    target = tmp_path / "views.csv"
    dialog.path.setText(str(target))
    dialog.begin()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=WAIT_MS)
    with target.open(newline="") as f:
        rows = list(csv.DictReader(f))
    # fp_ada 1, fp_bob 1, fp_carol 2 page views (the fixture's 3-day-old events included)
    assert sorted(r["fingerprintId"] for r in rows) == ["fp_ada", "fp_bob", "fp_carol", "fp_carol"]
    assert {r["eventName"] for r in rows} == {"page_viewed"}
    assert dialog.result["rows"] == 4 and dialog.result["bytes"] == target.stat().st_size
    assert "Wrote 4 events" in dialog.status.text()

    dialog.format.setCurrentText("Parquet")
    assert dialog.path.text().endswith("views.parquet")
    dialog.begin()
    qtbot.waitUntil(lambda: dialog.result is not None and dialog.result["path"].endswith(
        ".parquet"), timeout=WAIT_MS)
    assert pq.ParquetFile(tmp_path / "views.parquet").metadata.num_rows == 4


def test_cancelled_export_leaves_no_file(qtbot, live_server, open_console, tmp_path):
    story = lead_story(live_server)
    story.api.track("fp_many", [("bulk", story.t3 - i * 1000, {"pad": "x" * 2000})
                                for i in range(100)])
    window = open_console(live_server.base_url, story.api.keys.secret)
    wait_loaded(qtbot, window, "leads")
    window.export_action.trigger()
    dialog = window.transfer_dialog
    out = tmp_path / "out"
    out.mkdir()
    dialog.path.setText(str(out / "all.csv"))
    dialog.begin()
    dialog.cancel()  # before the first chunk is written
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    assert dialog.result is None
    assert "Cancelled: no file was written" in dialog.status.text()
    assert list(out.iterdir()) == []
