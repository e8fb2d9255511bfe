"""HTML-aware segmenting: what we send to a translator, and how answers go back into markup.

Owns: splitting sanitised HTML into block segments (p, h1-h6, li, blockquote, figcaption, td …)
with inline tags, URLs, glossary terms and do-not-translate words replaced by numbered
placeholders (`[1]`, `[/1]`) that must all come back; the words of `alt`/`title` attributes
as segments of their own; which forms of a glossary name a story's text may hold (its
language's, and the other script that language is written in) and matching them as whole
words; the fallbacks (text nodes one by one, then plain text); never sending `pre`, `code`,
URLs or number-only text; and packing units into requests under a provider's size limit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from syndication.lang import DERIVED, script_forms

BLOCK_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "figcaption",
    "td",
    "th",
    "dd",
    "dt",
    "caption",
    "ul",
    "ol",
    "dl",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "figure",
    "hr",
    "div",
    "section",
    "article",
}
LITERAL_TAGS = {"pre", "code"}  # sent nowhere, kept byte for byte
VOID_TAGS = {"br", "img", "hr", "wbr"}

_TOKEN = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"^</?\s*([a-zA-Z0-9]+)")
_URL = re.compile(r"https?://[^\s<>\"'\]\[]+")
_PLACEHOLDER = re.compile(r"\[/?\d+\]")
# What a provider may make of a placeholder: spaces inside ("[ 1 ]", "[/ 1]") or full-width
# brackets ("［1］", common in Chinese answers). Read back as the placeholder; nothing looser.
_LOOSE_PLACEHOLDER = re.compile(r"[\[［]\s*(/?)\s*(\d+)\s*[\]］]")
_SPACE = re.compile(r"\s+")
_SEPARATOR = "\n\n"
_SPLIT_ANSWER = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s*")


@dataclass(frozen=True)
class Glossary:
    """Fixed forms of names per language, and words never translated."""

    terms: tuple[dict[str, str], ...] = ()
    keep: tuple[str, ...] = ()
    _pairs: dict[tuple[str, str], list[tuple[str, str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def pairs(self, source: str, target: str) -> list[tuple[str, str]]:
        """(form in the source text, form to put in the translation), longest first; a form
        two entries give is the first one's (`check` refuses such a repeat)."""
        cached = self._pairs.get((source, target))
        if cached is not None:
            return cached
        found: dict[str, str] = {}
        for entry in self.terms:
            wanted = entry.get(target)
            for form, fallback in _source_forms(entry, source):
                put = wanted or fallback
                if form and put:
                    found.setdefault(form, put)
        for word in self.keep:
            if word:
                found.setdefault(word, word)
        # sorted() is stable: among forms of one length the first given stays first.
        pairs = sorted(found.items(), key=lambda pair: -len(pair[0]))
        self._pairs[(source, target)] = pairs
        return pairs


def _source_forms(entry: dict[str, str], source: str) -> list[tuple[str, str | None]]:
    """The forms a story in `source` may write an entry's name in, each with what to put in a
    translation with no form of its own: the entry's form in `source`; for Kazakh, the Russian
    form too (Kazakh news often spells Russian-style names); and the name in the other script
    an original of that language may be written in (Latin Kazakh, Traditional Chinese): the
    entry's own `kk-Latn`/`zh-Hant` form, and the one derived from its `kk`/`zh` form as the
    derived editions derive it. A form in another script is kept as the story writes it."""
    own = entry.get(source)
    forms: list[tuple[str, str | None]] = [(own, own)] if own else []
    if source == "kk" and entry.get("ru"):
        forms.append((entry["ru"], own))
    for derived, base in DERIVED.items():
        if base != source:
            continue
        written = [entry[derived]] if entry.get(derived) else []
        written += script_forms(own, source) if own else []
        forms += [(form, form) for form in written]
    return forms


# A letter or digit of a script that separates words by spaces. A glossary name or a `keep`
# word that starts or ends with one matches only where no such character touches it there:
# `a` is no word inside "Parliament", Kazinform is in "Kazinform's" and "新华社Kazinform报道".
# Chinese and Japanese write no spaces: a name in their script matches inside a run of text.
# (Checked in Python at each occurrence: a regex per form with this class took 4 ms to
# compile, a second for a glossary of 500 names.)
_SPACELESS = re.compile("[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")


def _word_char(ch: str) -> bool:
    return (ch.isalnum() or ch == "_") and _SPACELESS.match(ch) is None


def _replace_whole_words(text: str, form: str, hold: Callable[[], str]) -> str:
    """`text` with each whole-word occurrence of `form` replaced by what `hold` returns."""
    before, after = _word_char(form[0]), _word_char(form[-1])
    out: list[str] = []
    start = 0
    pos = text.find(form)
    while pos != -1:
        end = pos + len(form)
        if (not before or pos == 0 or not _word_char(text[pos - 1])) and (
            not after or end == len(text) or not _word_char(text[end])
        ):
            out += (text[start:pos], hold())
            start = end
            pos = text.find(form, end)
        else:
            pos = text.find(form, pos + 1)
    out.append(text[start:])
    return "".join(out)


def protect(
    text: str, glossary: Sequence[tuple[str, str]], tokens: dict[str, str], counter: int
) -> tuple[str, int]:
    """Replace URLs, glossary terms and literal "[n]" in plain `text` by new placeholders.

    Every occurrence gets a placeholder of its own, so an answer is checked occurrence by
    occurrence; a term matches as a whole word (see `_word_char`). `tokens` receives
    placeholder -> HTML to put back; returns the text and the last number.
    """

    def hold(replacement_html: str) -> str:
        nonlocal counter
        counter += 1
        key = f"[{counter}]"
        tokens[key] = replacement_html
        return key

    # A literal "[1]" in the source (a footnote mark) would read as one of our placeholders.
    text = _LOOSE_PLACEHOLDER.sub(lambda m: hold(html.escape(m.group(0), quote=False)), text)
    text = _URL.sub(lambda m: hold(html.escape(m.group(0), quote=False)), text)
    for source_form, target_form in glossary:
        if source_form in text:
            # One placeholder per occurrence: a name repeats in almost every story, and each
            # placeholder must come back exactly once (see restore_placeholders).
            replacement = html.escape(target_form, quote=False)
            text = _replace_whole_words(text, source_form, lambda r=replacement: hold(r))
    return text, counter


def restore_placeholders(answer: str, tokens: dict[str, str]) -> str | None:
    """The answer as HTML with placeholders put back, or None if they did not all survive.

    Conservative on purpose: spacing and full-width brackets are forgiven, but every
    placeholder must come back exactly once and every pair `[n]`…`[/n]` in order and properly
    nested (a provider that moved a closing marker before its opening one would otherwise
    produce broken markup); anything else sends the block to the fallback.
    """
    answer = _LOOSE_PLACEHOLDER.sub(lambda m: f"[{m.group(1)}{m.group(2)}]", answer.strip())
    found = _PLACEHOLDER.findall(answer)
    if sorted(found) != sorted(tokens):
        return None
    stack: list[str] = []
    for key in found:
        if key.startswith("[/"):
            if not stack or stack.pop() != key.replace("/", "", 1):
                return None
        elif f"[/{key[1:]}" in tokens:
            stack.append(key)
    if stack:
        return None
    escaped = html.escape(answer, quote=False)
    return _PLACEHOLDER.sub(lambda m: tokens[m.group(0)], escaped)


def has_letters(text: str) -> bool:
    stripped = _URL.sub("", _PLACEHOLDER.sub("", text))
    return any(ch.isalpha() for ch in stripped)


@dataclass
class Segment:
    """One block of text, with the markup around its words held aside as placeholders."""

    nodes: list[str]  # tokens: tags (start with '<') and text (HTML-escaped, as in the source)
    glossary: list[tuple[str, str]]
    lead: str = ""
    trail: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    node_tokens: dict[int, dict[str, str]] = field(default_factory=dict)
    node_fixed: dict[int, str] = field(default_factory=dict)
    plain_tokens: dict[str, str] = field(default_factory=dict)
    _plain: str | None = field(default=None, repr=False)

    def whole(self) -> str:
        """The block's text with inline tags, URLs and glossary terms as placeholders."""
        out: list[str] = []
        stack: list[tuple[str, int]] = []
        self.tokens = {}
        counter = 0
        for node in self.nodes:
            if node.startswith("<"):
                name = tag_name(node)
                closing = node.startswith("</")
                if closing and stack and stack[-1][0] == name:
                    _, number = stack.pop()
                    key = f"[/{number}]"
                else:
                    counter += 1
                    number = counter
                    key = f"[{number}]"
                    if not closing and name not in VOID_TAGS and not node.endswith("/>"):
                        stack.append((name, number))
                self.tokens[key] = node
                out.append(key)
            else:
                text, counter = protect(html.unescape(node), self.glossary, self.tokens, counter)
                out.append(text)
        # Whitespace is not significant in HTML text (pre is never sent): one space each, so
        # a packed request's blank lines are the only line breaks in it.
        return _SPACE.sub(" ", "".join(out)).strip()

    def restore(self, answer: str) -> str | None:
        """The translated block as HTML, or None if a placeholder went missing or astray."""
        result = restore_placeholders(answer, self.tokens)
        return None if result is None else self.lead + result + self.trail

    def text_nodes(self) -> list[tuple[int, str]]:
        """(index, protected text) of each node worth translating: the first fallback.

        Each node is protected on its own (numbering from 1), so the same text gives the
        same unit in every article and translation memory still applies; glossary terms,
        URLs and literal "[n]" stay placeholders here too.
        """
        units = []
        self.node_tokens = {}
        self.node_fixed = {}
        for index, node in enumerate(self.nodes):
            if not node.startswith("<"):
                text = html.unescape(node)
                if has_letters(text):
                    tokens: dict[str, str] = {}
                    protected, _ = protect(text, self.glossary, tokens, 0)
                    protected = _SPACE.sub(" ", protected).strip()
                    if has_letters(protected):
                        self.node_tokens[index] = tokens
                        units.append((index, protected))
                    else:
                        # Nothing but a name or a URL: its fixed form needs no request.
                        self.node_fixed[index] = restore_placeholders(protected, tokens) or node
        return units

    def restore_nodes(self, answers: dict[int, str]) -> str | None:
        """The block from per-node answers (call text_nodes first); None if one lost a marker."""
        out = []
        for index, node in enumerate(self.nodes):
            fixed = self.node_fixed.get(index)
            if index in answers or fixed is not None:
                restored = (
                    fixed
                    if fixed is not None
                    else restore_placeholders(answers[index], self.node_tokens.get(index, {}))
                )
                if restored is None:
                    return None
                lead = node[: len(node) - len(node.lstrip())]
                trail = node[len(node.rstrip()) :]
                out.append(lead + restored + trail)
            else:
                out.append(node)
        return self.lead + "".join(out).strip() + self.trail

    def plain_unit(self) -> str:
        """The block's text without its inline tags (the last fallback), names protected."""
        if self._plain is None:
            self.plain_tokens = {}
            protected, _ = protect(self.plain(), self.glossary, self.plain_tokens, 0)
            self._plain = _SPACE.sub(" ", protected).strip()
        return self._plain

    def restore_plain(self, answer: str) -> str | None:
        """The block from a plain-text answer: its words survive, its inline markup does not."""
        self.plain_unit()
        result = restore_placeholders(answer, self.plain_tokens)
        return None if result is None else self.lead + result + self.trail

    def plain(self) -> str:
        return re.sub(
            r"\s+", " ", html.unescape("".join(n for n in self.nodes if not n.startswith("<")))
        ).strip()


@dataclass
class Document:
    """An HTML fragment as literal markup interleaved with translatable segments, and the
    words of its tags' `alt`/`title` attributes, each a segment of its own whose translation
    goes back into its tag (held there by a numbered slot meanwhile)."""

    parts: list[str | Segment]
    attributes: list[Segment] = field(default_factory=list)  # by slot number

    @property
    def segments(self) -> list[Segment]:
        return [p for p in self.parts if isinstance(p, Segment)] + self.attributes

    def is_attribute(self, segment: Segment) -> bool:
        """Whether `segment` holds an alt/title attribute's words (not the text itself)."""
        return any(segment is held for held in self.attributes)

    def render(self, translated: dict[int, str]) -> str:
        """Markup with each segment (by position in `segments`) replaced by its translation."""
        out: list[str] = []
        index = 0
        for part in self.parts:
            if isinstance(part, Segment):
                out.append(translated.get(index, ""))
                index += 1
            else:
                out.append(part)
        rendered = "".join(out)
        if not self.attributes:
            return rendered

        def fill(match: re.Match[str]) -> str:
            slot = int(match.group(1))
            words = translated.get(index + slot)
            if words is None:  # untranslated: the words as they were
                words = self.attributes[slot].plain()
            # An attribute value in double quotes, as the sanitiser writes every one.
            return html.escape(html.unescape(words).strip(), quote=True)

        return _SLOT.sub(fill, rendered)


# The attributes whose words a reader sees (an image's description, a tooltip), in double
# quotes as our sanitiser writes every attribute; while the rest is translated their values
# are private-use slots, which no sanitised story holds (a story that does keeps its words).
_WORDS_ATTRIBUTE = re.compile(r'(\s(?:alt|title)=")([^"]*)(")', re.IGNORECASE)
_SLOT_OPEN, _SLOT_CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{_SLOT_OPEN}(\\d+){_SLOT_CLOSE}")


def _hold_attributes(tag: str, glossary: list[tuple[str, str]], attributes: list[Segment]) -> str:
    """`tag` with the words of its alt/title attributes held as slots, each a segment."""

    def hold(match: re.Match[str]) -> str:
        words = html.unescape(match.group(2)).strip()
        if not has_letters(words):
            return match.group(0)
        attributes.append(
            Segment(nodes=[html.escape(_SPACE.sub(" ", words), quote=False)], glossary=glossary)
        )
        slot = f"{_SLOT_OPEN}{len(attributes) - 1}{_SLOT_CLOSE}"
        return match.group(1) + slot + match.group(3)

    return _WORDS_ATTRIBUTE.sub(hold, tag)


def tag_name(token: str) -> str:
    match = _TAG_NAME.match(token)
    return match.group(1).lower() if match else ""


def split_html(fragment: str, glossary: list[tuple[str, str]]) -> Document:
    """Split sanitised HTML into literal markup and block segments."""
    parts: list[str | Segment] = []
    attributes: list[Segment] = []
    run: list[str] = []
    literal_depth = 0
    literal: list[str] = []
    slots = _SLOT_OPEN not in fragment

    def flush() -> None:
        if not run:
            return
        joined = "".join(run)
        text_only = html.unescape("".join(n for n in run if not n.startswith("<")))
        if not has_letters(text_only):
            parts.append(joined)
        else:
            lead = ""
            trail = ""
            nodes = list(run)
            # Keep surrounding whitespace out of what is sent, and put it back after.
            while nodes and not nodes[0].startswith("<") and not nodes[0].strip():
                lead += nodes.pop(0)
            while nodes and not nodes[-1].startswith("<") and not nodes[-1].strip():
                trail = nodes.pop() + trail
            if nodes and not nodes[0].startswith("<"):
                stripped = nodes[0].lstrip()
                lead += nodes[0][: len(nodes[0]) - len(stripped)]
                nodes[0] = stripped
            if nodes and not nodes[-1].startswith("<"):
                stripped = nodes[-1].rstrip()
                trail = nodes[-1][len(stripped) :] + trail
                nodes[-1] = stripped
            parts.append(Segment(nodes=nodes, glossary=glossary, lead=lead, trail=trail))
        run.clear()

    for token in _TOKEN.split(fragment):
        if not token:
            continue
        name = tag_name(token) if token.startswith("<") else ""
        if name in LITERAL_TAGS or literal_depth:
            if name in LITERAL_TAGS and not token.startswith("</"):
                literal_depth += 1
            literal.append(token)
            if name in LITERAL_TAGS and token.startswith("</"):
                literal_depth -= 1
            if literal_depth == 0:
                block = "".join(literal)
                literal.clear()
                if name == "pre":
                    flush()
                    parts.append(block)
                else:
                    # Inline code stays inside its sentence, as one opaque placeholder.
                    run.append(block)
            continue
        if name and slots and "=" in token:
            token = _hold_attributes(token, glossary, attributes)
        if name in BLOCK_TAGS:
            flush()
            parts.append(token)
        else:
            run.append(token)
    if literal:
        run.extend(literal)
    flush()
    return Document(parts, attributes)


def split_text(text: str, glossary: list[tuple[str, str]]) -> Document:
    """A plain-text field (title, summary) as one segment."""
    if not has_letters(text):
        return Document([text])
    return Document([Segment(nodes=[html.escape(text, quote=False)], glossary=glossary)])


def pack(units: Sequence[str], limit: int) -> list[list[str]]:
    """Group units into requests of at most `limit` characters joined by blank lines."""
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for unit in units:
        extra = len(unit) + (len(_SEPARATOR) if current else 0)
        if current and size + extra > limit:
            batches.append(current)
            current, size = [], 0
            extra = len(unit)
        current.append(unit)
        size += extra
    if current:
        batches.append(current)
    return batches


def join_units(units: Sequence[str]) -> str:
    return _SEPARATOR.join(units)


def split_answer(answer: str, expected: int) -> list[str] | None:
    """The answer to a packed request cut back into its units, or None if that is unsure.

    Units are sent separated by blank lines and hold no line breaks of their own (see
    `Segment.whole`), so a provider that keeps the blank lines, or squeezes them to single
    line breaks, can be split back unambiguously; one that merges paragraphs cannot.
    """
    parts = [p.strip() for p in _SPLIT_ANSWER.split(answer.strip())]
    if len(parts) == expected:
        return parts
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    return lines if len(lines) == expected else None


def split_long(text: str, limit: int) -> list[str]:
    """Cut a unit over the limit at sentence boundaries (hard cuts only as a last resort)."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE.split(text) if s):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current.strip())
            current = ""
        current = (
            f"{current} {sentence}" if current and not _is_cjk(sentence) else current + sentence
        )
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _is_cjk(text: str) -> bool:
    return bool(text) and "\u3000" <= text[0] <= "\u9fff"


def join_pieces(pieces: Iterable[str], target: str) -> str:
    return ("" if target == "zh" else " ").join(p.strip() for p in pieces)
