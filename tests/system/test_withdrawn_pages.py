"""A withdrawn story's page as a reader gets it behind deploy/nginx.conf and from `serve`.

Owns: the page of a story withdrawn through the command line answering 410 Gone with its
notice from the real nginx on deploy/nginx.conf as from the built-in server, in every
edition, and 200 with the story again once it is restored; the notices' copies the publisher
keeps for nginx (`withdrawn/…`) never served at their own URL, recorded as published (one
removed by hand is written again), kept by `publish --all` and gone after `restore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.nginx import nginx_serving
from tests.system.test_lifecycle import BASE, Site, _free_port, _slug, _start, _stop

EDITIONS = ("kk", "zh", "en")
STORY = "newsroom:2025-05-04-weather-advisory"
REASON = "Legal review Qz"
BROWSER = {"Sec-Fetch-Dest": "document", "Accept": "text/html,*/*;q=0.8"}


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[Path, Path, Site]]:
    """One cycle published by the CLI (offline: every story shown in its own words), served
    by `serve`: the configuration, the output folder and the server."""
    port = _free_port()
    config = write_config(
        tmp_path,
        sources=[{"id": "newsroom", "articles": "articles"}],  # each file says its language
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
        serve={"host": "127.0.0.1", "port": port},
    )
    assert run_cli("once", "--config", str(config)).code in (0, 1)  # 1: translations wait
    served = _start("serve", config, port)
    try:
        yield config, tmp_path / "public", served
    finally:
        _stop(served)


def _answers(site: Site, nginx: str, path: str) -> list[tuple[int, bytes]]:
    """What the built-in server and nginx answer a browser for `path` (relative to the base)."""
    ours = site.get(f"{BASE}{path}", **BROWSER)
    behind = httpx.get(f"{nginx}/{path}", headers=BROWSER, timeout=10)
    return [(ours.status_code, ours.content), (behind.status_code, behind.content)]


def test_a_withdrawn_story_s_page_is_gone_behind_nginx_as_from_serve_until_restored(
    published: tuple[Path, Path, Site], tmp_path: Path
) -> None:
    """w410: behind deploy/nginx.conf the page of a story withdrawn with `syndication
    withdraw` answered 200 (its notice), while `serve` answered 410 Gone."""
    config, public, served = published
    pages = [f"{edition}/articles/{_slug(STORY)}.html" for edition in EDITIONS]
    with nginx_serving(public, tmp_path / "nginx") as nginx:
        story = {page: (public / page).read_bytes() for page in pages}
        for page in pages:
            assert _answers(served, nginx, page) == [(200, story[page])] * 2, page
        done = run_cli("withdraw", STORY, "--reason", REASON, "--config", str(config))
        assert done.code == 0, done.output
        for page in pages:
            notice = (public / page).read_bytes()
            assert REASON.encode() in notice, page
            assert _answers(served, nginx, page) == [(410, notice)] * 2, page
            for copy in (f"withdrawn/{page}", f"withdrawn/{page.split('/')[0]}/", "withdrawn/"):
                assert [status for status, _ in _answers(served, nginx, copy)] == [404] * 2, copy
        # A copy removed by hand is published again, as every recorded file is.
        (public / "withdrawn" / pages[0]).unlink()
        assert (again := run_cli("publish", "--config", str(config))).code == 0, again.output
        assert (public / "withdrawn" / pages[0]).read_bytes() == (public / pages[0]).read_bytes()
        # Every file rendered again: the notices and their copies stay as they were.
        before = sorted(p.relative_to(public) for p in (public / "withdrawn").rglob("*.html"))
        assert (full := run_cli("publish", "--all", "--config", str(config))).code == 0, full.output
        after = sorted(p.relative_to(public) for p in (public / "withdrawn").rglob("*.html"))
        assert after == before == sorted(Path("withdrawn", page) for page in pages)
        assert _answers(served, nginx, pages[0])[1][0] == 410
        # Restored: the story's page again, from both, and no copy left to say otherwise.
        back = run_cli("restore", STORY, "--config", str(config))
        assert back.code == 0, back.output
        for page in pages:
            assert _answers(served, nginx, page) == [(200, story[page])] * 2, page
        assert not [p for p in (public / "withdrawn").rglob("*") if p.is_file()]
