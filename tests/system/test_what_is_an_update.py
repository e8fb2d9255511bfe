"""What a partner feed polled again changes, through the command line against a real loopback
feed server: a feed cut off mid-download never overwrites a stored story with the wreck of the
item open at the break; text whose whitespace alone changed (re-wrapped, re-indented) is no
new version and no new translation, in a store written before this rule too; a real
correction (a summary emptied in a well-formed feed) still is one. On both store backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syndication.config import load
from syndication.store import Store
from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedServer

pytestmark = pytest.mark.usefixtures("store_url")


def _atom(base: str, summaries: list[str]) -> bytes:
    entries = "".join(
        f"<entry><title>阿拉木图新闻 {n}</title><id>tag:zh.example,2026:{n}</id>"
        f'<link href="{base}/zh/story/{n}"/><updated>2026-12-0{n}T10:00:00Z</updated>'
        f"<published>2026-12-0{n}T09:00:00Z</published>"
        f'<summary type="html">{summary}</summary></entry>\n'
        for n, summary in enumerate(summaries, start=1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f'<title>Zh</title><id>tag:zh.example,2026:feed</id><link href="{base}/zh/"/>\n'
        f"<updated>2026-12-05T10:00:00Z</updated>\n{entries}</feed>\n"
    ).encode()


def _rss(base: str, description: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>{base}/</link><description>d</description><item><title>阿拉木图下雪</title>"
        f"<link>{base}/ws/1</link><guid>{base}/ws/1</guid>"
        f"<description><![CDATA[{description}]]></description>"
        "<pubDate>Sat, 05 Dec 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def _poll(config: Path, store: Store, source_id: str) -> tuple[tuple[int, int, int], list[str]]:
    """One `once`; the source's (new, updated, unchanged) and notes, as `status` shows them."""
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    state = store.source_state(source_id)
    assert state is not None and state.result == "ok", state
    return (state.new, state.updated, state.unchanged), list(state.notes)


def _item(public: Path, edition: str) -> dict[str, Any]:
    feed = json.loads((public / edition / "feed.json").read_text(encoding="utf-8"))
    (item,) = feed["items"]
    return item


def test_a_feed_cut_off_mid_download_overwrites_no_story(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    base = feed_server.base
    summaries = [f"<p>第{n}条新闻的全文。 The text of story {n}.</p>" for n in range(1, 5)]
    whole = _atom(base, summaries)
    url = feed_server.add("/zh/feed.xml", whole)
    config = write_config(
        tmp_path,
        sources=[{"id": "p", "url": url, "language": "zh"}],
        translation=OFFLINE_TRANSLATION,
    )
    store = Store.open(load(config).store_url)
    assert _poll(config, store, "p")[0] == (4, 0, 0)
    before = store.get_article("p:tag:zh.example,2026:2")
    assert before is not None and before.article.link == f"{base}/zh/story/2"

    # The download ends inside story 2's <link href="…
    cut = whole.index(b"/zh/story/2")
    feed_server.add("/zh/feed.xml", whole[:cut])
    counts, notes = _poll(config, store, "p")
    assert counts == (0, 0, 1)
    assert any("item 2 skipped" in note for note in notes), notes
    after = store.get_article("p:tag:zh.example,2026:2")
    assert after is not None
    assert after.article == before.article and after.revised_at is None

    # The whole feed again: nothing changed.
    feed_server.add("/zh/feed.xml", whole)
    assert _poll(config, store, "p")[0] == (0, 0, 4)
    last = store.get_article("p:tag:zh.example,2026:2")
    assert last is not None and last.article == before.article and last.revised_at is None

    # Broken inside story 2 alone (a tag left open): the stories after it are still read.
    feed_server.add("/zh/feed.xml", whole.replace(b"story 2.", b"<b>story 2."))
    counts, notes = _poll(config, store, "p")
    assert counts == (0, 0, 3)
    assert any("item 2 skipped" in note for note in notes), notes

    # A real correction in a well-formed feed that empties a summary is still taken.
    feed_server.add("/zh/feed.xml", _atom(base, [*summaries[:3], ""]))
    assert _poll(config, store, "p")[0] == (0, 1, 3)
    emptied = store.get_article("p:tag:zh.example,2026:4")
    assert emptied is not None and emptied.article.summary == ""


def test_whitespace_alone_is_no_new_version(
    tmp_path: Path, feed_server: FeedServer, fake_google: FakeGoogle
) -> None:
    base = feed_server.base
    url = feed_server.add("/ws/feed.xml", _rss(base, "<p>今天下雪了。 Snow today.</p>"))
    config = write_config(
        tmp_path,
        sources=[{"id": "p", "url": url, "language": "zh"}],
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}}},
    )
    store = Store.open(load(config).store_url)
    assert _poll(config, store, "p")[0] == (1, 0, 0)
    public = tmp_path / "public"
    before = {edition: _item(public, edition) for edition in ("kk", "zh", "en")}
    asked = len(fake_google.calls)
    assert asked > 0

    # The same feed polled again by a store written before this rule: nothing moves.
    assert _poll(config, store, "p")[0] == (0, 0, 1)

    feed_server.add("/ws/feed.xml", _rss(base, "<p>今天下雪了。  Snow\n   today.</p>\n"))
    assert _poll(config, store, "p")[0] == (0, 0, 1)
    for edition, item in before.items():
        assert _item(public, edition)["date_modified"] == item["date_modified"], edition
    assert len(fake_google.calls) == asked  # not sent for translation again
    stored = store.get_article(f"p:{base}/ws/1")
    assert stored is not None and stored.revised_at is None

    # A word changed is a correction, as ever.
    feed_server.add("/ws/feed.xml", _rss(base, "<p>今天下雪了。 Heavy snow today.</p>"))
    assert _poll(config, store, "p")[0] == (0, 1, 0)
