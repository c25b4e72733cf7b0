"""`python -m service` runs the CLI."""

from service.cli import app

app()
