"""Editing the operator's YAML: new sources appended, everything else left as written.

Owns: adding entries at the end of `sources:` with the rest of the file untouched (comments,
order, spacing, `${VAR}` strings), checking that the result reads back as the old data plus the
entries, and replacing the file (atomically, beside itself) only once the result validates as
`run` would validate it (a `${VAR}` this shell lacks taken as the worker's, as `reload` takes
it). ruamel finds where the entries go and writes them; an edit it cannot
make without disturbing the file is refused (:class:`ImportProblem`), never guessed. One edit
at a time: an edit holds a lock on a file beside the YAML from its first read to the replace
(:func:`editing`), and a file that changed meanwhile all the same (a hand edit saved) is left
as it is, the edit refused.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import yaml

from syndication import config as cfg
from syndication.errors import ConfigError, ImportProblem
from syndication.files import temp_beside


@contextmanager
def editing(path: Path) -> Iterator[bytes | None]:
    """Hold the edit lock of the YAML at `path` (symlinks followed) and give its bytes as
    they are now (None when there is no such file: nothing to edit, nor lock).

    Two imports at once would each read the file, add their sources and replace it: the
    last would silently drop the others'. The lock lives on a file of its own beside the
    YAML (`.NAME.lock`, left there): the YAML itself is replaced, and a lock on the file
    replaced would not exclude the next edit, which opens the new one."""
    real = path.resolve()
    if not real.is_file():
        yield None  # the loader says what is wrong with it
        return
    with open(real.with_name(f".{real.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed, or when the process dies
        yield real.read_bytes()


def add_sources(
    path: Path,
    entries: list[dict[str, Any]],
    before: cfg.Config,
    dry_run: bool,
    original: bytes,
) -> str:
    """Append `entries` to the `sources:` of the YAML at `path` as it was read (`original`,
    from :func:`editing`, whose lock the caller holds) unless a dry run, and return the YAML
    text added. ImportProblem when that cannot be done cleanly, would leave an invalid
    configuration, or the file changed since it was read (it is then left as it is); OSError
    when it cannot be written."""
    new_text, block = with_sources(original.decode("utf-8"), entries)
    write_validated(path, new_text, before, dry_run, original)
    return block


def with_sources(text: str, entries: list[dict[str, Any]]) -> tuple[str, str]:
    """`text` with `entries` at the end of its `sources:`, and the YAML that was added.

    The result is checked, not assumed: it must read back as the old data plus the entries.
    """
    expected = yaml.safe_load(text)
    expected["sources"] = [*expected["sources"], *entries]
    for attempt in (_spliced, _reemitted):
        result = attempt(text, entries)
        if result is None:
            continue
        try:
            if yaml.safe_load(result[0]) == expected:
                return result
        except yaml.YAMLError:
            continue
    raise ImportProblem(
        "cannot add the sources without changing the rest of the file; add these by hand:\n"
        + _render(entries, 2, 4, "\n")
    )


def _spliced(text: str, entries: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The entries' lines inserted after the last source, every other byte untouched.

    ruamel's round-trip dump re-indents the whole file to one style, re-spaces `key:   value`
    and hands the comment above the next key (`# translation …`) to the last source, so the
    new items would land under it; we let ruamel find the spot and write the items, and
    insert their text ourselves."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError:
        return None
    if root is None or root.id != "mapping":
        return None
    sources = next((v for k, v in root.value if getattr(k, "value", None) == "sources"), None)
    if sources is None or sources.id != "sequence" or sources.flow_style or not sources.value:
        return None
    last = sources.value[-1]
    # Same line breaks as ruamel's marks count, short of exotic ones: the read-back check
    # catches those.
    lines = text.splitlines(keepends=True)
    first = lines[last.start_mark.line] if last.start_mark.line < len(lines) else ""
    content = last.start_mark.column
    dash = first.rfind("-", 0, content)
    if dash < 0 or first[:dash].strip() or first[dash + 1 : content].strip():
        return None  # `-` on a line of its own, or something stranger: let ruamel do it all
    end = _end_mark(last)
    at = end.line if end.column == 0 else end.line + 1
    newline = "\r\n" if "\r\n" in text else "\n"
    block = _render(entries, dash, content, newline)
    head, tail = lines[:at], lines[at:]
    if head and not head[-1].endswith(("\n", "\r")):
        head[-1] += newline
    return "".join(head) + block + "".join(tail), block


def _end_mark(node: Any) -> Any:
    """Where a node's own text ends: a block collection's end mark lies past the blank lines
    and comments after it, so take its last scalar's (or flow collection's) instead."""
    if node.id == "scalar" or node.flow_style or not node.value:
        return node.end_mark
    last = node.value[-1]
    return _end_mark(last[1] if node.id == "mapping" else last)


def _reemitted(text: str, entries: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The whole document through ruamel's round trip: for a flow-style `sources: [...]`,
    or a layout the splice cannot place (comments kept, spacing may change)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    editor = YAML(typ="rt")
    editor.preserve_quotes = True
    editor.width = 4096  # never fold a long URL or title
    try:
        data = editor.load(text)
        data["sources"].extend(CommentedMap(_quoted(entry)) for entry in entries)
        stream = StringIO()
        editor.dump(data, stream)
    except (YAMLError, KeyError, TypeError, AttributeError):
        return None
    return stream.getvalue(), _render(entries, 2, 4, "\n")


def _render(entries: list[dict[str, Any]], dash: int, content: int, newline: str) -> str:
    """The entries as block sequence items: `-` at column `dash`, keys at column `content`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    writer = YAML(typ="rt")
    writer.width = 4096
    lines: list[str] = []
    for entry in entries:
        stream = StringIO()
        writer.dump(CommentedMap(_quoted(entry)), stream)
        first, *rest = stream.getvalue().splitlines()
        lines.append(" " * dash + "-" + " " * (content - dash - 1) + first)
        lines.extend(" " * content + line for line in rest)
    return "".join(line + newline for line in lines)


def _quoted(entry: dict[str, Any]) -> dict[str, Any]:
    """Strings that PyYAML would read back as something else, double-quoted: ruamel writes
    YAML 1.2, where `yes`, `on` or `0o7` stay strings, but config.load reads YAML 1.1."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    def safe(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            same = yaml.safe_load(value) == value
        except yaml.YAMLError:
            same = False
        return value if same else DoubleQuotedScalarString(value)

    return {key: safe(value) for key, value in entry.items()}


def write_validated(
    path: Path, text: str, before: cfg.Config, dry_run: bool, original: bytes
) -> None:
    """Validate `text` as the configuration, then (unless a dry run) replace `path` with it,
    unless `path` no longer holds `original`, the bytes `text` was made from."""
    temp = temp_beside(path, text.encode("utf-8"))
    try:
        problems = _problems(temp, before)
        if problems:
            names = {str(temp), str(temp.resolve())}
            shown = []
            for problem in problems:
                for name in names:
                    problem = problem.replace(name, str(path))
                shown.append(f"  {problem}")
            raise ImportProblem(
                f"the configuration would be invalid after this import; {path} is unchanged "
                f"({len(problems)} problem(s); line numbers count the added lines, which "
                "--dry-run shows):\n" + "\n".join(shown)
            )
        if not dry_run:
            # An editor takes no lock: a hand edit saved since the read would be lost. Looked
            # at last, just before the replace (an edit saved within that instant still is).
            if path.read_bytes() != original:
                raise ImportProblem(
                    f"{path} changed while this import ran (an edit saved meanwhile?): it is "
                    "left as it is, nothing added; run the import again"
                )
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _problems(candidate: Path, before: cfg.Config) -> list[str]:
    try:
        # A `${VAR}` this shell lacks is the worker's to expand: the file keeps it as written.
        after = cfg.load(candidate, lenient_env=True)
    except ConfigError as exc:
        return exc.problems

    # `run` and `once` also refuse a chain that cannot translate a language pair (as `check`
    # does); count only pairs the new sources bring in. Line numbers shift: compare without.
    def unplaced(problem: str) -> str:
        return re.sub(r"^.*?:\d+: ", "", problem)

    old = {unplaced(p) for p in before.routing_problems()}
    return [p for p in after.routing_problems() if unplaced(p) not in old]
