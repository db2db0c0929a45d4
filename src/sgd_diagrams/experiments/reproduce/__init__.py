"""Every experiment of the papers, one command each: ``sgd-diagrams reproduce NAME``.

:data:`CATALOG` lists the reproductions (name → module and one line); each module exposes
``run(ctx) -> Outcome`` and ``check(data) -> list[str]`` (:mod:`.base`).  :func:`run_reproduction`
runs one and writes ``NAME.json``, ``NAME.md``, ``NAME.csv`` and its figures, with the verdict by the
common rules of :mod:`.verdicts`; :func:`rerender_reproduction` re-derives them from a saved ``NAME.json``;
:func:`write_index` writes the ``index.html`` that ``reproduce all`` leaves beside them.
"""

from __future__ import annotations

from .base import VERDICTS, Context, Outcome
from .html_index import write_index
from .runner import CATALOG, Entry, check_outputs, load, read_report, rerender_reproduction, run_reproduction

__all__ = ["CATALOG", "VERDICTS", "Context", "Entry", "Outcome", "check_outputs", "load", "read_report",
           "rerender_reproduction", "run_reproduction", "write_index"]
