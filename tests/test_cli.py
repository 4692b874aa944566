"""The `growthkit` command, run as a real process against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from harness import free_port, make_settings

from growthkit.server.app import create_app


def cli(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GROWTHKIT_DATABASE_URL": database_url}
    result = subprocess.run([sys.executable, "-m", "growthkit", *args], env=env,
                            capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"growthkit {' '.join(args)} failed:\n{result.stderr}")
    return result


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_migrate_is_idempotent(database_url):
    first = cli(database_url, "migrate")
    again = cli(database_url, "migrate")
    assert "store at revision" in first.stdout and first.stdout == again.stdout


def test_create_app_json_keys_work_and_secret_is_shown_once(database_url):
    created = json.loads(cli(database_url, "create-app", "Shop", "--rate-limit", "7",
                             "--json").stdout)
    assert set(created) == {"id", "name", "publicKey", "secretKey"}
    assert created["publicKey"].startswith("pk_") and created["secretKey"].startswith("sk_")
    listed = json.loads(cli(database_url, "apps", "--json").stdout)
    assert [a["id"] for a in listed] == [created["id"]]
    assert listed[0]["settings"]["rateLimitPerMinute"] == 7
    assert created["secretKey"] not in json.dumps(listed)
    with TestClient(create_app(make_settings(database_url, None))) as client:
        r = client.post("/api/v1/track", json={"fingerprint": "f", "events": [
            {"eventName": "cli_check"}]}, headers=bearer(created["publicKey"]))
        assert r.status_code == 200 and r.json()["accepted"] == 1
        me = client.get("/api/v1/app", headers=bearer(created["secretKey"]))
        assert me.status_code == 200 and me.json()["name"] == "Shop"
    plain = cli(database_url, "create-app", "Other").stdout
    assert "secret key:" in plain and "shown once" in plain


def test_rotate_key_invalidates_the_old_key(database_url):
    created = json.loads(cli(database_url, "create-app", "Shop", "--json").stdout)
    rotated = json.loads(cli(database_url, "rotate-key", "Shop", "--json").stdout)
    assert rotated["publicKey"] == created["publicKey"]
    assert rotated["secretKey"] != created["secretKey"]
    with TestClient(create_app(make_settings(database_url, None))) as client:
        def status(key):
            return client.get("/api/v1/app", headers=bearer(key)).status_code
        assert status(created["secretKey"]) == 401
        assert status(rotated["secretKey"]) == 200
    both = json.loads(cli(database_url, "rotate-key", created["id"], "--which", "both",
                          "--json").stdout)
    assert both["publicKey"] != created["publicKey"]


def test_app_settings_show_change_and_refuse_bad_values(database_url):
    cli(database_url, "create-app", "Shop")
    changed = json.loads(cli(database_url, "app-settings", "Shop", "--rate-limit", "250",
                             "--time-zone", "Asia/Kathmandu", "--json").stdout)
    assert changed["rateLimitPerMinute"] == 250 and changed["timeZone"] == "Asia/Kathmandu"
    bad = cli(database_url, "app-settings", "Shop", "--time-zone", "Mars/Olympus", check=False)
    assert bad.returncode == 2 and "not an IANA time zone" in bad.stderr
    missing = cli(database_url, "app-settings", "Nope", check=False)
    assert missing.returncode == 2 and "no app with id or name 'Nope'" in missing.stderr
    empty = cli(database_url, "create-app", "  ", check=False)
    assert empty.returncode == 2 and "name must be 1-200 characters" in empty.stderr


@pytest.mark.parametrize("backend", [("sqlite", "memory")], indirect=True)
def test_serve_demo_takes_a_curled_batch_and_stops_on_sigterm(database_url, tmp_path):
    port = free_port()
    env = {**os.environ, "GROWTHKIT_DATABASE_URL": database_url,
           "XDG_DATA_HOME": str(tmp_path)}  # the demo keys file
    proc = subprocess.Popen([sys.executable, "-m", "growthkit", "serve", "--demo", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        banner, deadline = "", time.monotonic() + 30
        while "Application startup complete" not in banner:
            assert time.monotonic() < deadline and proc.poll() is None, banner
            banner += proc.stdout.readline()
        key = next(line.split()[2] for line in banner.splitlines()
                   if line.startswith("public key:"))
        assert "curl -s" in banner and key in banner
        assert "this process only (no Redis)" in banner  # several processes need Redis
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/track", headers={
            "Authorization": f"Bearer {key}"}, json={"fingerprint": "fp_demo", "events": [
                {"eventName": "page_viewed"}]})
        assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert "Application shutdown complete" in rest and proc.returncode in (0, -signal.SIGTERM)


def test_serve_refuses_several_workers_without_redis(tmp_path):
    # Without Redis each process would keep its own rate budgets and live feed.
    env = {k: v for k, v in os.environ.items() if k != "GROWTHKIT_REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "growthkit", "serve", "--workers", "2",
                           "--database-url", str(tmp_path / "w.db"), "--port",
                           str(free_port())], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert "--workers 2 needs --redis-url" in done.stderr and "Traceback" not in done.stderr


def test_unsupported_database_url_is_a_clear_error():
    result = cli("mysql://db.example/growthkit", "apps", check=False)
    assert result.returncode == 2 and "unsupported database URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_plain_file_path_is_a_sqlite_store_and_every_command_names_it(tmp_path):
    store = tmp_path / "nested" / "plain.db"
    created = cli(str(store), "create-app", "Shop", "--json")
    assert f"store: SQLite file {store}" in created.stderr
    assert json.loads(created.stdout)["name"] == "Shop"  # stdout stays machine-readable
    assert store.exists()
    listed = cli(f"sqlite:///{store}", "apps", "--json")
    assert [a["name"] for a in json.loads(listed.stdout)] == ["Shop"]
    assert f"store: SQLite file {store}" in listed.stderr


def test_a_relative_sqlite_url_is_resolved_and_named(tmp_path):
    env = {**os.environ, "GROWTHKIT_DATABASE_URL": "sqlite:///rel.db"}
    result = subprocess.run([sys.executable, "-m", "growthkit", "migrate"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"store: SQLite file {tmp_path / 'rel.db'}" in result.stderr
    assert (tmp_path / "rel.db").exists()


def test_the_postgresql_store_is_named_without_its_password():
    result = cli("postgresql://gk:s3cret@127.0.0.1:1/growthkit", "migrate", check=False)
    assert "store: PostgreSQL postgresql://gk:***@127.0.0.1:1/growthkit" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout and result.returncode == 2
    assert "error: cannot open the store" in result.stderr and "Traceback" not in result.stderr


def test_a_new_sqlite_store_is_migrated_in_one_transaction(tmp_path):
    """Processes starting together each migrate at start: they queue on SQLite's write lock,
    so the lock must be held for the whole upgrade. Were each migration committed on its own,
    a second process could slip in between, read a half-migrated store and run the same
    migration again ("table ... already exists"). A reader polling the store while it is
    migrated sees it empty or at head, never in between."""
    import sqlite3

    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    seen: set[str | None] = set()
    env = {**os.environ, "GROWTHKIT_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "growthkit", "migrate"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        if path.exists():
            try:
                with sqlite3.connect(path, timeout=0.01) as conn:
                    seen.add(conn.execute("SELECT version_num FROM alembic_version")
                             .fetchone()[0] if conn.execute(
                                 "SELECT 1 FROM sqlite_master WHERE name='alembic_version'")
                             .fetchone() else None)
            except sqlite3.OperationalError:  # locked or not yet a database
                pass
        time.sleep(0.002)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    head = out.strip().rsplit(" ", 1)[-1]
    assert seen <= {None, head}, f"a reader saw the store half-migrated: {sorted(map(str, seen))}"
