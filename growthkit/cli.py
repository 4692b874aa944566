"""The `growthkit` command: one entry point, subcommands contributed by each part."""

from __future__ import annotations

import click

from growthkit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="growthkit")
def main() -> None:
    """GrowthKit Activity: self-hostable activity tracking."""


def _register() -> None:
    from growthkit.console.cli import console
    from growthkit.server.cli import COMMANDS

    for command in COMMANDS:
        main.add_command(command)
    main.add_command(console)


_register()

if __name__ == "__main__":
    main()
