"""Where to put a diagram's nodes on the page, as the papers draw them (seed 001 §"How to identify …").

Seed 001 draws a diagram with its root rightmost and every edge running from
a child on the left to its parent on the right.  We place node v at

* x = −depth(v): the root at x = 0, children one unit left of their parent,
  so every child lies strictly left of its parent;
* y from a leaf-first sweep: leaves get consecutive heights in canonical
  preorder and a parent sits at the mean height of its children, so siblings
  spread vertically and chains stay on one horizontal line.

The layout is recentred so the root is at (0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagrams import Diagram

__all__ = ["Layout", "diagram_layout"]


@dataclass(frozen=True)
class Layout:
    """Node positions: ``positions[v] = (x, y)`` for node v of the canonical diagram."""

    diagram: Diagram
    positions: tuple[tuple[float, float], ...]

    @property
    def width(self) -> float:
        xs = [p[0] for p in self.positions]
        return max(xs) - min(xs)

    @property
    def height(self) -> float:
        ys = [p[1] for p in self.positions]
        return max(ys) - min(ys)


def diagram_layout(d: Diagram, sibling_gap: float = 1.0) -> Layout:
    """Positions with children strictly left of parents and the root rightmost (see module doc)."""
    depth = [0] * d.n_nodes
    for v in range(1, d.n_nodes):  # canonical labels are a preorder: parents come first
        depth[v] = depth[d.parents[v]] + 1
    height: dict[int, float] = {}
    next_leaf = 0.0

    def place(v: int) -> float:
        nonlocal next_leaf
        kids = d.children[v]
        if not kids:
            height[v] = next_leaf
            next_leaf += sibling_gap
        else:
            ys = [place(c) for c in kids]
            height[v] = sum(ys) / len(ys)
        return height[v]

    place(0)
    y0 = height[0]
    positions = tuple((-float(depth[v]), -(height[v] - y0)) for v in range(d.n_nodes))
    return Layout(d, positions)
