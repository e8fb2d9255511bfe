"""Ends the parse pool's forkserver when the service that started it is gone.

Imported only by the forkserver (as a preload module of the parse pool, see `pool.py`): it
watches its parent, and when the service disappears without shutting the pool down (killed,
or `run` leaving with os._exit on SIGTERM) the forkserver leaves too instead of lingering.
"""

from __future__ import annotations

import os
import threading
import time

_PARENT = os.getppid()


def _watch() -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != _PARENT:  # re-parented: the service is gone
            os._exit(0)


threading.Thread(target=_watch, name="forkwatch", daemon=True).start()
