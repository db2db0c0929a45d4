"""History counts of in-order SGD and GD in closed form, derived by summing over weak orders of node times.

Seed 001 Def. 2, App. A.3 (histories) and Prop 2 (counts are polynomials in the hyper-parameters).
count(D) = Σ_f 1/|Aut_f(D)| · Π_nodes 1/|B_t| equals the weighted number of *labelled* maps of the
non-root nodes to shaded cells, divided by |Aut(D)| (``DESIGN.md``).  For the two structured families
the row sums factor out of the time sums:

* **in-order SGD** ``sgd(N, B, E)``, M = N/B batches per epoch: step t = e·M + b (epoch e < E, batch
  b < M) reads rows bB … bB+B−1 with weight 1/B.  Rows of different parts are independent, so a part P
  of non-root nodes contributes Σ_rows Π_{v∈P} 1/B = B^{1−|P|} when all its nodes sit at one batch index
  b (their epochs may differ), and 0 otherwise; a singleton contributes 1.  A train root that shares its
  part reads row n with weight 1/N: one more factor 1/N (its partners form a part as above).
  Hence, with node times ordered lexicographically by (e, b) and a child strictly before its parent,

      labelled count = B^{Σ_P (1−|P|)} · N^{−[root shared]} · Σ_{weak orders w of the nodes' epochs}
                       C(E, blocks(w)) · Ω_w(M),

  the sum over weak orders w of the epochs consistent with the tree (child's epoch ≤ parent's) and
  Ω_w(M) the number of batch indices b: nodes → [M] that are constant on every tied part and strictly
  increase along every edge whose two ends share an epoch in w (a *strict order polynomial*).
* **GD** ``gd(N, T)``: every step reads all N rows with weight 1/N, so a part P contributes N^{1−|P|}
  and the times are any strictly increasing labelling of the tree by [T]: Ω_tree(T) · N^{Σ_P(1−|P|)} ·
  N^{−[root shared]}.

Ω of a small poset is Σ_j s_j C(x, j) with s_j its surjective strict-order-preserving maps onto [j]
(ordered partitions into blocks, counted by a sweep over the 2^n sets of placed elements, memoized), so
a count is a Laurent polynomial in N, B, E (resp. N, T) with rational coefficients, derived in about a
millisecond per diagram and exact at any size — no history sweep, no fit.  It is the one source of every
in-order SGD / GD count (:mod:`sgd_diagrams.theory.structured_counts` evaluates it,
:mod:`sgd_diagrams.theory.symbolic` prints it); ``tests/test_order_polynomials.py`` checks it term by term
against an exact fit of exact sweeps (the fitted table it replaced) and against the sweeps themselves.
"""

from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction
from functools import lru_cache

from ..diagrams import Diagram
from ..errors import SgdDiagramsError

__all__ = ["DERIVED_MAX_EDGES", "derived_count_polynomial", "strict_order_polynomial"]

DERIVED_MAX_EDGES = 6  # = the Taylor form's order limit; the sweeps over subsets have 2^6 states there

Monomial = tuple[tuple[int, ...], Fraction]


# -- strict order polynomials of small posets ----------------------------------------------------
def _ordered_blocks(n: int, edges, strict: bool) -> dict[tuple[int, int], int]:
    """Count ordered partitions of [n] into blocks B_1, …, B_k along the edges (u, w) (u's block first).

    ``strict``: u's block strictly before w's (no edge inside a block); else at or before.  Returns
    {(k, mask of the edges inside one block): count}, by a sweep over the set U of placed vertices
    (2^n states; each step places a nonempty block X whose predecessors are all in U, or in U ∪ X).
    """
    edges = tuple(edges)
    preds = [0] * n
    for u, w in edges:
        preds[w] |= 1 << u
    full = (1 << n) - 1
    layer: dict[tuple[int, int], dict[int, int]] = {(0, 0): {0: 1}}
    out: dict[tuple[int, int], int] = defaultdict(int)
    while layer:
        nxt: dict[tuple[int, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for (placed, inside), by_k in layer.items():
            if placed == full:
                for k, c in by_k.items():
                    out[k, inside] += c
                continue
            free = full & ~placed
            x = free
            while x:  # every nonempty subset X of the free vertices
                after = placed | x
                need = placed if strict else after
                if all(preds[v] & ~need == 0 for v in range(n) if x >> v & 1):
                    mask = inside
                    for i, (u, w) in enumerate(edges):
                        if x >> u & 1 and x >> w & 1:
                            mask |= 1 << i
                    for k, c in by_k.items():
                        nxt[after, mask][k + 1] += c
                x = (x - 1) & free
        layer = nxt
    return out


@lru_cache(maxsize=65536)
def _surjection_counts(n: int, edges: frozenset[tuple[int, int]]) -> tuple[int, ...]:
    """s_j for j = 0..n: maps [n] → [j] onto, with f(u) < f(w) for every edge (u, w)."""
    counts = [0] * (n + 1)
    for (k, _), c in _ordered_blocks(n, sorted(edges), strict=True).items():
        counts[k] += c
    return tuple(counts)


def strict_order_polynomial(n: int, edges) -> tuple[int, ...]:
    """Ω(x) = Σ_j s_j·C(x, j): the number of maps [n] → [x] increasing strictly along ``edges``; returns (s_j)."""
    edges = frozenset((int(u), int(w)) for u, w in edges)
    if any(not (0 <= u < n and 0 <= w < n) for e in edges for u, w in [e]):
        raise SgdDiagramsError(f"edges of a strict order polynomial must join vertices 0..{n - 1}")
    if any(u == w for u, w in edges):
        return (0,) * (n + 1)
    return _surjection_counts(n, edges)


# -- polynomial helpers (exponent tuples → Fraction) --------------------------------------------------
@lru_cache(maxsize=64)
def _falling(k: int) -> tuple[int, ...]:
    """Integer coefficients f_i of the falling factorial x(x−1)…(x−k+1) = k!·C(x, k) = Σ_i f_i x^i."""
    coeffs = [1]
    for r in range(k):  # multiply by (x − r)
        nxt = [0] * (len(coeffs) + 1)
        for i, c in enumerate(coeffs):
            nxt[i + 1] += c
            nxt[i] -= r * c
        coeffs = nxt
    return tuple(coeffs)


# -- the diagram side ---------------------------------------------------------------------------------
def _structure(d: Diagram) -> tuple[int, list[tuple[int, int]], list[int], int, bool]:
    """(m, edges (child, parent) among non-root nodes 0..m−1, class of each node, Σ_P(1−|P|), root shared)."""
    m = d.n_edges
    edges = [(v - 1, d.parents[v] - 1) for v in range(1, m + 1) if d.parents[v] != 0]
    members: dict[int, list[int]] = defaultdict(list)
    for v in range(1, m + 1):
        members[d.parts[v]].append(v - 1)
    klass = [0] * m
    exponent = 0
    for i, (_, vs) in enumerate(sorted(members.items())):
        exponent += 1 - len(vs)
        for v in vs:
            klass[v] = i
    return m, edges, klass, exponent, not d.root_alone


@lru_cache(maxsize=1024)
def _epoch_patterns(m: int, edges: tuple[tuple[int, int], ...]) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Weak orders of the nodes' epochs (rank(child) ≤ rank(parent)), grouped by which edges stay in one epoch.

    Returns (indices of the same-epoch edges, w) pairs with w[k] the number of such weak orders with k blocks;
    one tree has at most 2^edges groups, so a diagram's sum runs over those, not over its weak orders.
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for (k, inside), c in _ordered_blocks(m, edges, strict=False).items():
        same = tuple(i for i in range(len(edges)) if inside >> i & 1)
        groups.setdefault(same, [0] * (m + 1))[k] += c
    return tuple((same, tuple(w)) for same, w in sorted(groups.items()))


def _sgd_coefficients(d: Diagram) -> dict[tuple[int, int], int]:
    """c[k, j] with labelled count / (B^{Σ(1−|P|)} N^{−shared}) = Σ c[k, j]·C(E, k)·C(M, j)."""
    m, edges, klass, _, _ = _structure(d)
    out: dict[tuple[int, int], int] = defaultdict(int)
    if m == 0:
        out[0, 0] = 1
        return out
    n_classes = max(klass) + 1
    for same, weights in _epoch_patterns(m, tuple(edges)):
        s = strict_order_polynomial(n_classes, frozenset((klass[edges[i][0]], klass[edges[i][1]]) for i in same))
        for k, wk in enumerate(weights):
            if wk:
                for j, sj in enumerate(s):
                    if sj:
                        out[k, j] += wk * sj
    return out


@lru_cache(maxsize=131072)  # every diagram with <= 6 edges, both families (2 x 24533 at 6 edges)
def _derived(d: Diagram, family: str) -> tuple[Monomial, ...]:
    m, edges, _, exponent, shared = _structure(d)
    scale = math.factorial(m)  # C(x, k) = falling_k(x)/k! = (scale/k!)·falling_k(x)/scale, integers until the end
    num: dict[tuple[int, ...], int] = defaultdict(int)
    if family == "sgd":  # variables N, B, E; M = N·B^{-1}
        for (k, j), c in _sgd_coefficients(d).items():
            ck = c * (scale // math.factorial(k)) * (scale // math.factorial(j))
            for a, fe in enumerate(_falling(k)):
                if fe:
                    for i, fm in enumerate(_falling(j)):
                        if fm:
                            num[(i - int(shared), exponent - i, a)] += ck * fe * fm
        den = scale * scale * d.automorphisms
    elif family == "gd":  # variables N, T
        for j, sj in enumerate(strict_order_polynomial(m, edges)):
            if sj:
                for i, ft in enumerate(_falling(j)):
                    if ft:
                        num[(exponent - int(shared), i)] += sj * (scale // math.factorial(j)) * ft
        den = scale * d.automorphisms
    else:
        raise SgdDiagramsError(f"unknown schedule family {family!r}; use sgd or gd")
    return tuple(sorted((e, Fraction(c, den)) for e, c in num.items() if c))


def derived_count_polynomial(d: Diagram, family: str) -> tuple[Monomial, ...]:
    """count(D) under ``family`` ('sgd': N, B, E; 'gd': N, T) as ((exponents, coefficient), …), derived exactly.

    Cached per diagram: one sweep over subsets per tree shape, then ≤ 2^m small posets per diagram.
    """
    if not isinstance(d, Diagram):
        raise SgdDiagramsError("derived_count_polynomial needs a Diagram (use sgd_diagrams.diagrams.parse)")
    if d.n_edges > DERIVED_MAX_EDGES:
        raise SgdDiagramsError(
            f"diagram {d} has {d.n_edges} edges; closed-form counts are derived up to {DERIVED_MAX_EDGES} edges"
        )
    return _derived(d, family)
