"""A big publish rendered on several processes: the same files as on one, and no file lost when
a job fails or a process dies (real forks, a real store and output folder)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from syndication.config import Config
from syndication.ingest.save import save_articles
from syndication.publish import parallel, publish
from syndication.publish.parallel import Job, Round
from syndication.publish.write import Folder, Writer
from tests.conftest import snapshot
from tests.unit.publish.test_publish import _article, _setup


def _processes(config: Config, processes: int) -> Config:
    s = config.settings
    publish_settings = s.publish.model_copy(update={"processes": processes})
    return replace(config, settings=s.model_copy(update={"publish": publish_settings}))


def test_a_publish_on_two_processes_writes_the_files_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store = _setup(tmp_path, feeds={"items": 4})  # archive pages in every feed
    for source in ("full", "brief", "heads"):
        save_articles(store, source, [_article(source, n) for n in range(9)], ["kk", "zh", "en"])
    publish(config, store)
    # A small store: every round counts as big here.
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 1)

    def everything(processes: int) -> tuple[dict[str, bytes], int]:
        shutil.rmtree(config.output)
        report = publish(_processes(config, processes), store, full=True)
        assert not report.errors
        return {path: data for path, (data, _) in snapshot(config.output).items()}, report.processes

    one, alone = everything(1)
    two, shared = everything(2)
    assert (alone, shared) == (1, 2)
    assert len(one) > 100 and two == one
    assert not list(config.output.rglob(".*.tmp"))


def _pages(n: int, **job: object) -> Job:
    steps = [lambda n=n, k=k: {f"p{n}/{k}.html": f"page {n}.{k}".encode()} for k in range(30)]
    return Job(f"job{n}", steps, 30, **job)  # type: ignore[arg-type]


def _dies_in_a_child(parent: int) -> dict[str, bytes]:
    if os.getpid() != parent:
        os._exit(9)  # as if killed (the OOM killer, a segfault in a C extension)
    return {"p9/survivor.html": b"done here"}


def _raises() -> dict[str, bytes]:
    raise ValueError("cannot render this one")


def test_a_job_that_fails_or_a_process_that_dies_loses_no_other_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 1)
    writer = Writer(Folder(tmp_path))
    work = Round(writer, processes=3)
    done: list[str] = []
    # Shares by weight: the heaviest job here, "broken" in one child, "dying" in the other,
    # the pages between the two children.
    work.add(Job("here", [lambda: {"here.html": b"here"}], 5000))
    for n in range(6):
        work.add(_pages(n, on_done=lambda n=n: done.append(f"job{n}")))
    work.add(Job("broken", [_raises], 1000))
    work.add(Job("dying", [partial(_dies_in_a_child, os.getpid())], 1000))
    errors = work.run()
    assert work.most == 3
    assert list(errors) == ["broken"] and "cannot render this one" in errors["broken"][0]
    assert sorted(done) == [f"job{n}" for n in range(6)]
    # The dying child's share was rendered again here: every page is there.
    for n in range(6):
        for k in range(30):
            assert (tmp_path / f"p{n}" / f"{k}.html").read_bytes() == f"page {n}.{k}".encode()
    assert (tmp_path / "p9" / "survivor.html").read_bytes() == b"done here"
    assert len(writer.written) == 182 and not writer.failed


def test_a_job_that_must_not_fail_fails_the_publish_as_it_would_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 1)
    work = Round(Writer(Folder(tmp_path)), processes=2)
    work.add(_pages(1))
    work.add(Job("pages", [_raises], 1000, fatal=True))
    with pytest.raises(ValueError, match="cannot render this one"):
        work.run()
