"""The one exception type users see.

Every input problem (malformed files, impossible schedules, NaN losses, a
learning rate too large for the series) raises :class:`SgdDiagramsError`
with a one-line message that says what is wrong and what to do.  The CLI
prints that line to stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["SgdDiagramsError", "guarded", "parse_numbers"]


class SgdDiagramsError(ValueError):
    """A user-facing error: the message is one line, stating problem and remedy."""


def guarded(command: str, body: Callable[[], int]) -> int:
    """Run a command-line ``body``; an :class:`SgdDiagramsError` becomes one line on stderr and status 2.

    For scripts and ``python -m`` entry points outside the ``sgd-diagrams`` command (which has its own
    handler with the same output).
    """
    try:
        return body()
    except SgdDiagramsError as exc:
        print(f"sgd-diagrams {command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def parse_numbers(text: str, option: str) -> list[float]:
    """``"0.01,0.05"`` → ``[0.01, 0.05]``; a one-line error naming ``option`` for anything else."""
    try:
        values = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise SgdDiagramsError(f"{option} must be comma-separated numbers like 0.01,0.05, got {text!r}") from None
    if not values:
        raise SgdDiagramsError(f"{option} needs at least one number, e.g. {option} 0.01,0.05")
    return values
