"""Multilingual news syndication: partner feeds and local articles in, translated editions out."""

__version__ = "0.1.0"
