"""`python -m syndication` runs the command line."""

from syndication.cli import app

app()
