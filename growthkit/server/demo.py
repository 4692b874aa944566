"""`growthkit demo`: the server on a SQLite demo store with a 'Demo' app whose keys survive
restarts, weeks of history, live traffic, and the console opened on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click
from platformdirs import user_data_dir
from sqlalchemy import Engine, func, select

from growthkit.core import apps as core_apps
from growthkit.core.clock import now_ms
from growthkit.core.schema import activities
from growthkit.core.store import write_connection
from growthkit.server.demo_vocabulary import DAY

DEMO_APP = "Demo"
DEMO_SETTINGS = {"rateLimitPerMinute": 1000, "initialCredits": 10,
                 "actionCosts": {"export_pdf": 1, "ai_summary": 2, "generate_report": 3}}
# History is topped up when the demo was off for longer than this.
GAP_MS = 15 * 60_000


def default_database_url() -> str:
    return f"sqlite:///{Path(user_data_dir('growthkit')) / 'demo.db'}"


def default_keys_file() -> Path:
    return Path(user_data_dir("growthkit")) / "demo-keys.json"


@dataclass
class DemoKeys:
    app_id: str
    public_key: str
    secret_key: str


def _read_keys(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_keys(path: Path, store: str, keys: DemoKeys) -> None:
    """The keys of each demo store, readable by the user alone (0600, written whole)."""
    data = {**_read_keys(path), store: asdict(keys)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_demo_app(engine: Engine, keys_file: Path) -> tuple[DemoKeys, str]:
    """The Demo app and working keys: the stored ones when they still open the app, else
    new ones (saved). Returns the keys and a line saying which happened."""
    store = engine.url.render_as_string(hide_password=True)
    saved = _read_keys(keys_file).get(store)
    with write_connection(engine) as conn, conn.begin():
        try:
            app = core_apps.get_app(conn, DEMO_APP)
        except core_apps.AppError:
            new = core_apps.create_app(conn, DEMO_APP, DEMO_SETTINGS)
            keys = DemoKeys(new.app.id, new.app.public_key, new.secret_key)
            note = f"created the demo app; its keys are kept in {keys_file}"
        else:
            found = saved and core_apps.find_by_secret_key(conn, saved["secret_key"])
            if found and found.id == app.id and saved["public_key"] == app.public_key:
                return DemoKeys(**saved), f"the demo app's keys, as kept in {keys_file}"
            new = core_apps.rotate_keys(conn, app.id, public=False)
            keys = DemoKeys(app.id, app.public_key, new.secret_key)
            note = (f"the demo app's saved secret key was missing or no longer valid "
                    f"({keys_file}): issued a new one and saved it")
    _write_keys(keys_file, store, keys)
    return keys, note


def ensure_history(engine: Engine, app_id: str, *, days: int, leads: int,
                   log=click.echo) -> None:  # noqa: ANN001
    """An empty demo app gets `days` of history; one left off for a while gets the gap
    (up to `days`) filled, so its charts always reach up to now."""
    from growthkit.server.demo_history import write_history

    now = now_ms()
    with engine.connect() as conn:
        last = conn.execute(select(func.max(activities.c.timestamp))
                            .where(activities.c.app_id == app_id)).scalar()
    if last is None:
        log(f"writing {days} days of demo history ({leads} leads)…")
        write_history(engine, app_id, start=now - days * DAY, end=now, leads=leads,
                      seed=now, log=log)
    elif now - last > GAP_MS:
        start = max(last + 1, now - days * DAY)
        share = max(10, round(leads * (now - start) / (days * DAY)))
        log(f"the demo was off since {time.strftime('%Y-%m-%d %H:%M', time.gmtime(last / 1000))}"
            f" UTC: filling the gap ({share} new leads)…")
        write_history(engine, app_id, start=start, end=now, leads=share, seed=now,
                      credits=False, log=log)


def has_display() -> bool:
    """Whether a window can be shown here (an X11/Wayland display on Linux and BSD)."""
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return False
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def connect_hint(url: str, secret_key: str) -> str:
    return f".venv/bin/growthkit console --url {url} --key {secret_key}"


def open_console(url: str, secret_key: str) -> subprocess.Popen:
    """The console in a process of its own (a console never imports the server)."""
    return subprocess.Popen([sys.executable, "-m", "growthkit", "console", "--url", url,
                             "--key", secret_key])


def supervise(server, url: str, keys: DemoKeys, *, rate: float, console: bool,  # noqa: ANN001
              ) -> threading.Thread:
    """After the server is up: start the traffic, then open the console (the demo ends when
    it is closed) or say how to connect one."""
    from growthkit.server.demo_traffic import TrafficSimulator

    def run() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        traffic = TrafficSimulator(url, keys.public_key, events_per_second=rate,
                                   log=lambda m: click.echo(m, err=True))
        traffic.start()
        click.echo(f"demo traffic: up to {rate:g} events/s to {url}")
        if not console:
            click.echo(f"Console not opened (--no-console). Connect one with:\n  "
                       f"{connect_hint(url, keys.secret_key)}\nCtrl+C stops the demo.")
            return
        if not has_display():
            click.echo("No display here (DISPLAY and WAYLAND_DISPLAY are unset), so the "
                       "console cannot open. The demo server and its traffic keep running.\n"
                       "Connect a console on a machine with a display (for a remote machine "
                       f"first: ssh -L {server.config.port}:127.0.0.1:{server.config.port} "
                       f"this-host):\n  {connect_hint(url, keys.secret_key)}\n"
                       "Ctrl+C stops the demo.")
            return
        proc = open_console(url, keys.secret_key)
        code = proc.wait()
        if code != 0:
            click.echo(f"the console exited with status {code}; the demo keeps running. "
                       f"Open it again with:\n  {connect_hint(url, keys.secret_key)}\n"
                       "Ctrl+C stops the demo.")
            return
        click.echo("console closed: stopping the demo")
        traffic.stop()
        server.should_exit = True

    thread = threading.Thread(target=run, name="demo-supervisor", daemon=True)
    thread.start()
    return thread


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("--database-url", envvar="GROWTHKIT_DEMO_DATABASE_URL", default=None,
              help="The demo store (default: demo.db in the user data folder). "
                   "Env: GROWTHKIT_DEMO_DATABASE_URL.")
@click.option("--keys-file", envvar="GROWTHKIT_DEMO_KEYS_FILE", type=click.Path(path_type=Path),
              default=None, help="Where the demo app's keys are kept (default: "
                                 "demo-keys.json in the user data folder, mode 0600).")
@click.option("--days", default=30, type=click.IntRange(1, 80), show_default=True,
              help="Days of history written into an empty demo store.")
@click.option("--leads", default=1500, type=click.IntRange(1, 100_000), show_default=True,
              help="Leads arriving over those days.")
@click.option("--rate", default=0.3, type=click.FloatRange(0.01, 500), show_default=True,
              help="Live traffic, events per second at the busiest hour (less at night "
                   "and at weekends, as in the history).")
@click.option("--console/--no-console", default=True, show_default=True,
              help="Open the console on the demo (when there is a display).")
def demo_cmd(host, port, database_url, keys_file, days, leads, rate, console):
    """Run a live demo: the server with a Demo app, weeks of history, live traffic, and
    the console connected to it."""
    import uvicorn

    from growthkit.server.app import create_app
    from growthkit.server.cli import _engine
    from growthkit.server.settings import Settings

    database_url = database_url or default_database_url()
    engine = _engine(database_url)
    keys, note = ensure_demo_app(engine, keys_file or default_keys_file())
    ensure_history(engine, keys.app_id, days=days, leads=leads)
    engine.dispose()
    url = f"http://{host}:{port}"
    click.echo(f"""
GrowthKit demo at {url}   (store: {database_url})
{note}
  app id:      {keys.app_id}
  public key:  {keys.public_key}   (ingest only)
  secret key:  {keys.secret_key}   (query API and console)
API docs: {url}/docs
""")
    settings = Settings(database_url=database_url, host=host, port=port)
    config = uvicorn.Config(create_app(settings), host=host, port=port, access_log=False,
                            log_level=os.environ.get("GROWTHKIT_LOG_LEVEL", "warning"))
    server = uvicorn.Server(config)
    supervise(server, url, keys, rate=rate, console=console)
    server.run()
    if not server.started:
        click.echo(f"error: the demo server could not listen on {host}:{port} (in use by "
                   "another program?); choose another with --port", err=True)
        sys.exit(2)
