"""`python -m syndication` and the `syndication` command: the command line's entry point."""

import signal


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Installed before the (slow) imports, so a SIGTERM at any moment of start-up stops as
    # cleanly as Ctrl-C does; `run` hands the signals to its server once that is up.
    signal.signal(signal.SIGTERM, _stop)
    try:
        from syndication.cli import app
    except KeyboardInterrupt:
        raise SystemExit(0) from None  # stopped before anything began
    app()


if __name__ == "__main__":
    main()
