"""Every experiment of the papers, one command each: ``sgd-diagrams reproduce NAME``.

:data:`CATALOG` lists the reproductions (name → module and one line); each module exposes
``run(ctx) -> Outcome`` and ``check(data) -> list[str]`` (:mod:`.base`).  :func:`run_reproduction`
runs one and writes ``NAME.json``, ``NAME.md`` and its figures; :func:`write_index` writes the
self-contained ``index.html`` that ``reproduce all`` leaves beside them.
"""

from __future__ import annotations

from .base import VERDICTS, Context, Outcome
from .runner import CATALOG, Entry, check_outputs, load, run_reproduction, write_index

__all__ = ["CATALOG", "VERDICTS", "Context", "Entry", "Outcome", "check_outputs", "load",
           "run_reproduction", "write_index"]
