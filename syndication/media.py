"""Leaf: the media type of a published file, by its name.

Owns: the one table of Content-Types for what the publisher writes (the feeds by their file
names, everything else by suffix), used by the built-in server and by the object-store output
alike, so a file has the same type however it reaches a reader. Also how a withdrawn story's
page is known for what it is (the answer is 410 Gone): the mark the publisher writes into its
notice, which the built-in server looks for, and the folder where the publisher keeps a copy
of each notice at the page's path, whose existence deploy/nginx.conf tests.
"""

from __future__ import annotations

import os

# The feeds go by file name: `.xml` alone cannot tell RSS from Atom.
NAMED_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
SUFFIX_TYPES = {
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
}
OCTET_STREAM = "application/octet-stream"

# The mark of a withdrawn story's page (search engines are told to forget it, too).
WITHDRAWN_MARK = '<meta name="syndication:status" content="withdrawn">'
# The output's folder of the notices' copies ("withdrawn/kk/articles/x.html"): nginx cannot read
# a page to answer it 410, but it can test whether a file exists. Never served at its own URL.
WITHDRAWN_COPIES = "withdrawn"


def media_type(name: str) -> str:
    """The Content-Type for a file name (the name alone decides; the content is not sniffed)."""
    named = NAMED_TYPES.get(name)
    if named is not None:
        return named
    return SUFFIX_TYPES.get(os.path.splitext(name)[1].lower(), OCTET_STREAM)
