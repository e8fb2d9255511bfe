"""More of the command line's promises: `sources` as `sources list`, `withdraw`/`restore`
refusing an item id that is not ours, and the story commands run from an admin shell that
lacks the worker's secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import feedparser

from tests.conftest import PARTNER_FEED, run_cli, snapshot, write_config
from tests.feedserver import FeedServer

SECRET_VARS = ("FEED_TOKEN", "MT_URL", "PARTNER_TOKEN", "SITE_URL")


def _shell(**given: str) -> dict[str, str]:
    """An environment without the worker's variables but for those `given`."""
    assert not any(name in os.environ for name in SECRET_VARS)
    return given


def test_sources_alone_lists_as_sources_list(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    listed = run_cli("sources", "list", "--json", "--config", str(config))
    assert listed.code == 0, listed.output
    for args in (["sources", "--json"], ["sources", "--config", str(config), "--json"]):
        alone = run_cli(*args, *(["--config", str(config)] if "--config" not in args else []))
        assert alone.code == 0, alone.output
        assert json.loads(alone.stdout) == json.loads(listed.stdout)
    table = run_cli("sources", "--config", str(config))
    assert table.code == 0 and "newsroom" in table.output


def _published_id(tmp_path: Path, edition: str) -> str:
    atom = feedparser.parse((tmp_path / "public" / edition / "atom.xml").read_bytes())
    return str(atom.entries[0].id)


def test_withdraw_and_restore_refuse_an_item_id_that_is_not_ours(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        editions=["kk", "en"],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": "http://127.0.0.1:9/m"}},
            "untranslated": "original",
        },
    )
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    ours = _published_id(tmp_path, "kk")
    assert ours.startswith("tag:feeds.example.kz,2025:newsroom:")
    story = ours.split(":", 2)[2].rpartition("/")[0]
    other = f"tag:otherhost.example,2025:{story}/kk"
    refused = run_cli("withdraw", other, "--reason", "legal", "--config", str(config))
    assert refused.code == 2, refused.output
    assert "otherhost.example" in refused.output and "not our story" in refused.output
    unknown_edition = f"tag:feeds.example.kz,2025:{story}/zz"
    for command in ("withdraw", "restore"):
        refused = run_cli(command, unknown_edition, "--config", str(config))
        assert refused.code == 2, refused.output
        assert "edition 'zz'" in refused.output and "kk, en" in refused.output
    # Nothing was withdrawn by the refused ids; ours still works.
    assert ours in (tmp_path / "public" / "kk" / "atom.xml").read_text(encoding="utf-8")
    done = run_cli("withdraw", ours, "--config", str(config))
    assert done.code == 0 and story in done.output, done.output


def test_story_commands_run_without_the_workers_secrets(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/feed.xml?token=tok-VERYSECRET", PARTNER_FEED.read_bytes())
    host = url.split("//", 1)[1].split("/", 1)[0]
    config = write_config(
        tmp_path,
        editions=["kk", "en"],
        sources=[
            {"id": "newsroom", "articles": "articles", "language": "kk"},
            {"id": "partner", "url": f"http://{host}/feed.xml?token=${{FEED_TOKEN}}"},
        ],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": "${MT_URL}"}},
            "untranslated": "original",
        },
        partners=[{"id": "desk", "token": "${PARTNER_TOKEN}"}],
    )
    worker = _shell(
        FEED_TOKEN="tok-VERYSECRET", MT_URL="http://127.0.0.1:9/m", PARTNER_TOKEN="p" * 32
    )
    assert run_cli("once", "--config", str(config), env=worker).code in (0, 1)
    before = snapshot(tmp_path / "public")
    assert feed_server.requests_for("/feed.xml?token=tok-VERYSECRET")

    # The admin's shell has none of them: the commands that only publish still run.
    shell = _shell()
    again = run_cli("publish", "--all", "--config", str(config), env=shell)
    assert again.code == 0, again.output
    after = snapshot(tmp_path / "public")
    assert after.keys() == before.keys()
    for name, (data, _) in after.items():
        assert b"${" not in data and b"FEED_TOKEN" not in data, name
        assert b"VERYSECRET" not in data, name
    chosen = _published_id(tmp_path, "en")
    withdrawn = run_cli("withdraw", chosen, "--reason", "Legal", "--config", str(config), env=shell)
    assert withdrawn.code == 0, withdrawn.output
    atom = (tmp_path / "public" / "en" / "atom.xml").read_text(encoding="utf-8")
    assert f"<id>{chosen}</id>" not in atom and f'deleted-entry ref="{chosen}"' in atom
    restored = run_cli("restore", chosen, "--config", str(config), env=shell)
    assert restored.code == 0, restored.output
    published = [p.read_bytes() for p in (tmp_path / "public").rglob("*") if p.is_file()]
    assert not any(b"${" in data for data in published)

    # A variable the published files depend on is still required.
    site = config.read_text(encoding="utf-8").replace("https://feeds.example.kz/", "${SITE_URL}")
    config.write_text(site, encoding="utf-8")
    refused = run_cli("publish", "--config", str(config), env=shell)
    assert refused.code == 2 and "SITE_URL is not set" in refused.output, refused.output
