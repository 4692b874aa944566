"""`growthkit demo` as a real process: history, live traffic, kept keys, no-display message."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from harness import free_port


class Demo:
    """One `growthkit demo` process without a display; its banner is read up to the
    connect hint."""

    def __init__(self, database_url: str, data_home: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(XDG_DATA_HOME=str(data_home), GROWTHKIT_DEMO_DATABASE_URL=database_url)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "growthkit", "demo", "--port", str(self.port), "--days",
             "7", "--leads", "60", "--rate", "20", *extra], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.banner, deadline = "", time.monotonic() + 90
        while "Ctrl+C stops the demo" not in self.banner:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.banner
            self.banner += self.proc.stdout.readline()

    def line(self, label: str) -> str:
        return next(ln.split(label, 1)[1].split()[0] for ln in self.banner.splitlines()
                    if label in ln)

    def get(self, path: str, key: str, **params) -> httpx.Response:  # noqa: ANN003
        return httpx.get(self.url + path, params=params, timeout=30,
                         headers={"Authorization": f"Bearer {key}"})

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        rest, _ = self.proc.communicate(timeout=30)
        return rest


def test_demo_serves_history_and_live_traffic_and_keeps_its_keys(database_url, tmp_path):
    demo = Demo(database_url, tmp_path)
    try:
        secret = demo.line("secret key:")
        assert "No display here" in demo.banner and "keep running" in demo.banner
        assert f"growthkit console --url {demo.url} --key {secret}" in demo.banner
        keys_file = tmp_path / "growthkit" / "demo-keys.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600 and secret in keys_file.read_text()
        stats = demo.get("/api/v1/stats", secret).json()
        assert stats["events"] > 100 and stats["uniqueUsers"] >= 5, stats
        heat = demo.get("/api/v1/analytics/heatmap", secret).json()
        assert sum(map(sum, heat["matrix"])) == heat["total"] > stats["events"]
        leads = demo.get("/api/v1/leads", secret, limit=100).json()["data"]
        assert any(lead.get("email") for lead in leads), "signed-up leads have profiles"
        names = {e["eventName"] for e in demo.get("/api/v1/analytics/events", secret,
                                                  limit=100).json()["events"]}
        assert {"page_viewed", "signup_started", "signup_completed"} <= names
        # The simulator keeps sending (20 events/s here): events newer than the stats' "to".
        deadline = time.monotonic() + 30
        while not demo.get("/api/v1/activities", secret, limit=5, **{"from": stats["to"]}
                           ).json()["data"]:
            assert time.monotonic() < deadline, "no live traffic arrived"
            time.sleep(0.5)
        before = demo.get("/api/v1/analytics/heatmap", secret).json()["total"]
    finally:
        demo.stop()
    again = Demo(database_url, tmp_path)
    try:
        assert again.line("secret key:") == secret and "as kept in" in again.banner
        assert again.line("public key:") == demo.line("public key:")
        assert "writing 7 days" not in again.banner, "history is written once"
        total = again.get("/api/v1/analytics/heatmap", secret).json()["total"]
        assert before <= total < before + 5000
    finally:
        again.stop()
    keys_file.write_text(keys_file.read_text().replace(secret, "sk_forgotten"))
    rekeyed = Demo(database_url, tmp_path)
    try:
        new_secret = rekeyed.line("secret key:")
        assert new_secret != secret and "no longer valid" in rekeyed.banner
        assert rekeyed.get("/api/v1/app", new_secret).status_code == 200
        assert rekeyed.get("/api/v1/app", secret).status_code == 401
        assert new_secret in keys_file.read_text()
    finally:
        rekeyed.stop()
