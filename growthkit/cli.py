"""The `growthkit` command: one entry point, subcommands contributed by each part.

Subcommands are imported only when they run (or when `--help` lists them), so an install
with only some extras works: `growthkit[console]` runs `growthkit console` without the
server's dependencies, and a server command there says which extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from growthkit import __version__

# name -> (module, attribute, the extra that brings its dependencies). A module that is not
# part of this install at all is left out of the listing.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("growthkit.server.cli", "serve", "server"),
    "demo": ("growthkit.server.cli", "demo", "server"),
    "migrate": ("growthkit.server.cli", "migrate", "server"),
    "create-app": ("growthkit.server.cli", "create-app", "server"),
    "apps": ("growthkit.server.cli", "apps", "server"),
    "app-settings": ("growthkit.server.cli", "app-settings", "server"),
    "rotate-key": ("growthkit.server.cli", "rotate-key", "server"),
    "retention": ("growthkit.server.cli", "retention", "server"),
    "console": ("growthkit.console.cli", "console", "console"),
    "snapshot": ("growthkit.api_client.cli", "snapshot", "client"),
}


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _missing_extra(name: str, extra: str, missing: str | None) -> click.Command:
    """A stand-in for a subcommand whose extra is not installed: it says what to install."""
    hint = f'pip install "growthkit[{extra}]"'

    def fail(args: tuple[str, ...]) -> None:
        click.echo(f"error: growthkit {name} needs the {extra} extra ({missing or 'a module'} "
                   f"is not installed): {hint}", err=True)
        sys.exit(2)

    return click.Command(name, callback=fail, help=f"(not installed: {hint})",
                         short_help=f"(needs {hint})", add_help_option=False,
                         params=[click.Argument(["args"], nargs=-1, required=False)],
                         context_settings={"ignore_unknown_options": True,
                                           "allow_extra_args": True})


def load(name: str) -> click.Command | None:
    """The subcommand `name`, a stand-in naming its extra, or None if it is not known."""
    entry = SUBCOMMANDS.get(name)
    if entry is None or not _present(entry[0]):
        return None
    module_name, attribute, extra = entry
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or ""
        if missing.startswith("growthkit"):
            raise  # our own code is broken, not an extra missing: show it
        return _missing_extra(name, extra, missing)
    commands = {c.name: c for c in getattr(module, "COMMANDS", [])}
    command = commands.get(attribute) or getattr(module, attribute, None)
    return command if isinstance(command, click.Command) else None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [n for n, (module, _, _) in SUBCOMMANDS.items() if _present(module)]
        return sorted(set(names) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or load(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="growthkit")
def main() -> None:
    """GrowthKit Activity: self-hostable activity tracking."""


if __name__ == "__main__":
    main()
