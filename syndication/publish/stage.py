"""The publish stage: from what changed in the store to the files that show it.

Owns: the order of the phases (changes → versions → pages → documents → site → write →
record → announce), which documents a publish renders (following the changes: the documents
holding a changed story's rank, the current document of every feed it is in, the archive pages
stories moved into and the page before a new one; all of them on a full publish), story pages
before the feeds that link to them (rendering in rounds, `parallel`: a round's files are all
published before the next round's, which may link to them: story pages, then archive pages,
then current documents), the files a publish no longer produces, the report of a
publish, and recording it all in the store in one transaction once every file is written. A
publish with nothing changed renders nothing, unless the output lacks a file it published (a
front file, or one the store records: removed by hand): then it renders every file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from syndication import metrics
from syndication.config import Config
from syndication.items import item_id, slug
from syndication.model import utcnow
from syndication.paging import Paging, first_kept
from syndication.publish.announce import Ping, announce
from syndication.publish.changes import AT, MARK, SHAPE, Plan, plan
from syndication.publish.parallel import Job, Render, Round
from syndication.publish.render import (
    FEED_FILES,
    document,
    document_paths,
    feed_index,
    links,
    notice_copy,
    notice_files,
    site_files,
    story_page,
)
from syndication.publish.select import FeedDef, feeds, id_authority
from syndication.publish.stories import KEPT, Stories
from syndication.publish.versions import Ledger, account, rebuild
from syndication.publish.write import Folder, Output, Writer
from syndication.render import TOMBSTONE_DAYS, Item, Tombstone
from syndication.store import USABLE, Entry, PublishRecord, Store
from syndication.store.base import chunks, iso, parse_iso

log = logging.getLogger(__name__)

MEMBERSHIP = "publish_membership"  # what decided each feed's entries, by feed
FAILED = "publish_failed"  # feeds a publish could not render: rendered whole next time
OPML_STAMP = "publish_opml"  # the OPML's feed list digest and its dateModified
CHUNK = 1000  # stories read at once by a full publish
PAGES_PER_JOB = 250  # story pages rendered together (by one process of a parallel round)
DOCUMENTS_WEIGHT = 1_000  # about the items of a feed's documents rendered together
# A full publish of a store too big to keep (stories.KEPT) runs a round once its jobs weigh
# this much (about the items they render), so what they hold stays bounded.
ROUND_WEIGHT = 10_000


@dataclass
class PublishReport:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)  # edition -> items in its main feed
    errors: list[str] = field(default_factory=list)  # feeds that could not be rendered
    hub_error: str = ""
    rendered: int = 0  # feed documents rendered (each in three formats)
    processes: int = 1  # the most processes rendering together (a big publish: every core)
    full: bool = False  # every file rendered (why: `why`)
    why: str = ""

    def then(self, later: PublishReport) -> PublishReport:
        """This publish and a `later` one as one (a cycle publishing again what its
        translations brought): files written by either, its unchanged files, the later one's
        items per edition where it rendered them."""
        written = set(self.written)
        return PublishReport(
            written=[*self.written, *(path for path in later.written if path not in written)],
            unchanged=self.unchanged,
            removed=[*self.removed, *later.removed],
            items={**self.items, **later.items},
            errors=[*self.errors, *later.errors],
            hub_error=later.hub_error or self.hub_error,
            rendered=self.rendered + later.rendered,
            full=self.full,
            why=self.why,
            processes=max(self.processes, later.processes),
        )


@metrics.timed_publish
def publish(
    config: Config,
    store: Store,
    *,
    full: bool = False,
    ping: Ping | None = None,
    look: bool = False,
) -> PublishReport:
    """Publish what changed since the last publish (everything when `full`, on the first
    publish, or after the configuration or output format changed); only files whose bytes
    changed are written. `look`: check now that the output still has every file published
    (else once per `publish.every`: see `lost`).

    Raises OSError when a file could not be written (after writing every other): nothing of
    this publish is recorded then but the files written, and the next one does it again.
    """
    output = output_for(config, store)
    # An output emptied or damaged by hand (or a new `output:` folder) is written whole again:
    # else a publish with nothing changed would never notice, nor restore, a removed edition
    # or archive page (and a feed would link a page that is gone).
    missing = "" if full else lost(config, store, output, look)
    planned = plan(config, store, full=full, missing=missing)
    report = _Publish(config, store, planned, output).run(ping)
    if report.full:  # every file written or found as it should be: as good as a look
        store.set_setting(_LOOKED, iso(utcnow()) or "")
    return report


def _file(path: str, render: Callable[..., bytes], *args: object) -> dict[str, bytes]:
    """One rendered file, by its path."""
    return {path: render(*args)}


def front_files(config: Config) -> list[str]:
    """The files every complete output has: the site's index and, when the site is public,
    each edition's feed."""
    s = config.settings
    editions = s.editions if s.publish.public else []
    return ["index.html", *(f"{e}/{name}" for e in editions for name in FEED_FILES)]


def lost(config: Config, store: Store, output: Output, look: bool = False) -> str:
    """A file the output should have and has not ("" when none): a front file, or one the
    store records as published (an archive page or a story's page removed by hand, which no
    publish following change would render again).

    The recorded files are looked for when asked (`look`: the operator's `publish`) and else
    once per `publish.every` (the time of the last look is in the store, for every process):
    a file removed by hand need not be back within seconds, and a publish following one new
    story into a big output must not pay for listing all of it (0.25 s at 110,000 files)."""
    front = next((path for path in front_files(config) if not output.has(path)), "")
    if front:
        return front
    now = utcnow()
    last = parse_iso(store.setting(_LOOKED))
    every = timedelta(seconds=config.settings.publish.every)
    if not look and last is not None and now - last < every:
        return ""
    gone = sorted(output.missing(store.published_paths()))
    store.set_setting(_LOOKED, iso(now) or "")
    if len(gone) > 1:
        return f"{gone[0]} and {len(gone) - 1} more file(s) it had"
    return gone[0] if gone else ""


# When the output was last looked at for every file published (`lost`).
_LOOKED = "output_looked_at"


def output_for(config: Config, store: Store) -> Output:
    """The configured output: its folder, or its object store (`output: s3://…`)."""
    if config.folder is not None:
        return Folder(config.folder)
    from syndication.publish.s3 import S3Output  # boto3 is loaded only where it is used

    return S3Output.of(config, store)


class _Publish:
    """One publish: what it read, decided and wrote."""

    def __init__(self, config: Config, store: Store, planned: Plan, output: Output) -> None:
        self.config = config
        self.store = store
        self.plan = planned
        self.now = planned.now
        s = config.settings
        self.editions = list(s.editions)
        self.size = s.feeds.items
        self.kept_since = self.now - timedelta(seconds=s.feeds.archive)
        self.authority = id_authority(config, store)
        self.feeds = feeds(config)
        self.by_folder = {feed.folder: feed for feed in self.feeds}
        self.stories = Stories(config, store, self.authority, self.now)
        self.ledger = Ledger(self.now, full=planned.full)
        self.writer = Writer(output)
        # The rendering jobs collected and not yet run.
        self.round = Round(self.writer, s.publish.processes)
        self.report = PublishReport(full=planned.full, why=planned.why)
        self.failed: set[str] = set()
        self.keep: set[str] = set()  # files of feeds that failed: left as they were
        self.looked_up: set[str] = set()  # stories whose versions are in the ledger
        self.added: dict[str, list[Entry]] = {}  # feed -> entries this publish adds, by rank
        self.tombstones: dict[str, list[Tombstone]] = {}  # feed -> its recent withdrawals
        self.dropped: set[str] = set()
        self.forgotten: list[str] = []  # records of files neither there nor produced
        # `publish.public: false`: partners only. Versions and feed entries are kept as ever
        # (the partners' API and feeds read them); no public feed, feed page or story page is
        # written, and the site's index and OPML list nothing.
        self.public = s.publish.public
        self.links = links(config, self.feeds) if self.public else []
        self.opml: dict[str, str | None] = {}
        self._synced = 0  # ledger entries already sorted into `added`
        self.pagings: dict[str, Paging] = {}  # feed -> its pages, as its size last was

    # -- the phases ---------------------------------------------------------------------

    def run(self, ping: Ping | None) -> PublishReport:
        if self.plan.idle and not self._redo():
            # Nothing changed and no time event: nothing is rendered. The clock moves on.
            self.writer.tidy()
            self.store.record_publish(PublishRecord(settings=self._settings()))
            self.report.hub_error = announce(self.config, self.store, [], ping=ping)
            return self.report
        self.writer.begin(thorough=self.plan.full)
        if self.plan.full:
            self._everything()
        else:
            self._what_changed()
        self._site()
        try:
            self.writer.check()
        except OSError:
            # What was written is recorded; the rest of this publish is done again next time.
            self.store.record_publish(PublishRecord(files=self.writer.changed))
            raise
        self.store.record_publish(
            PublishRecord(
                versions=self.ledger.versions,
                entries=self.ledger.entries,
                rebuilt=self.ledger.rebuilt,
                dropped=self.dropped,
                files=self.writer.changed,
                removed=[*self.writer.removed, *self.forgotten],
                settings=self._settings(),
            )
        )
        self.writer.finish()
        written = [path for path in self.writer.written if "/archive/" not in path]
        self.report.hub_error = announce(self.config, self.store, written, ping=ping)
        self.report.written = list(self.writer.written)
        self.report.processes = self.round.most
        self.report.unchanged = self.writer.unchanged
        self.report.removed = list(self.writer.removed)
        return self.report

    def _what_changed(self) -> None:
        """Versions of the changed stories, their pages, then the documents they touched."""
        ids = list(self.plan.changed)
        self._account(ids)
        self._tombstones()
        self._pages(ids)
        self._round()  # the pages published before the feeds that link to them
        dirty = self._dirty()
        for folder in sorted(dirty):
            feed = self.by_folder.get(folder)
            if feed is not None:
                self._feed(feed, dirty[folder])
        self._round()

    def _everything(self) -> None:
        """Every feed's entries (worked out again where what decides them changed), every
        story's versions, every page, every document; then every file not produced removed."""
        held = json.loads(self.store.setting(MEMBERSHIP) or "{}")
        for feed in self.feeds:
            if held.get(feed.folder) != feed.membership:
                rebuild(self.ledger, self.store, self.stories, feed)
        self._sync()
        self.dropped = self.store.entered_feeds() - set(self.by_folder)
        every = self.store.ids_by_date()
        self.stories.keep = len(every) <= KEPT
        for chunk in chunks(every, CHUNK):
            self._account(list(chunk))
            self.stories.forget()
        self._tombstones()
        for edition in self.editions:
            referenced: dict[str, None] = {}
            for feed in (f for f in self.feeds if f.edition == edition):
                paging = self._paging(feed.folder)
                start = min(paging.kept.start, paging.pages) * self.size
                for entry in self._entries(feed.folder, range(start, paging.total)):
                    referenced[entry.article_id] = None
            for chunk in chunks(list(referenced), CHUNK):
                self._pages(list(chunk), editions=[edition])
                self._round(force=False)
                self.stories.forget()
        self._round()
        # Every feed's archive pages, then every current document (which links to them).
        for pages in ("archive", "current"):
            for feed in self.feeds:
                kept = self._paging(feed.folder).kept
                self._feed(feed, set(kept) if pages == "archive" else {None})
                self._round(force=False)
                self.stories.forget()
            self._round()
        self.writer.sweep(self.editions, self.keep)
        # Recorded as published, neither there nor produced now (an earlier release's path, a
        # file removed by hand that is no longer published): forgotten, or every publish would
        # find it missing and render every file again.
        recorded = set(self.store.published_paths()) - self.writer.produced - self.keep
        self.forgotten = self.writer.output.missing(recorded)

    # -- versions and entries -----------------------------------------------------------

    def _account(self, ids: Sequence[str]) -> None:
        account(self.ledger, self.store, self.stories, self.feeds, ids, self.editions)
        self.looked_up.update(ids)
        self._sync()

    def _sync(self) -> None:
        """Sort the entries the ledger gained into `added`, by feed (in rank order)."""
        for entry in self.ledger.entries[self._synced :]:
            self.added.setdefault(entry.feed, []).append(entry)
        self._synced = len(self.ledger.entries)

    def _carried(self, ids: Iterable[str]) -> None:
        """Make sure the ledger knows the versions of these stories (their alternates)."""
        missing = [i for i in ids if i not in self.looked_up]
        if missing:
            self.ledger.latest.update(self.store.latest_versions(missing))
            self.looked_up.update(missing)

    def _entries(self, folder: str, ranks: range) -> list[Entry]:
        """The entries of `folder` in `ranks`: those in the store, and those this publish adds
        (all of them, for a feed it worked out again)."""
        added = self.added.get(folder, [])
        if folder in self.ledger.rebuilt:
            return added[ranks.start : ranks.stop]
        before = self.ledger.before.get(folder)
        if before is None:
            before = self.ledger.size(self.store, folder)
        found = self.store.feed_entries(folder, range(ranks.start, min(ranks.stop, before)))
        if ranks.stop > before and added:
            first = max(ranks.start, before) - before
            found += added[first : ranks.stop - before]
        return found

    def _paging(self, folder: str) -> Paging:
        total = self.ledger.size(self.store, folder)
        # Asked for again by each phase (a query each time), and the same while the feed's
        # size is: only an entry this publish adds moves a feed's pages.
        known = self.pagings.get(folder)
        if known is None or known.total != total:
            known = Paging(total, self.size, self._first_kept(folder, total, self.kept_since))
            self.pagings[folder] = known
        return known

    def _first_kept(self, folder: str, total: int, since: datetime) -> int:
        """The oldest archive page of `folder` whose newest story entered at or after `since`."""
        paging = Paging(total, self.size)
        if folder in self.ledger.rebuilt:
            recent = next((e.rank for e in self.added.get(folder, []) if e.at >= since), None)
        else:
            recent = self.store.first_rank_since(folder, since)
            if recent is None and self.added.get(folder):
                recent = self.added[folder][0].rank  # entered now
        return first_kept(paging, recent)

    def _tombstones(self) -> None:
        """RFC 6721 tombstones of every feed: its stories withdrawn in the last 30 days."""
        since = self.now - timedelta(days=TOMBSTONE_DAYS)
        withdrawn = self.store.withdrawn_since(since)
        if not withdrawn:
            return
        rebuilt = self.ledger.rebuilt
        # A feed worked out again (an edition put back) has its entries in the ledger until
        # this publish is recorded; the store's are gone with the edition, or about to go.
        entries = [
            e for e in self.ledger.entries if e.feed in rebuilt and e.article_id in withdrawn
        ]
        for found in self.store.entries_of(withdrawn).values():
            entries += [entry for entry in found if entry.feed not in rebuilt]
        for entry in entries:
            when, reason = withdrawn[entry.article_id]
            edition = entry.feed.split("/", 1)[0]
            self.tombstones.setdefault(entry.feed, []).append(
                Tombstone(item_id(self.authority, entry.article_id, edition), when, reason)
            )
        for found in self.tombstones.values():
            found.sort(key=lambda t: (t.when, t.ref))

    # -- what to render -----------------------------------------------------------------

    def _dirty(self) -> dict[str, set[int | None]]:
        """The documents of each feed this publish must render again (None: the current one):
        those holding a changed story's rank, the current one, the archive pages stories moved
        into from it, and the page before a new page (it gains its next-archive link)."""
        dirty: dict[str, set[int | None]] = {}
        for folder, ranks in self.ledger.touched.items():
            if folder not in self.by_folder:
                continue
            after = self._paging(folder)
            pages: set[int | None] = {None}
            pages.update(after.page_of(rank) for rank in ranks)
            before = Paging(self.ledger.before[folder], self.size)
            for rank in range(before.archived, after.archived):
                pages.add(after.page_of(rank))
            if after.pages > before.pages > 0:
                pages.add(before.pages - 1)
            dirty[folder] = pages
        for folder in self.plan.expiring:
            if folder in self.by_folder:
                dirty.setdefault(folder, set()).update(self._expire(folder))
        for folder in self._redo():
            if folder in self.by_folder:
                dirty.setdefault(folder, set()).update({None, *self._paging(folder).kept})
        return dirty

    def _expire(self, folder: str) -> set[int | None]:
        """Remove the archive pages of `folder` that left the kept period since the last
        publish; the oldest one kept (or the current document) loses its prev-archive link."""
        paging = self._paging(folder)
        assert self.plan.previous is not None
        archive = timedelta(seconds=self.config.settings.feeds.archive)
        first = self._first_kept(folder, paging.total, self.plan.previous - archive)
        for page in range(first, paging.kept.start):
            self.writer.remove(document_paths(folder, page))
        return {paging.kept.start if paging.kept else None}

    def _redo(self) -> list[str]:
        """Feeds the last publish could not render: rendered whole this time."""
        return list(json.loads(self.store.setting(FAILED) or "[]"))

    # -- rendering ----------------------------------------------------------------------

    def _pages(self, ids: Sequence[str], editions: Sequence[str] | None = None) -> None:
        """Each story's page in every edition that published it: the story, or the notice
        left where a withdrawn one was and its copy (`notice_files`); a page no longer shown
        (and not withdrawn) goes, and a notice's copy once its story is not withdrawn."""
        if not self.public:
            return
        self._carried(ids)
        for edition in editions or self.editions:
            found = self.stories.load(ids, edition)
            steps: list[Render] = []
            gone: list[str] = []
            for article_id, story in found.items():
                held = self.ledger.latest.get((article_id, edition))
                if held is None:
                    continue  # never published in this edition
                path = f"{edition}/articles/{slug(article_id)}.html"
                if held.status == USABLE and self.stories.shown(story, edition):
                    carried = self.ledger.carried_by(article_id, self.editions)
                    item = self.stories.item(story, edition, carried)
                    steps.append(partial(_file, path, story_page, self.config, edition, item))
                elif story.stored.withdrawn:
                    when = story.stored.withdrawn_at or self.now
                    reason = story.stored.withdrawn_reason
                    steps.append(partial(notice_files, self.config, path, edition, when, reason))
                    continue
                else:
                    gone.append(path)
                # A story shown again (restored) or gone leaves no notice's copy behind. A full
                # publish need not ask: its sweep removes every copy it did not produce.
                if not self.plan.full:
                    gone.append(notice_copy(path))
            for batch in chunks(steps, PAGES_PER_JOB):
                self.round.add(Job(edition, list(batch), len(batch), fatal=True))
            self.writer.remove(gone)

    def _feed(self, feed: FeedDef, pages: set[int | None]) -> None:
        """Render these documents of `feed` (archive pages first, the current one last), as
        one job of the round."""
        if not self.public or feed.folder in self.failed:
            return
        paging = self._paging(feed.folder)
        kept = set(paging.kept)
        ordered: list[int | None] = sorted(p for p in pages if p is not None and p in kept)
        if None in pages:
            ordered.append(None)
        # Jobs of about DOCUMENTS_WEIGHT items each: an edition's hundred archive pages are
        # then shared among the processes of the round instead of all rendered by one.
        jobs: list[Job] = []
        shown: int | None = None  # the items of the edition's current main document
        for page in ordered:
            ranks = paging.current if page is None else paging.page(page)
            items = self._items(feed, self._entries(feed.folder, ranks), current=page is None)
            if not jobs or jobs[-1].weight >= DOCUMENTS_WEIGHT:
                jobs.append(Job(feed.folder, [], 0))
            jobs[-1].steps.append(partial(self._document, feed, paging, page, items))
            jobs[-1].weight += len(items) + 1
            if page is None and feed.scope.main:
                shown = len(items)
        for job in jobs:  # the current document, last, is in the last job
            job.on_done = partial(self._rendered, job, feed, shown if job is jobs[-1] else None)
            self.round.add(job)

    def _rendered(self, job: Job, feed: FeedDef, shown: int | None) -> None:
        """Count a job's documents once written, and the items its edition's current main
        document shows when the job held it."""
        self.report.rendered += len(job.steps)
        if shown is not None:
            self.report.items[feed.edition] = shown

    def _document(
        self, feed: FeedDef, paging: Paging, page: int | None, items: list[Item]
    ) -> dict[str, bytes]:
        """The files of one document of `feed`, its page among them (`document_paths`)."""
        tombstones = self.tombstones.get(feed.folder, ())
        files = document(self.config, feed, paging, page, items, self.authority, tombstones)
        files.update(feed_index(self.config, feed, paging, page, items, self.links))
        return files

    def _round(self, *, force: bool = True) -> None:
        """Run the jobs collected (unless not `force`d and they may wait for more: a full
        publish keeping its stories runs each phase's jobs together)."""
        if not force and (self.stories.keep or self.round.weight < ROUND_WEIGHT):
            return
        for folder, (why, trace) in self.round.run().items():
            self._cannot_render(folder, why, trace)

    def _cannot_render(self, folder: str, why: str, trace: str) -> None:
        """One feed that cannot be rendered keeps its last good files; the rest publish, and
        the next publish renders it whole again."""
        feed = self.by_folder[folder]
        log.error("cannot render %s\n%s", folder, trace.rstrip(), extra={"edition": feed.edition})
        self.report.errors.append(f"{folder}: {why}")
        self.failed.add(folder)
        self.keep.update(f"{folder}{name}" for name in (*FEED_FILES, "index.html"))
        kept = self._paging(folder).kept
        self.keep.update(path for k in kept for path in document_paths(folder, k))

    def _items(self, feed: FeedDef, entries: Sequence[Entry], *, current: bool) -> list[Item]:
        """The items a document shows: its stories still shown in the edition that the feed
        still takes (a re-tagged story leaves a topic feed, keeping its rank), and recent
        enough for a current document, newest first."""
        ids = [entry.article_id for entry in entries]
        self._carried(ids)
        found = self.stories.load(ids, feed.edition)
        items = []
        for article_id in ids:
            story = found.get(article_id)
            if story is None or not (self.stories.shown(story, feed.edition) and feed.takes(story)):
                continue
            if current and not self.stories.fresh(story):
                continue
            carried = self.ledger.carried_by(article_id, self.editions)
            items.append(self.stories.item(story, feed.edition, carried))
        items.sort(key=lambda item: (-item.date.timestamp(), item.id))
        return items

    def _site(self) -> None:
        """index.html, feeds.opml and the stylesheets (after the feeds they link to)."""
        listed = json.dumps([[link.folder, link.title] for link in self.links], ensure_ascii=False)
        stamp = json.loads(self.store.setting(OPML_STAMP) or "{}")
        updated = parse_iso(stamp.get("updated")) if stamp.get("feeds") == listed else None
        self.opml = {"feeds": listed, "updated": iso(updated or self.now)}
        self.writer.put(site_files(self.config, self.links, updated or self.now))

    def _settings(self) -> dict[str, str]:
        """The mark and what this publish ran under, recorded with it."""
        settings = {
            AT: iso(self.now) or "",
            "last_publish": utcnow().isoformat(),
            MARK: str(self.plan.mark),
            SHAPE: self.plan.shape,
        }
        if self.plan.idle and not self._redo():
            return settings
        settings[FAILED] = json.dumps(sorted(self.failed))
        if self.opml:
            settings[OPML_STAMP] = json.dumps(self.opml, ensure_ascii=False)
        if self.plan.full:
            settings[MEMBERSHIP] = json.dumps(
                {feed.folder: feed.membership for feed in self.feeds}, sort_keys=True
            )
        return settings
