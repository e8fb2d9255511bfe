"""`python -m syndication` and the `syndication` command: the command line's entry point."""

import os
import signal
import sys
from typing import NoReturn


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Installed before the (slow) imports, so a SIGTERM at any moment of start-up stops as
    # cleanly as Ctrl-C does; `run` hands the signals to its server once that is up.
    signal.signal(signal.SIGTERM, _stop)
    try:
        from syndication.cli import app
    except KeyboardInterrupt:
        _stopped()
    try:
        app()
    except KeyboardInterrupt:
        # Raised while typer still builds the command line (a command's own run turns it into
        # its exit): stopped before anything began too.
        _stopped()


def _stopped() -> NoReturn:
    """Leave at once with status 0: stopped before anything began. By os._exit, not
    SystemExit: an interrupt raised inside an exec() of a string (dataclasses build their
    methods so, at import) stays marked unhandled in CPython once caught, and under `-m` the
    interpreter would then end itself by SIGINT at exit (status -2, not 0)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
