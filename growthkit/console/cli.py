"""`growthkit console`: the desktop console (Qt is imported only when the command runs)."""

from __future__ import annotations

import sys

import click


@click.command("console")
@click.option("--url", envvar="GROWTHKIT_URL", help="Server URL, e.g. http://127.0.0.1:8000. "
              "Env: GROWTHKIT_URL.")
@click.option("--key", envvar="GROWTHKIT_SECRET_KEY",
              help="The app's secret key (sk_…); better left to the dialog, which keeps it in "
                   "the OS keyring. Env: GROWTHKIT_SECRET_KEY.")
@click.option("--app", help="The app's id or name: the key must belong to it.")
@click.option("--snapshot", type=click.Path(dir_okay=False),
              help="Open an offline snapshot file instead of a server.")
def console(url: str | None, key: str | None, app: str | None, snapshot: str | None) -> None:
    """Open the desktop console (connection dialog unless --url and --key are given)."""
    try:
        from growthkit.console.app import run
    except ImportError as exc:
        click.echo(f"error: the console needs its extras ({exc.name} is missing): "
                   'pip install "growthkit[console]"', err=True)
        sys.exit(2)
    sys.exit(run(url=url, key=key, app=app, snapshot=snapshot))
