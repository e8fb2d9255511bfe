"""What an HTTP request asks of an answer it may already hold: gzip, and conditional GET.

Owns: a request's header fields as one dict (repeated fields joined), reading
Accept-Encoding for gzip (RFC 9110 §12.5.3, q-values honoured) and If-None-Match against an
ETag (weak comparison over a list, `*` matching any). A leaf: the public files (serve.py) and
the partners' stage answer through it.
"""

from __future__ import annotations

from collections.abc import Iterable


def request_headers(fields: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """An ASGI request's header fields by lower-case name; a field sent more than once is
    joined with ", " (RFC 9110 §5.3), so a list split across lines still parses."""
    out: dict[str, str] = {}
    for raw_name, raw_value in fields:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


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
