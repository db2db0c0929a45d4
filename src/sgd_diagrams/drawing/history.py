"""One concrete history of a diagram in a grid: checking it, and finding one to draw.

A history (seed 001 App. A.3, Figure 11) maps every non-root node v to a
shaded cell (n, t) of the schedule's grid so that

* **time-ordering:** a child's step is strictly before its parent's (the root
  sits after the last step, at t = T);
* **correlation:** nodes of one part share a row n (a train root that shares
  its part reads that row too).

We store a history as ``{v: (n, t)}`` for v = 1..m in the diagram's canonical
labelling.  :func:`check_history` (re-exported from
:mod:`sgd_diagrams.schedules.histories`, where it lives) validates one;
:func:`auto_history` finds one by depth-first search, placing
parents before children and preferring cells that make a readable picture:
steps spread evenly down each chain, distinct parts on distinct rows, no two
nodes in one cell.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..diagrams import Diagram
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule
from ..schedules.histories import History, check_history

__all__ = ["History", "check_history", "auto_history", "parse_history"]


def parse_history(text: str, d: Diagram) -> History:
    """A history from JSON: ``[[n, t], ...]`` for nodes 1..m, or ``{"1": [n, t], ...}``."""
    if len(text) > 64 * (d.n_nodes + 1) or text.count("[") + text.count("{") > 2 * d.n_nodes + 2:
        raise SgdDiagramsError(f"history is too long for {d}; write one [n, t] per non-root node, or 'auto'")
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise SgdDiagramsError(
            f"history {text[:40]!r} is not JSON; write [[n, t], ...] for nodes 1..m or 'auto'"
        ) from None
    if isinstance(obj, list):
        return {v + 1: tuple(c) if isinstance(c, list) else c for v, c in enumerate(obj)}
    if isinstance(obj, dict):
        try:
            return {int(k): tuple(c) if isinstance(c, list) else c for k, c in obj.items()}
        except ValueError:
            raise SgdDiagramsError("history object keys must be node numbers 1..m") from None
    raise SgdDiagramsError("a history is a JSON list [[n, t], ...] (nodes 1..m in canonical order) or 'auto'")


def _subtree_height(d: Diagram) -> list[int]:
    h = [0] * d.n_nodes
    for v in reversed(range(d.n_nodes)):  # children have larger preorder labels
        if d.children[v]:
            h[v] = 1 + max(h[c] for c in d.children[v])
    return h


def auto_history(d: Diagram, schedule: Schedule) -> History:
    """A valid history of ``d`` in ``schedule`` chosen to draw well (see module docstring)."""
    if not isinstance(d, Diagram):
        raise SgdDiagramsError("auto_history needs a Diagram (use sgd_diagrams.diagrams.parse)")
    m = d.n_edges
    T = schedule.T
    grid = schedule.grid()
    rows_at = [[n for n in range(schedule.N) if grid[n, t]] for t in range(T)]
    height = _subtree_height(d)
    place: History = {}
    part_row: dict[int, int] = {}
    used_cells: dict[tuple[int, int], int] = {}
    budget = [200_000]  # search steps; the first valid history is almost always found at once

    def candidates(v: int) -> Sequence[tuple[int, int]]:
        parent_t = T if d.parents[v] == 0 else place[d.parents[v]][1]
        target = parent_t * (height[v] + 1) / (height[v] + 2)
        times = sorted(range(parent_t), key=lambda t: (abs(t - target), -t))
        used_rows = set(part_row.values())
        out = []
        for t in times:
            fixed = part_row.get(d.parts[v])
            rows = [fixed] if fixed is not None else rows_at[t]
            for n in rows:
                if not grid[n, t]:
                    continue
                penalty = 2 * (used_cells.get((n, t), 0) > 0) + (fixed is None and n in used_rows)
                out.append((penalty, abs(t - target), n, t))
        out.sort()
        return [(n, t) for _, _, n, t in out]

    def search(v: int) -> bool:
        if v > m:
            return True
        budget[0] -= 1
        if budget[0] < 0:
            return False
        part = d.parts[v]
        for n, t in candidates(v):
            new_part = part not in part_row
            if new_part:
                part_row[part] = n
            place[v] = (n, t)
            used_cells[(n, t)] = used_cells.get((n, t), 0) + 1
            if search(v + 1):
                return True
            used_cells[(n, t)] -= 1
            del place[v]
            if new_part:
                del part_row[part]
        return False

    if not search(1):
        if budget[0] < 0:
            raise SgdDiagramsError(
                f"no history of {d} found within the search budget in {schedule!r}; give one with --history"
            )
        raise SgdDiagramsError(
            f"diagram {d} has no history in this schedule ({schedule!r}); use more steps or epochs"
        )
    return check_history(d, schedule, place)
