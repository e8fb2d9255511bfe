"""The worker process's life: start, serve until a signal, stop cleanly.

Owns: `syndication run` once its configuration, store and lock (or, on a shared store, its
place in the registry of workers) are in hand (the worker and the HTTP server over one store,
a first publish of what the store holds, the addresses announced and recorded for `status`),
which signal does what (SIGINT/SIGTERM stop, SIGHUP reloads, SIGUSR1 takes up the command
line's requests at once), and the stop: the lock and claims released, the exit code (0, or 3
when the worker had to stop). `syndication serve` uses the same signal handling for its server.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from syndication import metrics as counters
from syndication.config import Config
from syndication.errors import StoreError
from syndication.publish import publish
from syndication.run.health import exposition
from syndication.run.worker import Announce, Worker
from syndication.serve import make_server
from syndication.store import Store

log = logging.getLogger(__name__)


def serve_until_signal(server: Any, extra: dict[int, Callable[[], None]] | None = None) -> None:
    """Run a uvicorn server until SIGINT/SIGTERM, then return normally.

    uvicorn re-raises the signal it caught to the handlers that were installed before it ran,
    which would turn a clean stop into exit 130 or death by SIGTERM: give it ones that just
    ask the server to stop. `extra` maps further signals (SIGHUP…) to what they trigger; each
    runs on a thread of its own, never inside the signal handler.
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
    server.run()


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
        # From now on: the first publish may take a while, the lease does not wait.
        worker.heartbeat.start()
        server = make_server(
            config.output,
            s.serve.host,
            s.serve.port,
            worker.health,
            metrics=lambda: exposition(store, [x.id for x in running.config.settings.sources]),
        )
        worker.on_fatal = lambda: setattr(server, "should_exit", True)
        config.output.mkdir(parents=True, exist_ok=True)
        if store.worker_id is not None:
            counters.worker_is(store.worker_id)
        try:
            # Serve what the store already holds at once, before the first poll finishes
            # (unless another worker is publishing this moment: it does the same).
            with store.publishing() as ours:
                if ours:
                    publish(config, store)
        except Exception as exc:
            log.warning("initial publish failed: %s", exc)
        worker.start()
        _announce_addresses(config, announce)
        threading.Thread(
            target=_record_address, args=(server, store), name="syndication-address", daemon=True
        ).start()
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
            store.unregister()
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


def _record_address(server: Any, store: Store) -> None:
    """Once the server listens, leave where in the registry (`status` lists each worker's
    /metrics): with `serve.port: 0` only the bound socket knows the port."""
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    if not server.started or not server.servers or not server.servers[0].sockets:
        return
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # every interface: the name other hosts know it by
        host = socket.getfqdn()
    shown = f"[{host}]" if ":" in host else host
    try:
        store.set_address(f"http://{shown}:{port}/")
    except StoreError as exc:
        log.warning("could not record this worker's address: %s", exc)


def _announce_addresses(config: Config, announce: Announce) -> None:
    s = config.settings
    host = s.serve.host
    shown = f"[{host}]" if ":" in host else host
    root = f"http://{shown}:{s.serve.port}/"
    announce(f"serving {config.output} at {root}")
    for edition in s.editions:
        announce(
            f"  {edition}: {root}{edition}/rss.xml  {root}{edition}/atom.xml  "
            f"{root}{edition}/feed.json"
        )
    announce(f"pid {os.getpid()}: `syndication reload` or SIGHUP re-reads the configuration")
    announce("press Ctrl-C to stop")
