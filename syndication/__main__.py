"""`python -m syndication` and the `syndication` command: the command line's entry point."""

import os
import signal
import sys


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Installed before the (slow) imports, so a SIGTERM at any moment of start-up stops as
    # cleanly as Ctrl-C does; `run` hands the signals to its server once that is up.
    signal.signal(signal.SIGTERM, _stop)
    try:
        from syndication.cli import app
    except KeyboardInterrupt:
        # Stopped before anything began. Left by os._exit, not SystemExit: an interrupt raised
        # inside an exec() of a string (dataclasses build their methods so, at import) marks
        # itself unhandled in CPython even once caught, and the interpreter would then end
        # itself by SIGINT at exit (status -2, not 0).
        sys.stdout.flush()
        os._exit(0)
    app()


if __name__ == "__main__":
    main()
