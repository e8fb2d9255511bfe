"""`publish.public: false`: a partners-only service publishes no public feed, feed page or
article page (what an earlier public publish wrote is removed), its index and OPML list
nothing, and partners' feeds are served all the same, their items linking to the originals."""

from __future__ import annotations

import json
from pathlib import Path

from syndication.config import load
from syndication.ingest.save import save_articles
from syndication.model import Article, utcnow
from syndication.partners.feeds import PrivateFeeds
from syndication.publish import publish
from syndication.store import Store
from tests.conftest import write_config

DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # sha256("test")


def _setup(folder: Path, public: bool) -> Path:
    return write_config(
        folder,
        sources=[{"id": "wire", "url": "https://wire.example.com/rss", "language": "kk"}],
        publish={"public": public},
        partners=[{"id": "desk", "token_sha256": DIGEST}],
    )


def test_a_partners_only_service_publishes_nothing_public(tmp_path: Path) -> None:
    config = load(_setup(tmp_path, public=True))
    store = Store.open(config.store_url)
    story = Article(id="wire:1", source_id="wire", guid="1", title="Жаңалық",
                    link="https://wire.example.com/news/1", summary="Қысқаша.",
                    content="<p>Мәтін.</p>", language="kk", published=utcnow())  # fmt: skip
    save_articles(store, "wire", [story], ["kk", "zh", "en"])
    publish(config, store)
    root = config.output
    assert (root / "kk" / "rss.xml").is_file() and list((root / "kk" / "articles").iterdir())

    private = load(_setup(tmp_path, public=False))
    publish(private, store)
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert left == ["feed.xsl", "feeds.opml", "index.html", "style.css"]
    index = (root / "index.html").read_text(encoding="utf-8")
    opml = (root / "feeds.opml").read_text(encoding="utf-8")
    assert "rss.xml" not in index and "partners" not in index
    assert "xmlUrl" not in opml

    (partner,) = private.settings.partners
    feed = json.loads(PrivateFeeds(store).render(private, partner, "kk", "feed.json").data)
    (item,) = feed["items"]
    assert item["url"] == "https://wire.example.com/news/1"  # no public page to link to
    assert "_syndication" not in item or "alternates" not in item["_syndication"]
    assert item["id"].endswith(",2025:wire:1/kk")
