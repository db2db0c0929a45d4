"""History counts averaged over reshuffles: what "SGD with reshuffling every epoch" means on average.

``sgd(N, B, E, shuffle_seed=s)`` fixes one sequence of E random permutations; the count of a diagram's
histories depends on it.  Users who reshuffle mean the *expectation* over all (N!)^E shuffles.  It is
exact and cheap (seed 001 App. A.3's sum over histories, averaged by linearity over labelled maps):

* nodes alone in their part contribute Σ_n 1{n ∈ B_t}/B = 1 at every step, whatever the shuffle;
* the k tied parts (parts with ≥ 2 non-root nodes) read k rows, some possibly equal.  Summing over
  which parts share a row (a set partition σ of the tied parts), there are N(N−1)…(N−|σ|+1) row tuples,
  all with the same expectation by exchangeability, so only |σ| *distinct* rows matter;
* within one epoch the positions of j distinct rows are a uniformly random injection into the epoch's
  N slots, B per batch: given which of them are already placed, the chance that exactly the set S of the
  u unplaced rows falls in the current batch, with m slots left (this batch included), is
  [B!/(B−s)!]·[(m−B)!/(m−B−(u−s))!] / [m!/(m−u)!], s = |S|.

So the average is one time sweep (:mod:`.sweep`) whose state also carries which rows are already placed
in the current epoch (2^j flags): cost O(T · 2^j · states²) per set partition — order ≤ 3 has j ≤ 1.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

from ..diagrams.diagram import Diagram
from ..diagrams.enumeration import set_partitions
from ..errors import SgdDiagramsError
from .grid import sgd
from .histories import AVERAGED_COUNTS, fixed_grid_history_count
from .sweep import history_sweep

__all__ = ["expected_history_count"]


def _falling(n: int, k: int) -> int:
    return math.prod(range(n - k + 1, n + 1)) if k else 1


def _placement_probability(B: int, m: int, u: int, s: int) -> Fraction:
    """P(exactly a given s of the u unplaced rows land in the current batch | m slots left)."""
    if s > B or u - s > m - B:
        return Fraction(0)
    return Fraction(_falling(B, s) * _falling(m - B, u - s), _falling(m, u))


def expected_history_count(d: Diagram, N: int, B: int = 1, E: int = 1, exact: bool = False) -> float | Fraction:
    """E over independent uniform reshuffles of every epoch of ``history_count(d, sgd(N, B, E, seed))``.

    Exact (``Fraction``) with ``exact=True``.  Diagrams without tied parts have the same count for every
    shuffle, so they are counted once on the in-order grid.
    """
    for name, value in (("N", N), ("B", B), ("E", E)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SgdDiagramsError(f"{name} must be a positive integer, got {value!r}")
    if N % B:
        raise SgdDiagramsError(f"batch size B={B} does not divide N={N}; choose B dividing N")
    sw = history_sweep(d)
    if not sw.tied_parts:  # the same count for every shuffle: the in-order grid's
        return fixed_grid_history_count(d, sgd(N, B, E), exact=exact)
    batches_per_epoch = N // B
    T = E * batches_per_epoch
    if T * len(sw.states) ** 2 > 5e8:
        raise SgdDiagramsError(f"the shuffle average of {d} over T={T} steps is too large; use a smaller N or E")
    idle, events = sw.step_matrices()
    k = len(sw.tied_parts)
    ns = len(sw.states)
    num = object if exact else np.float64
    one = Fraction(1) if exact else 1.0
    inv_b = Fraction(1, B) if exact else 1.0 / B
    total = Fraction(0) if exact else 0.0
    for sigma in set_partitions(k):  # which tied parts share a row: row_of[part] as a restricted growth string
        j = max(sigma) + 1
        row_of = dict(enumerate(sigma))
        # step matrix for each set S of distinct rows placed in the current batch (as a bitmask)
        step: dict[int, np.ndarray] = {}
        for mask in range(1 << j):
            mat = idle.astype(num) * one
            for counts, ev in events.items():
                if all(c == 0 or (mask >> row_of[i]) & 1 for i, c in enumerate(counts)):
                    mat = mat + ev.astype(num) * (inv_b ** sum(counts))
            step[mask] = mat
        v = np.zeros((1 << j, ns), dtype=num)
        v[:] = Fraction(0) if exact else 0.0
        v[0, sw.index[0]] = one
        for t in range(T):
            p = t % batches_per_epoch
            m = (batches_per_epoch - p) * B
            new = np.zeros_like(v)
            if exact:
                new[:] = Fraction(0)
            for flags in range(1 << j):
                if not np.any(v[flags] != 0):
                    continue
                unplaced = [r for r in range(j) if not (flags >> r) & 1]
                u = len(unplaced)
                for s in range(min(u, B) + 1):
                    prob = _placement_probability(B, m, u, s)
                    if prob == 0:
                        continue
                    weight = prob if exact else float(prob)
                    for chosen in itertools.combinations(unplaced, s):
                        mask = sum(1 << r for r in chosen)
                        new[flags | mask] = new[flags | mask] + weight * (v[flags] @ step[mask])
            v = new
            if p == batches_per_epoch - 1:  # epoch ends: every row was placed; flags start afresh
                v = np.stack([v[(1 << j) - 1]] + [np.zeros_like(v[0])] * ((1 << j) - 1))
        total = total + _falling(N, j) * v[0, sw.full]
    if sw.root_shared:
        total = total / (Fraction(N) if exact else N)
    return Fraction(total) / d.automorphisms if exact else float(total) / d.automorphisms


def _average_from_description(d: Diagram, description, exact: bool) -> float | Fraction:
    return expected_history_count(d, description["N"], description["B"], description["E"], exact=exact)


AVERAGED_COUNTS["average"] = _average_from_description  # history_count(d, sgd_reshuffled(...)) lands here
