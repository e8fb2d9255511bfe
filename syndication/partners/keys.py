"""Who is asking: a partner's token, from where a client can send it, checked safely.

Owns: reading the token from `Authorization: Bearer …` or, for feed readers that cannot send
headers, `?token=…`; and the keyring built from the configuration, which holds each partner's
token as its SHA-256 only and compares digests in constant time, an unknown partner id
costing the same comparison as a known one (so neither the answer nor its timing tells which
ids exist).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from syndication.config import Config, PartnerSettings

# Compared against when the partner id is unknown: the same work as for a known one.
_NOBODY = hashlib.sha256(b"no partner has this key").digest()


def parameters(query: str) -> list[tuple[str, str]]:
    """A query string's parameters, in order (read once per request)."""
    return parse_qsl(query, keep_blank_values=True) if query else []


def bearer(headers: dict[str, str]) -> str:
    """The token in `Authorization: Bearer …`, or ""."""
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def token_from(headers: dict[str, str], params: list[tuple[str, str]]) -> str:
    """The token a request carries: the Bearer credentials, else the `token` parameter."""
    return bearer(headers) or next((value for key, value in params if key == "token"), "")


def without_token(params: list[tuple[str, str]]) -> str:
    """The parameters but any `token`, as a query string (what the access log shows)."""
    return "&".join(f"{key}={value}" for key, value in params if key != "token")


class Keyring:
    """The partners' token digests, by partner id."""

    def __init__(self, config: Config) -> None:
        self._partners = {p.id: (p, p.digest) for p in config.settings.partners}

    def check(self, partner_id: str, token: str) -> PartnerSettings | None:
        """The partner whose token this is, or None (unknown id, wrong or missing token)."""
        partner, expected = self._partners.get(partner_id, (None, _NOBODY))
        offered = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        matches = hmac.compare_digest(offered, expected)
        return partner if matches and partner is not None and token else None

    def known(self, partner_id: str) -> bool:
        return partner_id in self._partners
