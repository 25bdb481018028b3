"""``python -m mgc ...``: the library's work, headless.

Commands: ``info``, ``extract``, ``demo-data`` (:mod:`mgc.cli.data`), ``train``, ``evaluate``,
``compare``, ``classify`` and ``runs`` (:mod:`mgc.cli.runs`). Each prints what it did; errors of
the library are shown as one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import MgcError
from . import data, runs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mgc",
        description="Music genre classification on GTZAN: "
        "features, training and evaluation of the study's MLP, CNN and RNN-LSTM.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.add_commands(sub)
    runs.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MgcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except MemoryError:  # the inputs are bounded; this is a machine with less memory than the work needs
        print(f"error: out of memory running {args.command!r}; free memory or use a smaller input", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what finished is stored (a training run as 'stopped'); nothing more runs
        sys.stdout.flush()
        print("interrupted", file=sys.stderr)
        return 130


def main_exit() -> None:
    """Entry point of the ``mgc`` console script."""
    sys.exit(main())
