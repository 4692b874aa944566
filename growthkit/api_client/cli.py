"""`growthkit snapshot`: an offline snapshot of one app from the command line (client extra)."""

from __future__ import annotations

import json
import sys
import threading

import click


class _Bar:
    """One progress bar per stage, on stderr (stdout stays free for --json)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.stage: str | None = None
        self.bar = None
        self.done = 0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        if stage != self.stage:
            self.close()
            self.stage, self.done = stage, 0
            self.bar = click.progressbar(length=total or 0, label=f"{stage:<10}",
                                         file=sys.stderr, show_pos=True, width=30)
            self.bar.__enter__()
        if self.bar is not None:
            if total and self.bar.length != total:
                self.bar.length = total
            self.bar.update(max(0, done - self.done))
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command("snapshot")
@click.option("--url", envvar="GROWTHKIT_URL", required=True,
              help="Server URL, e.g. http://127.0.0.1:8000. Env: GROWTHKIT_URL.")
@click.option("--key", envvar="GROWTHKIT_SECRET_KEY", required=True,
              help="The app's secret key (sk_…). Env: GROWTHKIT_SECRET_KEY.")
@click.option("--from", "start", help="Earliest event time (ISO-8601 or epoch ms); default: "
                                      "the first stored event.")
@click.option("--to", "end", help="End, exclusive (ISO-8601 or epoch ms); default: now.")
@click.option("--event", "events", multiple=True,
              help="Only these event names (repeat the option).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The snapshot file to write (replaced only by a complete snapshot).")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot's metadata as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def snapshot(url: str, key: str, start: str | None, end: str | None,
             events: tuple[str, ...], output: str, as_json: bool, quiet: bool) -> None:
    """Save an offline snapshot of the app: events, their leads and credit ledgers."""
    from growthkit.api_client import Client
    from growthkit.api_client.errors import Cancelled, GrowthKitError

    bar = _Bar(quiet)
    cancel = threading.Event()
    try:
        with Client(url, key) as client:
            info = client.snapshot(output, start=start, end=end, event=list(events) or None,
                                   progress=bar, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        bar.close()
        click.echo("error: interrupted; no snapshot was written", err=True)
        sys.exit(130)
    except (GrowthKitError, ValueError, OSError) as exc:
        bar.close()
        reason = "cancelled" if isinstance(exc, Cancelled) else "error"
        click.echo(f"{reason}: {getattr(exc, 'message', None) or exc}", err=True)
        sys.exit(1 if isinstance(exc, GrowthKitError) else 2)
    bar.close()
    if as_json:
        click.echo(json.dumps({"path": str(info.path), **info.meta}, indent=2))
    else:
        counts = info.meta["counts"]
        click.echo(f"wrote {info.path}: {counts['activities']:,} events, {counts['leads']:,} "
                   f"leads, {counts['creditOperations']:,} credit operations "
                   f"(from {info.meta['from'] or 'the first event'} to {info.meta['to']})")
