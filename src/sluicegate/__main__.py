"""`python -m sluicegate` runs the CLI."""

from .cli import main

main()
