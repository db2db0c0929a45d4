"""The one exception type users see.

Every input problem (malformed files, impossible schedules, NaN losses, a
learning rate too large for the series) raises :class:`SgdDiagramsError`
with a one-line message that says what is wrong and what to do.  The CLI
prints that line to stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations


class SgdDiagramsError(ValueError):
    """A user-facing error: the message is one line, stating problem and remedy."""
