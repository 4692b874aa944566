"""Offline snapshots through the client against the real app: what the file holds (range,
names, the leads and ledgers they touch, metadata, no keys), that it is never half-written,
and the `growthkit snapshot` command."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx
import pytest
from click.testing import CliRunner

from growthkit.api_client import Cancelled, Client, ServerUnavailable, ValidationError
from growthkit.cli import main
from growthkit.core.clock import now_ms, to_iso

MIN = 60_000
HOUR = 60 * MIN


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def rows(path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def shop(server):
    """fp_a and fp_b active two hours ago (fp_a with a credit ledger), fp_old only two days
    ago, and another app whose data must never show up."""
    app = server.create_app("Shop", rateLimitPerMinute=10_000, initialCredits=5,
                            timeZone="Europe/Berlin")
    other = server.create_app("Other")
    t = now_ms() - 2 * HOUR
    for fp, names, at in (("fp_a", ["page_viewed", "signup", "purchase"], t),
                          ("fp_b", ["page_viewed", "signup"], t + 5 * MIN),
                          ("fp_old", ["page_viewed"], t - 46 * HOUR)):
        r = server.track(app.public, {"fingerprint": fp, "events": [
            {"eventName": n, "timestamp": at + i * MIN, "properties": {"step": i}}
            for i, n in enumerate(names)]})
        assert r.json()["accepted"] == len(names), r.text
    server.track(other.public, {"fingerprint": "fp_other", "events": [{"eventName": "x"}]})
    r = server.client.post("/api/v1/credits", headers=auth(app.secret), json={
        "fingerprint": "fp_a", "amount": 3, "action": "purchase"})
    assert r.status_code == 200, r.text
    client = Client(server.base_url, app.secret, http=server.client)
    client.keys = app  # type: ignore[attr-defined]
    client.t = t  # type: ignore[attr-defined]
    return client


def test_snapshot_holds_the_range_its_leads_and_ledgers_and_says_so(shop, tmp_path):
    path = tmp_path / "shop.gksnap"
    seen: list[tuple[str, int, int | None]] = []
    start, end = shop.t - HOUR, now_ms() + MIN
    info = shop.snapshot(path, start=start, end=end,
                         progress=lambda *a: seen.append(a))
    assert info.path == path and path.is_file()
    assert sorted(rows(path, "SELECT fingerprint_id, event_name FROM activities")) == [
        ("fp_a", "page_viewed"), ("fp_a", "purchase"), ("fp_a", "signup"),
        ("fp_b", "page_viewed"), ("fp_b", "signup")]
    assert sorted(r[0] for r in rows(path, "SELECT fingerprint FROM leads")) == ["fp_a", "fp_b"]
    assert rows(path, "SELECT action, amount, balance_after FROM credit_operations "
                      "ORDER BY seq") == [("initial_credits", 5, 5), ("purchase", 3, 8)]
    meta = {k: json.loads(v) for k, v in rows(path, "SELECT key, value FROM meta")}
    assert meta == info.meta
    assert meta["kind"] == "snapshot" and meta["server"] == shop.url
    assert (meta["appId"], meta["appName"]) == (shop.keys.id, "Shop")
    assert (meta["from"], meta["to"]) == (to_iso(start), to_iso(end))
    assert meta["counts"] == {"activities": 5, "leads": 2, "creditOperations": 2}
    assert meta["takenAt"] <= to_iso(now_ms())
    (app_row,) = rows(path, "SELECT id, name, public_key, secret_key_hash, settings FROM apps")
    assert app_row[:4] == (shop.keys.id, "Shop", "", "")
    assert json.loads(app_row[4])["timeZone"] == "Europe/Berlin"
    # Never the keys (nor the secret key's hash) anywhere in the file.
    raw = path.read_bytes()
    for secret in (shop.keys.public, shop.keys.secret, shop.keys.secret[3:]):
        assert secret.encode() not in raw
    assert {s for s, _, _ in seen} >= {"activities", "leads", "rollups"}
    assert ("activities", 5, 5) in seen
    # Rollups were rebuilt from the copied rows.
    assert rows(path, "SELECT sum(events) FROM rollup_hourly") == [(5,)]
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file was renamed


def test_event_names_and_an_open_start(shop, tmp_path):
    path = tmp_path / "signups.db"
    info = shop.snapshot(path, event=["signup"])
    assert sorted(rows(path, "SELECT fingerprint_id FROM activities")) == [("fp_a",), ("fp_b",)]
    assert info.meta["from"] is None and info.meta["eventNames"] == ["signup"]
    every = shop.snapshot(tmp_path / "all.db")
    assert every.activities == 6  # fp_old's event two days ago too


def test_cancel_or_failure_leaves_no_file_and_keeps_an_old_one(shop, tmp_path):
    tmp_path = tmp_path / "snapshots"  # the server's own store lives in tmp_path
    tmp_path.mkdir()
    path = tmp_path / "shop.db"
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled, match="no file was written"):
        shop.snapshot(path, cancel=stop)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"the previous snapshot")
    late = threading.Event()  # cancelled at the last stage, after every row was copied
    with pytest.raises(Cancelled):
        shop.snapshot(path, progress=lambda stage, *_: stage == "rollups" and late.set(),
                      cancel=late)
    assert path.read_bytes() == b"the previous snapshot"
    assert list(tmp_path.iterdir()) == [path]
    with pytest.raises(ValueError, match="start must be before end"):
        shop.snapshot(path, start=now_ms(), end=now_ms() - HOUR)
    with pytest.raises(ValidationError) as bad:
        shop.snapshot(path, start="yesterday")
    assert bad.value.errors[0].field == "start"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        shop.snapshot(tmp_path / "missing" / "x.db")


def stop(live) -> None:
    """Stop the live server and wait until it refuses connections."""
    live.uvicorn.should_exit = True
    live.uvicorn.force_exit = True
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{live.base_url}/health", timeout=0.5)
        except httpx.TransportError:
            return
        time.sleep(0.05)
    raise AssertionError("the server did not stop")


def test_a_server_that_goes_away_mid_snapshot_leaves_no_file(live_server, tmp_path):
    tmp_path = tmp_path / "snapshots"
    tmp_path.mkdir()
    app = live_server.create_app("Gone", rateLimitPerMinute=10_000)
    live_server.track(app.public, {"fingerprint": "fp_1", "events": [{"eventName": "e"}]})
    client = Client(live_server.base_url, app.secret, retries=0)

    def stop_after_activities(stage: str, done: int, total: int | None) -> None:
        if stage == "activities":
            stop(live_server)

    with pytest.raises(ServerUnavailable):
        client.snapshot(tmp_path / "gone.db", progress=stop_after_activities)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_a_snapshot_with_progress(live_server, tmp_path):
    app = live_server.create_app("Cli", rateLimitPerMinute=10_000)
    live_server.track(app.public, {"fingerprint": "fp_1", "events": [
        {"eventName": "e1"}, {"eventName": "e2"}]})
    out = tmp_path / "cli.db"
    base = live_server.base_url
    result = CliRunner().invoke(main, ["snapshot", "--url", base, "--key", app.secret,
                                       "--event", "e1", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    assert meta["path"] == str(out) and meta["counts"]["activities"] == 1
    assert "activities" in result.stderr  # the progress bar
    assert rows(out, "SELECT event_name FROM activities") == [("e1",)]
    bad = CliRunner().invoke(main, ["snapshot", "--url", base, "--key", app.public,
                                    "-o", str(tmp_path / "no.db")])
    assert bad.exit_code == 1 and "secret key" in bad.stderr
    assert not (tmp_path / "no.db").exists()


def test_files_created_at_once_in_one_process_all_reach_the_schema(tmp_path):
    """The console creates its cache and a snapshot from worker threads, possibly together:
    each new file must end at the latest schema (Alembic's context is process-global)."""
    from growthkit.core.store import current_revision, migrate, open_engine

    engines = [open_engine(f"sqlite:///{tmp_path / f's{i}.gksnap'}") for i in range(4)]
    errors: list[BaseException] = []

    def run(engine) -> None:  # noqa: ANN001
        try:
            migrate(engine)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    revisions = {current_revision(e) for e in engines}
    assert len(revisions) == 1 and None not in revisions
