"""Weighted history counts: the coefficient Σ_f 1/|Aut_f(D)| of Theorem 1.

A history of a diagram D in a schedule maps each non-root node to a shaded
cell (n, t) so that a child's t is strictly less than its parent's (the root
sits at time T) and nodes in one part share a row n (seed 001 Def. 2, App.
A.3).  Each node carries the weight 1/|B_t| of its cell; a train-loss root
reads a training row with weight 1/N.  By orbit–stabilizer, summing
1/|Aut_f(D)| over histories up to relabeling equals the weighted number of
*labelled* maps divided by |Aut(D)| (``DESIGN.md``).

Algorithm (never enumerates the T^d maps).  Sweep time from 0 to T−1 with a
state = the set of nodes already placed (closed under children).  Nodes alone
in their part ("singletons") can sit in any column with total weight
Σ_n 1/|B_t| = 1, so between the cells that matter the sweep applies one
fixed transition matrix A = I + N₁ with N₁ nilpotent, and g idle steps cost
A^g = Σ_k C(g, k) N₁^k — a closed form in g.  Parts with two or more non-root
nodes ("tied" parts) must share a row: we sum over the rows of the tied parts
(identical rows grouped with multiplicities, so GD has one group), and only at
that row tuple's shaded cells ("events") do tied nodes get placed.  Cost is
O(Σ_tuples events × states²): for order ≤ 3 at most one tied part exists, so an
SGD schedule costs O(N·E) and GD O(T); diagrams with k tied parts cost
O(groups^k · events).  With no tied part the count is the closed form
Σ_k C(T, k)·(N₁^k)[∅, all].
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..diagrams.diagram import Diagram
from ..errors import SgdDiagramsError
from .grid import Schedule

__all__ = ["history_count", "history_counts", "has_history"]


# -- the diagram side: states and transitions -------------------------------------------
class _Sweep:
    """States and transition matrices of the time sweep for one diagram."""

    def __init__(self, d: Diagram) -> None:
        m = d.n_edges  # non-root nodes are 1..m
        self.m = m
        kids = d.children
        root_part = d.parts[0]
        members: dict[int, list[int]] = defaultdict(list)
        for v in range(1, m + 1):
            members[d.parts[v]].append(v)
        # 1/N for a root that shares its part (train loss reads a training row).
        self.root_shared = not d.root_alone
        self.tied_parts = [tuple(vs) for p, vs in sorted(members.items()) if len(vs) >= 2]
        self.root_tied_index = None
        for i, vs in enumerate(self.tied_parts):
            if d.parts[vs[0]] == root_part:
                self.root_tied_index = i
        tied_of = {v: i for i, vs in enumerate(self.tied_parts) for v in vs}
        child_mask = [0] * (m + 1)
        for v in range(1, m + 1):
            for c in kids[v]:
                child_mask[v] |= 1 << (c - 1)
        states = [s for s in range(1 << m) if all(
            not (s >> (v - 1)) & 1 or (s & child_mask[v]) == child_mask[v] for v in range(1, m + 1)
        )]
        self.states = states
        self.index = {s: i for i, s in enumerate(states)}
        self.full = self.index[(1 << m) - 1]
        k = len(self.tied_parts)
        # transitions grouped by the vector of tied-node counts per tied part
        by_counts: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
        for s in states:
            avail = [v for v in range(1, m + 1)
                     if not (s >> (v - 1)) & 1 and (s & child_mask[v]) == child_mask[v]]
            for r in range(0, len(avail) + 1):
                for placed in itertools.combinations(avail, r):
                    counts = [0] * k
                    for v in placed:
                        if v in tied_of:
                            counts[tied_of[v]] += 1
                    target = s | sum(1 << (v - 1) for v in placed)
                    by_counts[tuple(counts)].append((self.index[s], self.index[target]))
        self.transitions = dict(by_counts)
        zero = tuple([0] * k)
        ns = len(states)
        self.idle_nilpotent = np.zeros((ns, ns), dtype=np.int64)  # N1: singletons only, ≥1 node
        for a, b in self.transitions[zero]:
            if a != b:
                self.idle_nilpotent[a, b] += 1
        self.event_matrices = {}
        for counts, pairs in self.transitions.items():
            mat = np.zeros((ns, ns), dtype=np.int64)
            for a, b in pairs:
                mat[a, b] += 1
            self.event_matrices[counts] = mat


@lru_cache(maxsize=4096)
def _sweep(d: Diagram) -> _Sweep:
    return _Sweep(d)


# -- the schedule side: grouped rows ----------------------------------------------------
@lru_cache(maxsize=64)
def _row_groups(schedule: Schedule, exact: bool) -> tuple[list[tuple[tuple[int, ...], tuple]], list[int]]:
    """Distinct non-empty rows as (times, weights), with multiplicities.

    Rows are grouped by two independent random 64-bit signatures Σ_t r(t) over
    their shaded columns (a collision has probability ~2^-128), so GD's N identical
    rows form one group and the work is O(total cells) in vectorized numpy.
    """
    N, T = schedule.N, schedule.T
    rng = np.random.default_rng(20240607)
    keys = rng.integers(0, 2**63, size=(2, T), dtype=np.uint64)
    arrays: dict[int, np.ndarray] = {}
    sig = np.zeros((2, N), dtype=np.uint64)
    for t, batch in enumerate(schedule.batches):
        idx = arrays.get(id(batch))
        if idx is None:
            idx = arrays[id(batch)] = np.fromiter(batch, dtype=np.int64, count=len(batch))
        sig[:, idx] += keys[:, t : t + 1]
    shaded = np.zeros(N, dtype=bool)
    for idx in arrays.values():
        shaded[idx] = True
    rows_idx = np.flatnonzero(shaded)
    _, first, counts = np.unique(sig[:, rows_idx].T, axis=0, return_index=True, return_counts=True)
    reps = rows_idx[first]
    group_of = np.full(N, -1, dtype=np.int64)
    group_of[reps] = np.arange(len(reps))
    times: list[list[int]] = [[] for _ in reps]
    present: dict[int, np.ndarray] = {}
    for t, batch in enumerate(schedule.batches):
        g = present.get(id(batch))
        if g is None:
            g = group_of[arrays[id(batch)]]
            g = present[id(batch)] = g[g >= 0]
        for gi in g:
            times[gi].append(t)
    sizes = schedule.batch_sizes
    rows = []
    for tl in times:
        if exact:
            weights = tuple(Fraction(1, int(sizes[t])) for t in tl)
        else:
            weights = tuple(1.0 / float(sizes[t]) for t in tl)
        rows.append((tuple(tl), weights))
    return rows, [int(c) for c in counts]


def _binomial_table(gaps: np.ndarray, kmax: int, exact: bool) -> list[np.ndarray]:
    if exact:
        return [np.array([math.comb(int(g), k) for g in gaps], dtype=object) for k in range(kmax + 1)]
    out = []
    c = np.ones_like(gaps, dtype=np.float64)
    for k in range(kmax + 1):
        if k > 0:
            c = c * (gaps - (k - 1)) / k
            c = np.where(gaps >= k, c, 0.0)
        out.append(c.copy())
    return out


def _idle(v: np.ndarray, gaps: np.ndarray, sw: _Sweep, exact: bool) -> np.ndarray:
    """Apply A^g = Σ_k C(g,k) N₁^k to each row of v (one gap per row)."""
    nil = sw.idle_nilpotent.astype(object) if exact else sw.idle_nilpotent.astype(np.float64)
    binoms = _binomial_table(gaps, sw.m, exact)
    out = v * binoms[0][:, None]
    u = v
    for k in range(1, sw.m + 1):
        u = u @ nil
        out = out + u * binoms[k][:, None]
    return out


def _count_tied(sw: _Sweep, schedule: Schedule, exact: bool):
    rows, mults = _row_groups(schedule, exact)
    k = len(sw.tied_parts)
    zero = Fraction(0) if exact else 0.0
    total = zero
    mats = {c: (m.astype(object) if exact else m.astype(np.float64)) for c, m in sw.event_matrices.items()}
    ns = len(sw.states)
    # Group row tuples by their number of events so they can be swept together.
    batches: dict[int, list[tuple[list[int], list[list], object]]] = defaultdict(list)
    for combo in itertools.product(range(len(rows)), repeat=k):
        lookup = [dict(zip(rows[g][0], rows[g][1], strict=True)) for g in combo]
        times = sorted(set().union(*(rows[g][0] for g in combo)))
        weights = [[lk.get(t, zero) for t in times] for lk in lookup]
        mult = 1
        for g in combo:
            mult *= mults[g]
        batches[len(times)].append((times, weights, mult))
    T = schedule.T
    for n_events, items in batches.items():
        Q = len(items)
        times = np.array([it[0] for it in items], dtype=np.int64).reshape(Q, n_events)
        wts = [np.array([it[1][i] for it in items], dtype=object if exact else np.float64).reshape(Q, n_events)
               for i in range(k)]
        mult = np.array([it[2] for it in items], dtype=object if exact else np.float64)
        v = np.zeros((Q, ns), dtype=object if exact else np.float64)
        if exact:
            v[:] = Fraction(0)
        v[:, sw.index[0]] = 1
        prev = np.full(Q, -1, dtype=np.int64)
        e = 0
        while e < n_events:
            gaps = times[:, e] - prev - 1
            v = _idle(v, gaps, sw, exact)
            w_now = [w[:, e] for w in wts]
            # Run compression: consecutive events with no gap and identical weights.
            run = 1
            while (
                e + run < n_events
                and np.all(times[:, e + run] == times[:, e + run - 1] + 1)
                and all(np.all(w[:, e + run] == w_now[i]) for i, w in enumerate(wts))
            ):
                run += 1
            if run >= 4 and Q <= 64:
                event = np.zeros((Q, ns, ns), dtype=object if exact else np.float64)
                for counts, mat in mats.items():
                    coef = np.ones(Q, dtype=object if exact else np.float64)
                    for i, c in enumerate(counts):
                        if c:
                            coef = coef * w_now[i] ** c
                    event = event + coef[:, None, None] * mat[None]
                powered = np.stack([np.linalg.matrix_power(event[q], run) for q in range(Q)])
                v = np.einsum("qs,qst->qt", v, powered) if not exact else np.stack(
                    [v[q] @ powered[q] for q in range(Q)])
            else:
                run = 1
                new = np.zeros_like(v)
                for counts, mat in mats.items():
                    coef = np.ones(Q, dtype=object if exact else np.float64)
                    for i, c in enumerate(counts):
                        if c:
                            coef = coef * w_now[i] ** c
                    new = new + (v @ mat) * coef[:, None]
                v = new
            prev = times[:, e + run - 1]
            e += run
        v = _idle(v, T - prev - 1, sw, exact)
        total = total + (v[:, sw.full] * mult).sum()
    return total


def history_count(d: Diagram, schedule: Schedule, exact: bool = False) -> float | Fraction:
    """Σ_f weight(f)/|Aut_f(D)| over histories f of ``d`` in ``schedule``.

    weight(f) = Π over non-root nodes of 1/|B_t|, times 1/N for a train root that
    shares its part.  Theorem 1's coefficient of uvalue(D) is (−1)^d times this.
    With ``exact=True`` the result is a :class:`fractions.Fraction`.
    """
    if not isinstance(d, Diagram):
        raise SgdDiagramsError("history_count needs a Diagram (use sgd_diagrams.diagrams.parse)")
    if not isinstance(schedule, Schedule):
        raise SgdDiagramsError("history_count needs a Schedule (see sgd_diagrams.schedules)")
    sw = _sweep(d)
    T = schedule.T
    if not sw.tied_parts:
        nil = sw.idle_nilpotent.astype(object)
        vec = np.zeros(len(sw.states), dtype=object)
        vec[sw.index[0]] = 1
        count = 0
        for k in range(sw.m + 1):
            count += math.comb(T, k) * vec[sw.full]
            vec = vec @ nil
        labelled = Fraction(count)
    else:
        labelled = _count_tied(sw, schedule, exact)
        if not exact:
            labelled = float(labelled)
    if sw.root_shared:
        labelled = labelled / (Fraction(schedule.N) if exact else schedule.N)
    result = Fraction(labelled) / d.automorphisms if exact else float(labelled) / d.automorphisms
    return result


def history_counts(diagrams, schedule: Schedule, exact: bool = False) -> list:
    """:func:`history_count` for several diagrams."""
    return [history_count(d, schedule, exact=exact) for d in diagrams]


def has_history(d: Diagram, schedule: Schedule) -> bool:
    """True when ``d`` has at least one history in ``schedule``."""
    return history_count(d, schedule) > 0
