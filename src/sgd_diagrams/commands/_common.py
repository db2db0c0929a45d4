"""Shared plumbing for CLI command handlers: one-line errors on stderr, status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..errors import SgdDiagramsError

__all__ = ["guarded", "EXIT_USAGE"]

EXIT_USAGE = 2  # errors.py: the CLI prints the message and exits with status 2


def guarded(command: str, body: Callable[[], int]) -> int:
    """Run ``body``; an :class:`SgdDiagramsError` becomes one line on stderr and status 2."""
    try:
        return body()
    except SgdDiagramsError as exc:
        message = " ".join(str(exc).split())
        print(f"sgd-diagrams {command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
