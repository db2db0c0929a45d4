"""Enumeration of every diagram with d edges, up to isomorphism.

Kinds (``DESIGN.md``):

* ``test`` — the root is alone in its part (s = expected test loss);
* ``train`` — the root may share a part with non-root nodes (s = train loss);
* ``displacement`` — the root is alone and has exactly one child (s linear).

Counts of test diagrams with 1, 2, 3 edges are 1, 4, 17 (seed 001 App. A.3
lists the four two-edged ones).  Enumeration walks every unlabelled rooted
tree with d+1 nodes and every set partition of its nodes, keeping one
canonical representative per isomorphism class.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from ..errors import SgdDiagramsError
from ..limits import MAX_EDGES, MAX_EDGES_UNFORCED
from .diagram import Diagram, _tree_codes

__all__ = ["rooted_trees", "set_partitions", "enumerate_diagrams", "KINDS"]

KINDS = ("test", "train", "displacement")


@cache
def rooted_trees(n_nodes: int) -> tuple[tuple[int, ...], ...]:
    """Every unlabelled rooted tree with ``n_nodes`` nodes, as parent arrays (root = node 0)."""
    if n_nodes < 1:
        raise SgdDiagramsError("a tree has at least one node")
    if n_nodes == 1:
        return ((-1,),)
    out: dict[str, tuple[int, ...]] = {}
    for tree in rooted_trees(n_nodes - 1):
        for v in range(len(tree)):
            grown = tree + (v,)
            code = _tree_codes(grown, 0)[0]
            if code not in out:
                out[code] = Diagram.from_structure(grown, [0] * n_nodes).parents
    return tuple(out[c] for c in sorted(out))


def set_partitions(n: int) -> Iterator[tuple[int, ...]]:
    """Every set partition of range(n) as a restricted growth string."""
    if n == 0:
        yield ()
        return

    def grow(prefix: list[int], top: int) -> Iterator[tuple[int, ...]]:
        if len(prefix) == n:
            yield tuple(prefix)
            return
        for p in range(top + 2):
            prefix.append(p)
            yield from grow(prefix, max(top, p))
            prefix.pop()

    yield from grow([0], 0)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise SgdDiagramsError(f"unknown diagram kind {kind!r}; use one of {', '.join(KINDS)}")


@cache
def _enumerate(edges: int, kind: str) -> tuple[Diagram, ...]:
    found: set[Diagram] = set()
    n = edges + 1
    for tree in rooted_trees(n):
        if kind == "displacement" and sum(1 for p in tree if p == 0) != 1:
            continue
        if kind == "train":
            labellings = set_partitions(n)
        else:
            labellings = ((0,) + tuple(p + 1 for p in rgs) for rgs in set_partitions(n - 1))
        found.update(Diagram.from_labellings(tree, labellings))
    return tuple(sorted(found, key=Diagram.sort_key))


def enumerate_diagrams(edges: int, kind: str = "test", linkless: bool = False,
                       force: bool = False) -> tuple[Diagram, ...]:
    """Every diagram of ``kind`` with exactly ``edges`` edges, one per isomorphism class.

    With ``linkless=True`` only diagrams without links (seed 001 Def. 4) are kept:
    the diagrams summed by the resummed Theorem 1.
    """
    if isinstance(edges, bool) or not isinstance(edges, int) or edges < 0:
        raise SgdDiagramsError(f"edges must be a non-negative integer, got {edges!r}")
    if edges > MAX_EDGES:
        raise SgdDiagramsError(f"enumerating diagrams with {edges} edges never finishes here; use at most {MAX_EDGES}")
    if edges > MAX_EDGES_UNFORCED and not force:
        raise SgdDiagramsError(
            f"enumerating diagrams with {edges} edges takes 4-20 s (55818 test, 257245 train classes) and "
            "everything downstream of them far longer; "
            "pass --force (Python: force=True) to run it"
        )
    _check_kind(kind)
    if kind == "displacement" and edges == 0:
        return ()
    out = _enumerate(edges, kind)
    if linkless:
        out = tuple(d for d in out if d.is_linkless)
    return out
