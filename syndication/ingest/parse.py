"""Parsing a fetched body into Articles, whatever its format: the parse phase's entry point.

Owns: `parse_feed` (what the poll's parse phase and the parse pool's workers run): a gzip body
inflated, an empty one refused, then JSON Feed (`jsonfeed`) or RSS/Atom (`xmlfeed`) chosen by
the first byte and the Content-Type.
"""

from __future__ import annotations

from syndication.errors import SourceError
from syndication.ingest.encoding import inflate
from syndication.ingest.entries import ParsedFeed, SourceInfo
from syndication.ingest.jsonfeed import parse_json_feed
from syndication.ingest.xmlfeed import parse_xml_feed

__all__ = ["ParsedFeed", "SourceInfo", "parse_feed"]


def parse_feed(
    body: bytes, headers: dict[str, str], source: SourceInfo, max_bytes: int
) -> ParsedFeed:
    """Parse a feed body; raise SourceError when it is not a feed at all."""
    body = inflate(body, source.id, max_bytes)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise SourceError(source.id, "empty response: no feed in the body")
    content_type = headers.get("content-type", "").lower()
    if stripped.startswith(b"{") or "json" in content_type:
        return parse_json_feed(stripped, source)
    return parse_xml_feed(body, headers, source)
