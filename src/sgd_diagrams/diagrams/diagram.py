"""The :class:`Diagram` value type: a rooted tree plus a partition of its nodes.

Seed 001 Def. 1/5 and ``DESIGN.md``: a diagram is a rooted tree equipped
with a partition of its nodes.

* A non-root node is one copy of a batch gradient; its edge to its parent says
  which later factor its ∇ differentiated.  A node with k children has degree
  k+1 and stands for ∇^{k+1} l_x; the root stands for the measured quantity s,
  differentiated once per child.
* Parts of the partition are nodes that read the same training point.  For
  ``test`` and ``displacement`` diagrams the root is alone in its part; for
  ``train`` diagrams it may share a part with non-root nodes.

Two diagrams are equal when a relabeling preserves root, tree and partition.
Every :class:`Diagram` is stored in canonical form, so ``==`` and ``hash`` are
isomorphism tests.  The canonical labelling is the preorder of the tree with
children sorted by their subtree's AHU code; among the tree automorphisms the
one giving the lexicographically smallest part sequence (parts numbered by
first appearance) is chosen.  The number of tree automorphisms that preserve
the partition is |Aut(D)|, the symmetry factor of Theorem 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from ..errors import SgdDiagramsError

__all__ = ["Diagram"]


def _renumber(labels: Sequence[int]) -> tuple[int, ...]:
    """Relabel parts by order of first appearance."""
    seen: dict[int, int] = {}
    out = []
    for x in labels:
        if x not in seen:
            seen[x] = len(seen)
        out.append(seen[x])
    return tuple(out)


def _children_lists(parents: Sequence[int]) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for v, p in enumerate(parents):
        if p >= 0:
            kids[p].append(v)
    return kids


def _tree_codes(parents: Sequence[int], root: int) -> list[str]:
    """AHU codes of every subtree: '(' + sorted child codes + ')'."""
    kids = _children_lists(parents)
    codes = [""] * len(parents)

    def visit(v: int) -> str:
        codes[v] = "(" + "".join(sorted(visit(c) for c in kids[v])) + ")"
        return codes[v]

    visit(root)
    return codes


def _orderings(v: int, kids: list[list[int]], codes: list[str]) -> list[list[int]]:
    """Every preorder of v's subtree with children in code order, one per tree automorphism."""
    ch = sorted(kids[v], key=lambda c: codes[c])
    if not ch:
        return [[v]]
    groups = [list(g) for _, g in itertools.groupby(ch, key=lambda c: codes[c])]
    per_group: list[list[list[int]]] = []
    for group in groups:
        options: list[list[int]] = []
        sub = {c: _orderings(c, kids, codes) for c in group}
        for perm in itertools.permutations(group):
            for combo in itertools.product(*(sub[c] for c in perm)):
                options.append([x for seq in combo for x in seq])
        per_group.append(options)
    return [[v] + [x for seq in combo for x in seq] for combo in itertools.product(*per_group)]


@dataclass(frozen=True, eq=True)
class Diagram:
    """A rooted tree plus a partition of its nodes, in canonical form.

    ``parents[v]`` is the parent of node v (``-1`` for the root, which is node 0);
    ``parts[v]`` is the part of node v, parts numbered by first appearance in
    preorder.  Build diagrams with :meth:`from_structure` or
    :func:`sgd_diagrams.diagrams.parse`; the constructor expects canonical input.
    """

    parents: tuple[int, ...]
    parts: tuple[int, ...]

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_structure(cls, parents: Sequence[int], parts: Sequence[int]) -> Diagram:
        """Canonicalize an arbitrary labelling: ``parents[v]`` (−1 at the root) and part labels."""
        parents = [int(p) for p in parents]
        parts = list(parts)
        n = len(parents)
        if n == 0 or len(parts) != n:
            raise SgdDiagramsError("a diagram needs at least a root and one part label per node")
        roots = [v for v, p in enumerate(parents) if p == -1]
        if len(roots) != 1:
            raise SgdDiagramsError(f"a diagram has exactly one root, got {len(roots)}")
        root = roots[0]
        # Check it is a tree: every node reaches the root.
        for v in range(n):
            seen = set()
            u = v
            while u != root:
                if u in seen or not (0 <= parents[u] < n):
                    raise SgdDiagramsError("diagram parents do not form a rooted tree")
                seen.add(u)
                u = parents[u]
        codes = _tree_codes(parents, root)
        kids = _children_lists(parents)
        best: tuple[int, ...] | None = None
        best_order: list[int] | None = None
        for order in _orderings(root, kids, codes):
            key = _renumber([parts[v] for v in order])
            if best is None or key < best:
                best, best_order = key, order
        assert best is not None and best_order is not None
        position = {old: new for new, old in enumerate(best_order)}
        new_parents = tuple(-1 if parents[old] == -1 else position[parents[old]] for old in best_order)
        return cls(new_parents, best)

    @classmethod
    def from_labellings(cls, parents: Sequence[int], labellings: Iterable[Sequence[int]]) -> Iterator[Diagram]:
        """:meth:`from_structure` of one tree under many part labellings, the tree's orderings computed once.

        The same diagrams as ``from_structure(parents, parts)`` for each ``parts``, 4-5x faster when a tree
        has many labellings (enumeration): the automorphism orderings and their parent arrays depend on the
        tree alone.
        """
        parents = [int(p) for p in parents]
        first = None
        labellings = iter(labellings)
        for parts in labellings:  # validate the tree once, through the general path
            first = cls.from_structure(parents, parts)
            break
        if first is None:
            return
        root = parents.index(-1)
        orders = _orderings(root, _children_lists(parents), _tree_codes(parents, root))
        trees = []
        for order in orders:
            position = {old: new for new, old in enumerate(order)}
            trees.append(tuple(-1 if parents[old] == -1 else position[parents[old]] for old in order))
        yield first
        for parts in labellings:
            best: tuple[int, ...] | None = None
            best_i = 0
            for i, order in enumerate(orders):
                seen: dict[int, int] = {}
                key = tuple(seen.setdefault(parts[v], len(seen)) for v in order)
                if best is None or key < best:
                    best, best_i = key, i
            yield cls(trees[best_i], best)  # type: ignore[arg-type]

    # -- shape ----------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        """Number of nodes, the root included."""
        return len(self.parents)

    @property
    def n_edges(self) -> int:
        """Number of edges d: the diagram contributes at order η^d."""
        return len(self.parents) - 1

    @property
    def n_parts(self) -> int:
        """Number of parts of the partition of all nodes (the root's part included)."""
        return len(set(self.parts))

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """Children of every node, in canonical order."""
        return tuple(tuple(c) for c in _children_lists(self.parents))

    def degree(self, v: int) -> int:
        """Number of derivatives at node v: children, plus one for the edge to the parent."""
        return len(self.children[v]) + (0 if v == 0 else 1)

    @cached_property
    def part_members(self) -> tuple[tuple[int, ...], ...]:
        """The nodes of every part, parts in canonical order."""
        members: list[list[int]] = [[] for _ in range(self.n_parts)]
        for v, p in enumerate(self.parts):
            members[p].append(v)
        return tuple(tuple(m) for m in members)

    @property
    def root_alone(self) -> bool:
        """True when the root is alone in its part (every test and displacement diagram)."""
        return self.parts.count(self.parts[0]) == 1

    def is_kind(self, kind: str) -> bool:
        """Whether this diagram is of ``kind`` (``test``, ``train`` or ``displacement``)."""
        if kind == "test":
            return self.root_alone
        if kind == "train":
            return True
        if kind == "displacement":
            return self.root_alone and len(self.children[0]) == 1
        raise SgdDiagramsError(f"unknown diagram kind {kind!r}; use test, train or displacement")

    # -- symmetry -------------------------------------------------------------------
    @cached_property
    def automorphisms(self) -> int:
        """|Aut(D)|: relabelings fixing the root, the tree and the partition."""
        codes = _tree_codes(self.parents, 0)
        kids = _children_lists(self.parents)
        count = 0
        for order in _orderings(0, kids, codes):
            if _renumber([self.parts[v] for v in order]) == self.parts:
                count += 1
        return count

    # -- links (seed 001 Def. 4) --------------------------------------------------------
    def links(self) -> tuple[int, ...]:
        """Nodes that are links: non-root, degree 2 (one child), alone in their part."""
        return tuple(
            v
            for v in range(1, self.n_nodes)
            if len(self.children[v]) == 1 and self.parts.count(self.parts[v]) == 1
        )

    @property
    def is_linkless(self) -> bool:
        """True when the diagram has no link (seed 001 Def. 4)."""
        return not self.links()

    def reduce_link(self, v: int) -> Diagram:
        """Replace link ``v`` by an edge joining its child to its parent (Def. 4)."""
        if v not in self.links():
            raise SgdDiagramsError(f"node {v} is not a link of {self}")
        child = self.children[v][0]
        keep = [u for u in range(self.n_nodes) if u != v]
        index = {u: i for i, u in enumerate(keep)}
        parents = []
        for u in keep:
            p = self.parents[u]
            if u == child:
                p = self.parents[v]
            parents.append(-1 if p == -1 else index[p])
        return Diagram.from_structure(parents, [self.parts[u] for u in keep])

    def linkless_reduction(self) -> Diagram:
        """The unique linkless diagram reached by reducing every link."""
        d = self
        while d.links():
            d = d.reduce_link(d.links()[0])
        return d

    # -- text -------------------------------------------------------------------------
    def __str__(self) -> str:
        return format_diagram(self)

    def __repr__(self) -> str:
        return f"Diagram({str(self)!r})"

    def sort_key(self) -> tuple:
        """A deterministic order: fewer edges, then more parts, then by structure."""
        return (self.n_edges, -self.n_parts, self.parents, self.parts)


PART_LETTERS = "abcdefghijklmnopqstuvwxyz"  # 'r' is reserved for a lone root


def format_diagram(d: Diagram) -> str:
    """The canonical notation of ``d`` (the grammar and its parser are in :mod:`.notation`)."""
    letters: dict[int, str] = {}
    if d.root_alone:
        letters[d.parts[0]] = "r"
    for p in d.parts:
        if p not in letters:
            k = len([x for x in letters.values() if x != "r"])
            if k >= len(PART_LETTERS):
                raise SgdDiagramsError("diagram has too many parts to print (at most 25)")
            letters[p] = PART_LETTERS[k]

    def node(v: int) -> str:
        kids = d.children[v]
        s = letters[d.parts[v]]
        if kids:
            s += "(" + "".join(node(c) for c in kids) + ")"
        return s

    return node(0)
