"""OPML 2.0 read and write: a leaf that knows the format, not what the outlines are for.

Owns: reading an OPML file a stranger may have written, safely (a size cap, no entity
declared or resolved, no DTD or network fetched; every refusal an :class:`OpmlError` naming
`file:line`), into flat feed outlines with their line numbers; and writing an OPML 2.0
document from outline attributes, extension namespaces included. Which outlines become which
sources is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from syndication.errors import OpmlError

# A list of feed subscriptions is kilobytes; anything near this is not one.
MAX_OPML_BYTES = 10 * 1024 * 1024
SPEC = "http://opml.org/spec2.opml"


@dataclass(frozen=True)
class Outline:
    """An OPML feed outline; `url` (its `xmlUrl`) is empty for a leaf that gives none."""

    line: int
    url: str
    text: str | None
    title: str | None
    language: str | None
    extension: dict[str, str]  # attributes in the namespace `read` was given, by local name

    @property
    def label(self) -> str:
        """How a message names the outline: its line, title or text, and URL."""
        name = self.title or self.text
        where = f" ({self.url})" if self.url else ""
        return f"line {self.line} {name!r}{where}" if name else f"line {self.line}{where}"


def read(path: Path, namespace: str | None = None) -> list[Outline]:
    """Every outline but folders (leaves without a feed URL too, for the report), folders
    flattened; `namespace`: whose attributes go into `extension`. OpmlError for anything
    unsafe or not OPML."""
    # lxml is imported by the commands that need it: every other command starts faster.
    from lxml import etree

    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_OPML_BYTES + 1)
    except FileNotFoundError:
        raise OpmlError(f"{path}: no such file") from None
    except OSError as exc:
        raise OpmlError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"{path}:1: larger than {MAX_OPML_BYTES} bytes; not a list of feeds")
    # No entity is resolved, no DTD loaded, nothing fetched; libxml2 also stops entity
    # expansion that amplifies.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        if b"<!ENTITY" in data:
            raise OpmlError(_entities_refused(path, data)) from None
        message = re.sub(r", line \d+, column \d+$", "", str(exc.msg)).replace("\n", " ")
        raise OpmlError(f"{path}:{exc.lineno or 1}: not well-formed XML: {message}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        # libxml2 still substitutes internal entities: refuse them rather than trust limits.
        raise OpmlError(_entities_refused(path, data))
    if root.tag != "opml":
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise OpmlError(f"{path}:{root.sourceline}: not OPML: the document is <{name}>")
    body = root.find("body")
    if body is None:
        raise OpmlError(f"{path}:{root.sourceline}: not OPML: <opml> has no <body>")
    prefix = "{" + namespace + "}" if namespace else None
    return [o for element in body.iter("outline") if (o := _outline(element, prefix)) is not None]


def _entities_refused(path: Path, data: bytes) -> str:
    # OPML needs no entities, and declaring them is how external-entity (XXE) and
    # entity-expansion attacks begin: one message for all of them, parsed or not.
    line = data[: max(data.find(b"<!ENTITY"), 0)].count(b"\n") + 1
    return f"{path}:{line}: declares XML entities (<!ENTITY …>); refused: OPML needs none"


def _outline(element: Any, prefix: str | None) -> Outline | None:
    # Readers disagree on the case of `xmlUrl` (xmlurl, xmlURL): compare without it.
    standard = {k.lower(): v for k, v in element.attrib.items() if not k.startswith("{")}
    url = (standard.get("xmlurl") or "").strip()
    if not url and element.find("outline") is not None:
        return None  # a folder: its outlines are read in turn
    extension = {
        k.removeprefix(prefix): v.strip()
        for k, v in element.attrib.items()
        if prefix and k.startswith(prefix) and v.strip()
    }
    return Outline(
        line=element.sourceline or 0,
        url=url,
        text=_clean(standard.get("text")),
        title=_clean(standard.get("title")),
        language=_clean(standard.get("language")),
        extension=extension,
    )


def _clean(value: str | None) -> str | None:
    # A title is one line of display text: folders and readers leave newlines and runs of
    # spaces in it.
    cleaned = " ".join((value or "").split())
    return cleaned or None


def write(
    title: str,
    outlines: Iterable[Mapping[str, str]],
    namespaces: Mapping[str, str] | None = None,
) -> bytes:
    """An OPML 2.0 document listing `outlines` (each its attributes, `{namespace}name` for an
    extension's); `namespaces` maps the prefixes to declare on the root to their URIs."""
    from lxml import etree

    root = etree.Element("opml", version="2.0", nsmap=dict(namespaces or {}))
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    etree.SubElement(head, "docs").text = SPEC
    body = etree.SubElement(root, "body")
    for attributes in outlines:
        etree.SubElement(body, "outline", dict(attributes))
    # lxml's own declaration uses single quotes; written out to match feeds.opml and habit.
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(
        root, encoding="UTF-8", xml_declaration=False, pretty_print=True
    )
