"""Ingestion: fetching sources (fetch), parsing feeds (feeds), reading local files (local), and
polling each source into the store (poll)."""
