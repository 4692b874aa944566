"""`python -m growthkit` runs the CLI."""

from growthkit.cli import main

main()
