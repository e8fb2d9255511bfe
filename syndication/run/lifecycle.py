"""The worker process's life: start, serve until a signal, stop cleanly.

Owns: `syndication run` once its configuration, store and lock are in hand (the worker and
the HTTP server over one store, a first publish of what the store holds, the addresses
announced), which signal does what (SIGINT/SIGTERM stop, SIGHUP reloads, SIGUSR1 takes up the
command line's requests at once), and the stop: the lock released, the exit code (0, or 3 when
the worker had to stop). `syndication serve` uses the same signal handling for its server.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from syndication.config import Config
from syndication.errors import StoreError
from syndication.publish import publish
from syndication.run.health import exposition
from syndication.run.worker import Announce, Worker
from syndication.serve import make_server
from syndication.store import Store

log = logging.getLogger(__name__)


def serve_until_signal(
    server: Any,
    extra: dict[int, Callable[[], None]] | None = None,
    sockets: list[Any] | None = None,
) -> None:
    """Run a uvicorn server until SIGINT/SIGTERM, then return normally.

    uvicorn re-raises the signal it caught to the handlers that were installed before it ran,
    which would turn a clean stop into exit 130 or death by SIGTERM: give it ones that just
    ask the server to stop. `extra` maps further signals (SIGHUP…) to what they trigger; each
    runs on a thread of its own, never inside the signal handler. `sockets`: listening
    sockets to serve on (shared with other server processes) instead of binding its own.
    """

    def stop(*_: object) -> None:
        # Also covers a signal that lands before uvicorn has put its own handlers in place.
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    for sig, action in (extra or {}).items():
        signal.signal(
            sig, lambda *_, action=action: threading.Thread(target=action, daemon=True).start()
        )
    server.run(sockets=sockets)


def run_forever(
    config: Config,
    store: Store,
    announce: Announce,
    on_reload: Callable[[Config], None] | None = None,
) -> NoReturn:
    """Run worker and server until SIGINT/SIGTERM, then end the process with exit code 0
    (3 when the worker had to stop: its store file was removed or replaced)."""
    s = config.settings
    worker: Worker | None = None
    try:
        worker = running = Worker(config, store, announce=announce, on_reload=on_reload)
        server = make_server(
            config.folder,  # None (an object store): /healthz and /metrics only
            s.serve.host,
            s.serve.port,
            worker.health,
            metrics=lambda: exposition(store, [x.id for x in running.config.settings.sources]),
        )
        worker.on_fatal = lambda: setattr(server, "should_exit", True)
        if config.folder is not None:
            config.folder.mkdir(parents=True, exist_ok=True)
        try:
            # Serve what the store already holds at once, before the first poll finishes.
            publish(config, store)
        except Exception as exc:
            log.warning("initial publish failed: %s", exc)
        worker.start()
        _announce_addresses(config, announce)
        serve_until_signal(
            server,
            {
                signal.SIGHUP: lambda: running.reload("SIGHUP"),
                signal.SIGUSR1: running.housekeeping,
            },
        )
    except KeyboardInterrupt:
        pass  # SIGINT/SIGTERM before the server took the signals over: stop all the same
    finally:
        if worker is not None:
            worker.stop()
        try:
            store.release_lock()
        except StoreError as exc:
            log.warning("could not release the store lock: %s", exc)
        announce("stopped")
        sys.stdout.flush()
        sys.stderr.flush()
        # A job may be mid-way through a cycle (a partner's slow answer, a long parse).
        # Every store write is one transaction and every file is renamed into place, so
        # nothing is lost by leaving now; waiting for the job would make a stop take as
        # long as a cycle.
        os._exit(3 if worker is not None and worker.condition.fatal else 0)


def _announce_addresses(config: Config, announce: Announce) -> None:
    s = config.settings
    host = s.serve.host
    shown = f"[{host}]" if ":" in host else host
    root = f"http://{shown}:{s.serve.port}/"
    if config.folder is None:
        announce(f"publishing to {config.output}; /healthz and /metrics at {root}")
        return
    announce(f"serving {config.output} at {root}")
    for edition in s.editions:
        announce(
            f"  {edition}: {root}{edition}/rss.xml  {root}{edition}/atom.xml  "
            f"{root}{edition}/feed.json"
        )
    announce(f"pid {os.getpid()}: `syndication reload` or SIGHUP re-reads the configuration")
    announce("press Ctrl-C to stop")
