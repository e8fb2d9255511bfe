"""Tests: one module per module of syndication/, plus end-to-end tests through the CLI."""
