"""What an HTTP request asks of an answer it may already hold: gzip, and conditional GET.

Owns: reading Accept-Encoding for gzip (RFC 9110 §12.5.3, q-values honoured) and
If-None-Match against an ETag (weak comparison over a list, `*` matching any). A leaf: the
partner stage answers through it. (serve.py holds the same two rules for the public files;
they can import them from here once the concurrent edits of serve.py have landed.)
"""

from __future__ import annotations


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding value allows gzip."""
    if not header:
        return False
    gzip_q: float | None = None
    star_q: float | None = None
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            gzip_q = q if gzip_q is None else max(gzip_q, q)
        elif coding == "*":
            star_q = q
    # An explicit gzip entry wins over the wildcard, so "gzip;q=0, *" refuses gzip.
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match evaluation: weak comparison over a list, ``*`` matches any (RFC 9110)."""
    header = header.strip()
    if header == "*":
        return True
    opaque = etag.removeprefix("W/")
    # Weak comparison ignores the W/ prefix on either side; our ETags contain no commas.
    return any(c.strip().removeprefix("W/") == opaque for c in header.split(","))
