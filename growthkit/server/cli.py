"""The `growthkit` CLI's server commands: serve, migrate, create-app, apps, rotate-key, …"""

from __future__ import annotations

import json
import os
import sys

import click
from sqlalchemy.exc import OperationalError

from growthkit.core import apps as core_apps
from growthkit.core.store import describe_store, migrate, open_engine, write_connection
from growthkit.server.settings import Settings

database_option = click.option(
    "--database-url", envvar="GROWTHKIT_DATABASE_URL", default=None,
    help="A SQLite file path (or sqlite:////abs/path.db) or postgresql://user@host/db "
         "(default: a SQLite file in the user data folder). Env: GROWTHKIT_DATABASE_URL.")
# On SIGTERM, open requests get this long to finish (live streams are closed after it).
SHUTDOWN_GRACE_SECONDS = 10
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _engine(database_url: str | None):
    """The store a command works on, named on stderr: the CLI and a server only share a
    store when both get the same --database-url / GROWTHKIT_DATABASE_URL."""
    try:
        engine = open_engine(database_url or Settings().database_url)
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"store: {describe_store(engine)}", err=True)
    try:
        migrate(engine)
    except OperationalError as exc:
        _fail(f"cannot open the store ({describe_store(engine)}): "
              f"{str(exc.orig or exc).strip().splitlines()[0]}")
    return engine


def _new_app_json(new: core_apps.NewApp) -> dict:
    return {"id": new.app.id, "name": new.app.name, "publicKey": new.app.public_key,
            "secretKey": new.secret_key}


def _print_keys(new: core_apps.NewApp) -> None:
    click.echo(f"app id:      {new.app.id}")
    click.echo(f"name:        {new.app.name}")
    click.echo(f"public key:  {new.app.public_key}   (ingest only; safe in browsers)")
    if new.secret_key:
        click.echo(f"secret key:  {new.secret_key}   (shown once: store it now)")


def _settings_from(rate_limit, origins, time_zone, retention, app_events=None,
                   app_new_leads=None) -> dict:
    changes: dict = {}
    for name, value in (("appEventsPerMinute", app_events),
                        ("appNewLeadsPerMinute", app_new_leads)):
        if value is not None:
            changes[name] = value or None  # 0: no ceiling
    if rate_limit is not None:
        changes["rateLimitPerMinute"] = rate_limit
    if origins:
        changes["allowedOrigins"] = list(origins)
    if time_zone:
        changes["timeZone"] = time_zone
    if retention is not None:
        changes["retentionDays"] = retention
    return changes


def settings_options(f):
    for option in reversed([
        click.option("--rate-limit", type=int, help="Events per minute per fingerprint."),
        click.option("--allowed-origin", "origins", multiple=True,
                     help="Origin allowed to post events (repeatable; default: any)."),
        click.option("--time-zone", help="IANA time zone for the app's charts."),
        click.option("--retention-days", "retention", type=int,
                     help="Days detailed events are kept."),
        click.option("--app-events-per-minute", "app_events", type=int,
                     help="Ceiling on events per minute for the whole app (0: none)."),
        click.option("--app-new-leads-per-minute", "app_new_leads", type=int,
                     help="Ceiling on new leads per minute for the whole app (0: none)."),
    ]):
        f = option(f)
    return f


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _write(database_url: str | None, change):  # noqa: ANN001
    """Run `change(conn)` in one write transaction; an AppError ends the command clearly."""
    engine = _engine(database_url)
    try:
        with write_connection(engine) as conn, conn.begin():
            return change(conn)
    except core_apps.AppError as exc:
        _fail(str(exc))


def _show_keys(new: core_apps.NewApp, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_new_app_json(new)))
    else:
        _print_keys(new)


@click.command()
@click.option("--host", envvar="GROWTHKIT_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="GROWTHKIT_PORT", default=8000, type=int, show_default=True)
@database_option
@click.option("--redis-url", envvar="GROWTHKIT_REDIS_URL", default=None,
              help="Share rate limits and the live feed between processes. "
                   "Env: GROWTHKIT_REDIS_URL.")
@click.option("--workers", default=1, type=int, show_default=True,
              help="Server processes (more than one needs --redis-url).")
@click.option("--demo", is_flag=True,
              help="Ensure an app named 'Demo', print its keys and a curl example.")
def serve(host, port, database_url, redis_url, workers, demo):
    """Run the HTTP server (migrates the store first)."""
    import uvicorn

    os.environ["GROWTHKIT_DATABASE_URL"] = database_url or Settings().database_url
    if redis_url:
        os.environ["GROWTHKIT_REDIS_URL"] = redis_url
    elif workers > 1:
        _fail(f"--workers {workers} needs --redis-url (or GROWTHKIT_REDIS_URL): without Redis "
              "each process keeps its own rate budgets and streams only the events it stored "
              "itself (docs/scaling.md)")
    else:
        click.echo("live feed and rate limits: this process only (no Redis); every other "
                   "server process on this store needs --redis-url too (docs/scaling.md)",
                   err=True)
    engine = _engine(database_url)
    if demo:
        _demo_banner(engine, host, port)
    engine.dispose()
    uvicorn.run("growthkit.server.app:create_served_app", factory=True, host=host, port=port,
                workers=workers, log_level=os.environ.get("GROWTHKIT_LOG_LEVEL", "info"),
                access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)


def _demo_banner(engine, host: str, port: int) -> None:
    from growthkit.server.demo import default_keys_file, ensure_demo_app

    keys, note = ensure_demo_app(engine, default_keys_file())
    click.echo(f"\nDemo app: {note}")
    click.echo(f"app id:      {keys.app_id}")
    click.echo(f"public key:  {keys.public_key}   (ingest only; safe in browsers)")
    click.echo(f"secret key:  {keys.secret_key}   (query API and console)")
    url = f"http://{host}:{port}"
    click.echo(f"""
Send a batch:
  curl -s {url}/api/v1/track -H 'Authorization: Bearer {keys.public_key}' \\
    -H 'Content-Type: application/json' \\
    -d '{{"fingerprint":"fp_demo","events":[{{"eventName":"page_viewed"}}]}}'

API docs: {url}/docs
""")


@click.command("migrate")
@database_option
def migrate_cmd(database_url):
    """Bring the store to the latest schema."""
    from growthkit.core.store import current_revision

    engine = _engine(database_url)
    click.echo(f"store at revision {current_revision(engine)}")


@click.command("create-app")
@click.argument("name")
@database_option
@settings_options
@json_option
def create_app_cmd(name, database_url, rate_limit, origins, time_zone, retention, app_events,
                   app_new_leads, as_json):
    """Create an app and print its id and keys (the secret key is shown once)."""
    settings = _settings_from(rate_limit, origins, time_zone, retention, app_events,
                              app_new_leads)
    _show_keys(_write(database_url, lambda conn: core_apps.create_app(conn, name, settings)),
               as_json)


@click.command("apps")
@database_option
@json_option
def apps_cmd(database_url, as_json):
    """List apps (never their secret keys)."""
    from growthkit.core.clock import to_iso

    with _engine(database_url).connect() as conn:
        rows = core_apps.list_apps(conn)
    data = [{"id": a.id, "name": a.name, "publicKey": a.public_key, "settings": a.settings,
             "createdAt": to_iso(a.created_at)} for a in rows]
    if as_json:
        click.echo(json.dumps(data))
        return
    if not data:
        click.echo("no apps yet: growthkit create-app NAME")
    for a in data:
        click.echo(f"{a['id']}  {a['name']:<24} {a['publicKey']}  "
                   f"rate limit {a['settings']['rateLimitPerMinute']}/min")


@click.command("app-settings")
@click.argument("app")
@database_option
@settings_options
@json_option
def app_settings_cmd(app, database_url, rate_limit, origins, time_zone, retention, app_events,
                     app_new_leads, as_json):
    """Show or change an app's settings (APP is its id or name)."""
    changes = _settings_from(rate_limit, origins, time_zone, retention, app_events,
                             app_new_leads)
    found = _write(database_url, lambda conn: core_apps.update_settings(conn, app, changes)
                   if changes else core_apps.get_app(conn, app))
    click.echo(json.dumps(found.settings, indent=None if as_json else 2))


@click.command("rotate-key")
@click.argument("app")
@click.option("--which", type=click.Choice(["secret", "public", "both"]), default="secret",
              show_default=True)
@database_option
@json_option
def rotate_key_cmd(app, which, database_url, as_json):
    """Issue new keys for an app; running servers refuse the old ones within 1 s."""
    _show_keys(_write(database_url, lambda conn: core_apps.rotate_keys(
        conn, app, public=which in ("public", "both"), secret=which in ("secret", "both"))),
        as_json)


@click.command("retention")
@click.option("--app", default=None, help="Only this app (id or name); default: every app.")
@database_option
@json_option
def retention_cmd(app, database_url, as_json):
    """Roll events older than each app's retentionDays into daily aggregates and delete them,
    then bring the 15-minute rollups up to date. Progress goes to stderr."""
    from growthkit.core.clock import to_iso
    from growthkit.core.retention import run_retention
    from growthkit.core.rollups import refresh_rollups

    engine = _engine(database_url)

    def day_done(report, day):
        click.echo(f"{report.name}: {to_iso(day)[:10]} rolled up and deleted "
                   f"({report.events_deleted} events so far)", err=True)

    def rollup_done(done, target):
        click.echo(f"rollups: seq {done} of {target}", err=True)

    try:
        reports = run_retention(engine, app=app, progress=day_done)
    except core_apps.AppError as exc:
        _fail(str(exc))
    refreshed = refresh_rollups(engine, progress=rollup_done)
    if as_json:
        click.echo(json.dumps({"apps": [r.to_json() for r in reports],
                               "rollups": {"eventsAdded": refreshed.rows,
                                           "watermark": refreshed.watermark}}))
        return
    for r in reports:
        click.echo(f"{r.name}: kept from {to_iso(r.cutoff)}; rolled up and deleted "
                   f"{r.events_deleted} events of {r.days} days")
    click.echo(f"rollups: {refreshed.rows} events added (watermark seq {refreshed.watermark})")


def _demo_command() -> click.Command:
    from growthkit.server.demo import demo_cmd

    return demo_cmd


COMMANDS = [serve, _demo_command(), migrate_cmd, create_app_cmd, apps_cmd, app_settings_cmd,
            rotate_key_cmd, retention_cmd]
