"""One cycle's translation step on a store shared by several workers: claimed a batch at a
time, it still translates everything due (as `once` promises), not one batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndication.config import load
from syndication.ingest.save import save_articles
from syndication.model import Article
from syndication.run.cycle import translate
from syndication.store import CLAIM_BATCH, Store
from tests.conftest import write_config
from tests.fakeprovider import FakeGoogle


def test_a_backlog_larger_than_a_claim_is_translated_in_one_cycle(
    tmp_path: Path, postgres_url: str, fake_google: FakeGoogle
) -> None:
    path = write_config(
        tmp_path,
        store=postgres_url,
        sources=[{"id": "wire", "articles": "articles", "language": "en"}],
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}}},
    )
    config = load(path)
    store = Store.open(config.store_url)
    store.register("test", timedelta(seconds=30))
    stories = [
        Article(
            id=f"wire:{n}",
            source_id="wire",
            guid=str(n),
            title=f"Story {n} from Astana",
            link=f"https://example.org/{n}",
            summary="Officials said so.",
            content="<p>Officials said so.</p>",
            language="en",
            published=datetime(2025, 5, 1, tzinfo=UTC),
        )
        for n in range(CLAIM_BATCH)
    ]
    save_articles(store, "wire", stories, config.settings.languages)  # kk and zh for each
    report = translate(config, store)
    assert report.translated == 2 * CLAIM_BATCH
    assert store.backlog() == {"kk": {"translated": CLAIM_BATCH}, "zh": {"translated": CLAIM_BATCH}}
