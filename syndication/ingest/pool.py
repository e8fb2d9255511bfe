"""The pool of processes that parses feed bodies in a busy cycle.

Owns: `ParsePool`: when a body is worth a worker process, a forkserver preloaded with the
parser (and with `forkwatch`, which ends it when the service is gone), workers that forward
their log records here and leave when their owner does, and a worker's death turned into the
SourceError of the bodies it was parsing, with a fresh pool for the next body.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import multiprocessing
import multiprocessing.queues
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from syndication.errors import SourceError
from syndication.ingest.parse import ParsedFeed, SourceInfo, parse_feed

# Modules every parse needs, imported once in the forkserver so each worker forks ready.
_PRELOAD = [
    "syndication.ingest.forkwatch",
    "syndication.ingest.parse",
    "feedparser",
    "nh3",
    "lingua",
]


class ParsePool:
    """Parses feed bodies in worker processes, started only once a cycle shows it will pay.

    Parsing (feedparser, nh3, our normalising) is CPU-bound Python holding the GIL: a thread
    never uses a second core, processes do. Starting them costs a fraction of a second, so the
    pool is created on the first body worth it: the `min_bodies`-th body of the cycle, or one
    of `big_body` bytes or more; smaller cycles (a `once` on two feeds, a quiet 30 s tick of
    `run`) parse in the caller's thread as before (`use` says which). Workers come from a
    forkserver, never a plain fork: the service process runs threads (APScheduler, asyncio,
    uvicorn) whose locks a forked child could inherit held. Log records from the workers are
    forwarded to this process's handlers. A worker that dies (a segfault in a C extension, the
    OOM killer) fails the bodies it was parsing with a SourceError naming the cause, and the
    next body gets a fresh pool. Close it when the cycle ends.
    """

    def __init__(
        self,
        workers: int,
        *,
        min_bodies: int = 4,
        big_body: int = 200_000,
        target: Callable[..., ParsedFeed] = parse_feed,
    ) -> None:
        self.workers = workers
        self.min_bodies = min_bodies
        self.big_body = big_body
        self.target = target  # what a worker runs; a test may pass one that crashes
        self.bodies = 0  # bodies offered in this pool's lifetime
        self.sent = 0  # bodies handed to a worker process (whatever came of them)
        self.started = 0  # executors created (more than one after a crash)
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._logs: multiprocessing.queues.Queue[logging.LogRecord] | None = None
        self._listener: logging.handlers.QueueListener | None = None

    def use(self, size: int) -> bool:
        """Whether a body of `size` bytes should go to the pool (counts it as offered)."""
        self.bodies += 1
        if self.workers < 2:
            return False
        return self._executor is not None or self.bodies >= self.min_bodies or size >= self.big_body

    async def parse(
        self, body: bytes, headers: dict[str, str], info: SourceInfo, max_bytes: int
    ) -> ParsedFeed:
        """`target(body, headers, info, max_bytes)` in a worker; its SourceError comes back."""
        executor, generation = self._get()
        self.sent += 1
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                executor, self.target, body, headers, info, max_bytes
            )
        except BrokenProcessPool as exc:
            self._discard(generation)
            raise SourceError(
                info.id,
                f"the feed parser process died while parsing this body ({exc}); "
                "a new one parses the next",
            ) from None
        return result

    def close(self) -> None:
        """Stop the workers (waiting for them) and the log forwarding."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._listener is not None:
            self._listener.stop()  # drains the records the workers sent before exiting
            self._listener = None
        if self._logs is not None:
            self._logs.close()
            self._logs.join_thread()
            self._logs = None

    def _get(self) -> tuple[ProcessPoolExecutor, int]:
        if self._executor is None:
            ctx = multiprocessing.get_context("forkserver")
            # Only matters before the forkserver starts (once per process); a failed preload
            # is ignored by multiprocessing and the worker simply imports on its first parse.
            ctx.set_forkserver_preload(_PRELOAD)
            if self._logs is None:
                self._logs = ctx.Queue()
                self._listener = logging.handlers.QueueListener(self._logs, _Dispatch())
                self._listener.start()
            level = logging.getLogger("syndication").getEffectiveLevel()
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(self._logs, level, os.getpid()),
            )
            self.started += 1
        return self._executor, self._generation

    def _discard(self, generation: int) -> None:
        # Every body in flight on a broken pool fails at once: only the first replaces it.
        if generation == self._generation and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._generation += 1


class _Dispatch(logging.Handler):
    """Hands a record from a worker to the logger of the same name here, as if logged here."""

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        pass


def _worker_init(
    logs: multiprocessing.queues.Queue[logging.LogRecord], level: int, owner: int
) -> None:
    """In each worker: send log records to the parent (at its level) and import the parser."""
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)
    # A worker's parent is the forkserver, not the service: when the service ends abruptly
    # (`run` leaves with os._exit on SIGTERM) nothing tells the worker, so it watches.
    threading.Thread(target=_exit_with, args=(owner,), daemon=True).start()
    import syndication.ingest.parse  # noqa: F401  (already there when preloaded: no cost)


def _exit_with(owner: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
