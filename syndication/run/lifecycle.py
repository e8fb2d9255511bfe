"""The worker process's life: start, serve until a signal, stop cleanly.

Owns: `syndication run` once its configuration, store and lock (or, on a shared store, its
place in the registry of workers) are in hand (the worker and the HTTP server over one store,
a first publish of what the store holds, the addresses announced and recorded for `status`),
which signal does what (SIGINT/SIGTERM stop, SIGHUP reloads, SIGUSR1 takes up the command
line's requests at once), and the stop: the lock and claims released, the exit code (0, or 3
when the worker had to stop). The partners' app answers under /partners/ in both `run` and
`syndication serve`, which uses the same signal handling and reads its YAML again when the
file changes (or on SIGHUP), so a partner's rotated or removed token stops working at once.
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
from syndication.model import utcnow
from syndication.partners import PartnerApp
from syndication.publish import publish
from syndication.run import reload as reloading
from syndication.run.health import exposition, serving
from syndication.run.worker import Announce, Worker
from syndication.serve import fork_servers, listen, make_server, stop_servers
from syndication.store import Store

log = logging.getLogger(__name__)

WATCH_EVERY = 1.0  # seconds between looks at the YAML's mtime by `serve`


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
    partners = PartnerApp(config, store)
    cannot_listen = False

    def reloaded(new: Config) -> None:
        if on_reload is not None:
            on_reload(new)
        partners.configure(new)

    try:
        try:
            # Bound before anything starts: a port another program holds is fatal (exit 3),
            # said in one line; uvicorn alone logged it and the worker stopped with exit 0,
            # which a supervisor takes for a clean stop and does not restart.
            sock = listen(s.serve.host, s.serve.port)
        except OSError as exc:
            cannot_listen = True
            log.error("fatal: cannot listen on %s:%s: %s", s.serve.host, s.serve.port, exc)
            return
        worker = running = Worker(config, store, announce=announce, on_reload=reloaded)
        # From now on: the first publish may take a while, the lease does not wait.
        worker.heartbeat.start()
        server = make_server(
            config.folder,  # None (an object store): /healthz and /metrics only
            s.serve.host,
            s.serve.port,
            worker.health,
            metrics=lambda: exposition(store, [x.id for x in running.config.settings.sources]),
            partners=partners,
        )
        worker.on_fatal = lambda: setattr(server, "should_exit", True)
        if config.folder is not None:
            config.folder.mkdir(parents=True, exist_ok=True)
        if store.worker_id is not None:
            counters.worker_is(store.worker_id)
        try:
            # Serve what the store already holds at once, before the first poll finishes
            # (unless another worker is publishing this moment: it does the same).
            with store.publishing() as ours:
                if ours:
                    publish(config, store)
                    worker.condition.last_publish = utcnow()
        except Exception as exc:
            # A failure like any publish's: /healthz says so, and it is tried again soon.
            worker.condition.failed("publish", exc)
        worker.start()
        if "publish" in worker.condition.failing:
            worker.request_publish()
        partners.start()
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
            [sock],
        )
    except KeyboardInterrupt:
        pass  # SIGINT/SIGTERM before the server took the signals over: stop all the same
    finally:
        if worker is not None:
            worker.stop()
        partners.stop()  # the requests counted since its last write, and their log lines
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
        os._exit(3 if cannot_listen or (worker is not None and worker.condition.fatal) else 0)


class _Watched:
    """`serve`'s configuration, read again when its file changes (or on SIGHUP); what
    `run` would refuse is logged and changes nothing."""

    def __init__(self, config: Config, apply: Callable[[Config], None]) -> None:
        self.config = config
        self.apply = apply
        self._stamp = reloading.stamp(config.path)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def reload(self, why: str) -> None:
        with self._lock:
            old = self.config
            self._stamp = reloading.stamp(old.path)
            new = reloading.read_again(old.path)
            if isinstance(new, list):
                log.error("configuration reload (%s) rejected; serving the previous one:", why)
                for problem in new:
                    log.error("  %s", problem)
                return
            self.config = reloading.keep_fixed(old, new)
            self.apply(self.config)
            log.warning("configuration reloaded (%s)", why)

    def watch(self) -> None:
        """Look at the file's stamp every WATCH_EVERY seconds until `stop`."""
        while not self._stop.wait(WATCH_EVERY):
            if reloading.stamp(self.config.path) != self._stamp:
                try:
                    self.reload(f"{self.config.path} changed")
                except Exception:  # the next save is looked at all the same
                    log.exception("configuration reload failed")

    def stop(self) -> None:
        self._stop.set()


def serve_forever(
    config: Config,
    open_store: Callable[[], Store | None],
    on_reload: Callable[[Config], None] | None = None,
) -> None:
    """`syndication serve`: the output folder and, with a store, the partners' feeds and API,
    until SIGINT/SIGTERM, from `serve.workers` processes on one port. Saving the YAML (or
    SIGHUP) applies its partners within seconds in every process: a rotated or removed token
    stops working. `open_store` is called in each process (a database connection is never
    shared across a fork)."""
    s = config.settings
    if s.serve.workers == 1:
        _serve(config, open_store(), on_reload, None)
        return
    # Several processes on one listening socket, forked before any thread, loop or store.
    sock = listen(s.serve.host, s.serve.port)
    children = fork_servers(s.serve.workers - 1, lambda: _serve(config, open_store(), None, [sock]))
    try:
        _serve(config, open_store(), on_reload, [sock])
    finally:
        stop_servers(children)


def _serve(
    config: Config,
    store: Store | None,
    on_reload: Callable[[Config], None] | None,
    sockets: list[socket.socket] | None,
) -> None:
    """One serving process (see `serve_forever`)."""
    s = config.settings
    partners = PartnerApp(config, store) if store is not None else None

    def apply(new: Config) -> None:
        if on_reload is not None:
            on_reload(new)
        if partners is not None:
            partners.configure(new)

    watched = _Watched(config, apply)
    server = make_server(
        config.folder,
        s.serve.host,
        s.serve.port,
        lambda: serving(watched.config, store),  # /healthz: the output folder and the store
        partners=partners,
    )
    threading.Thread(target=watched.watch, name="syndication-config-watch", daemon=True).start()
    if partners is not None:
        partners.start()
    try:
        serve_until_signal(server, {signal.SIGHUP: lambda: watched.reload("SIGHUP")}, sockets)
    finally:
        watched.stop()
        if partners is not None:
            partners.stop()


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
