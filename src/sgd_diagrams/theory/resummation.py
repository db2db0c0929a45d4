"""Resummed predictions (rvalues): Theorem 1 over linkless diagrams.

Seed 001 §"Re-summation cures large-T divergences", Def. 4, Theorem 1:

    E[s(θ_T)] = Σ_{D linkless} Σ_f 1/|Aut_f(D)| · Π_nodes 1/|B_t| · (−1)^{d} · rvalue_f(D),

where rvalue_f(D) is uvalue(D) with every edge's η replaced by the propagator
(I − ηH)^{Δt−1} η for an edge spanning Δt steps (the root sits at time T) and
H = E[∇²l_x(θ0)].  Summing a chain of links between two nodes reproduces the
binomial expansion of that propagator, so the order-d truncation agrees with the
unresummed series through η^d (tested).

Computation (never a loop over T^d histories).  With a matrix learning rate
η·P, write P^{1/2} H P^{1/2} = U Λ Uᵀ and W = P^{1/2} U, so that

    (I − ηPH)^{Δ−1} ηP = η Σ_i (1 − ηλ_i)^{Δ−1} w_i w_iᵀ.

An rvalue is then Σ over eigen-labels i_e of the edges of a *projected uvalue*
U_D[i] (cumulants contracted with w's; independent of η) times a *geometric
history sum* S_D(i) = Σ_f w(f) Π_e q_{i_e}^{Δt_e−1} with q = 1 − ηλ.  S_D is the
history sweep of :mod:`sgd_diagrams.schedules.histories` with each time step
weighted by q_e for every edge "open" during it (child placed before, parent
after): idle stretches become matrix powers (binary lifting), and for one-epoch
schedules the sum over the single event of a tied part is one block-matrix power
(Σ_t A^t E A^{T−1−t} is the corner of [[A, E], [0, A]]^T).  Cost grows like log T.

Remark 1's continuous-time approximation replaces (1−ηλ)^{Δt−1} by e^{−ηλΔt}
and sums by integrals; for one-epoch schedules it is the same sweep with a
generator: ``continuous=True``.
"""

from __future__ import annotations

import itertools
import string
import warnings
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.linalg

from ..diagrams import Diagram, enumerate_diagrams
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule
from ..schedules.histories import _row_groups
from ..values.uvalue import UvalueEvaluator
from .series import QUANTITIES

__all__ = ["eigen_propagator_basis", "projected_uvalue", "geometric_history_sum", "resummed_prediction",
           "ResummedPrediction"]

_LETTERS = string.ascii_letters


# -- the landscape side -----------------------------------------------------------------------
def eigen_propagator_basis(hessian: np.ndarray, metric: np.ndarray | None = None):
    """(λ, W) with PH = W diag(λ) W⁻¹ and P = W Wᵀ, so (I−ηPH)^k ηP = η Σ_i (1−ηλ_i)^k w_i w_iᵀ."""
    H = np.asarray(hessian, dtype=np.float64)
    H = (H + H.T) / 2
    if metric is None:
        lam, U = np.linalg.eigh(H)
        return lam, U
    P = np.asarray(metric, dtype=np.float64)
    evals, evecs = np.linalg.eigh((P + P.T) / 2)
    if np.any(evals <= 0):
        raise SgdDiagramsError("the metric must be positive definite for resummation")
    root = evecs @ np.diag(np.sqrt(evals)) @ evecs.T
    lam, U = np.linalg.eigh(root @ H @ root)
    return lam, root @ U


def projected_uvalue(evaluator: UvalueEvaluator, d: Diagram, W: np.ndarray, root: str = "loss") -> np.ndarray:
    """U_D[i_1..i_d] (…, a for displacement): uvalue with edge e's η replaced by w_{i_e} w_{i_e}ᵀ."""
    n = d.n_nodes
    x = {c: _LETTERS[3 * (c - 1)] for c in range(1, n)}
    y = {c: _LETTERS[3 * (c - 1) + 1] for c in range(1, n)}
    i = {c: _LETTERS[3 * (c - 1) + 2] for c in range(1, n)}
    slots = {v: ("" if v == 0 else x[v]) + "".join(y[c] for c in d.children[v]) for v in range(n)}
    operands, specs = [], []
    out = "".join(i[c] for c in range(1, n))
    for members in d.part_members:
        if root == "displacement" and 0 in members:
            out += y[d.children[0][0]]
            continue
        operands.append(evaluator.part_tensor(d, members))
        specs.append("".join(slots[v] for v in members))
    for c in range(1, n):
        operands += [W, W]
        specs += [x[c] + i[c], y[c] + i[c]]
    if not operands:
        return np.asarray(evaluator.part_cumulant((0,)))
    return np.einsum(",".join(specs) + "->" + out, *operands, optimize="greedy")


# -- the schedule side: geometric history sums ------------------------------------------------------
@dataclass
class _GeoSweep:
    m: int
    states: list[int]
    full: int
    tied_parts: list[tuple[int, ...]]
    root_shared: bool
    # transitions: (from, to, tied counts, open-edge list)
    transitions: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]]


@lru_cache(maxsize=1024)
def _geo_sweep(d: Diagram) -> _GeoSweep:
    m = d.n_edges
    kids = d.children
    members: dict[int, list[int]] = defaultdict(list)
    for v in range(1, m + 1):
        members[d.parts[v]].append(v)
    tied = [tuple(vs) for _, vs in sorted(members.items()) if len(vs) >= 2]
    tied_of = {v: k for k, vs in enumerate(tied) for v in vs}
    child_mask = [0] * (m + 1)
    for v in range(1, m + 1):
        for c in kids[v]:
            child_mask[v] |= 1 << (c - 1)
    states = [s for s in range(1 << m) if all(
        not (s >> (v - 1)) & 1 or (s & child_mask[v]) == child_mask[v] for v in range(1, m + 1))]
    index = {s: k for k, s in enumerate(states)}
    trans = []
    for s in states:
        avail = [v for v in range(1, m + 1) if not (s >> (v - 1)) & 1 and (s & child_mask[v]) == child_mask[v]]
        for r in range(len(avail) + 1):
            for placed in itertools.combinations(avail, r):
                target = s | sum(1 << (v - 1) for v in placed)
                counts = [0] * len(tied)
                for v in placed:
                    if v in tied_of:
                        counts[tied_of[v]] += 1
                # edge of child c is open during this step if c was placed before and its parent after
                open_edges = tuple(
                    c for c in range(1, m + 1)
                    if (s >> (c - 1)) & 1 and (d.parents[c] == 0 or not (target >> (d.parents[c] - 1)) & 1)
                )
                trans.append((index[s], index[target], tuple(counts), open_edges))
    return _GeoSweep(m, states, index[(1 << m) - 1], tied, not d.root_alone, trans)


def _matrices(sw: _GeoSweep, q: np.ndarray):
    """Idle matrix and event matrices (per tied-count vector), stacked over assignments.

    ``q`` has shape (nA, m): the per-step factor of each edge (indexed by child−1).
    """
    nA = q.shape[0]
    ns = len(sw.states)
    zero = tuple([0] * len(sw.tied_parts))
    mats: dict[tuple[int, ...], np.ndarray] = {}
    for a, b, counts, open_edges in sw.transitions:
        w = np.prod(q[:, [c - 1 for c in open_edges]], axis=1) if open_edges else np.ones(nA)
        mat = mats.setdefault(counts, np.zeros((nA, ns, ns)))
        mat[:, a, b] += w
    return mats.pop(zero), mats


def _power_apply(v: np.ndarray, powers: list[np.ndarray], gaps: np.ndarray) -> np.ndarray:
    """v[:, q] ← v[:, q] · A^{gaps[q]} by binary lifting; v (nA, Q, ns), powers[j] = A^{2^j} (nA, ns, ns)."""
    g = gaps.copy()
    for j, P in enumerate(powers):
        bit = (g >> j) & 1
        if not bit.any():
            continue
        sel = np.flatnonzero(bit)
        v[:, sel] = np.einsum("aqs,ast->aqt", v[:, sel], P)
    return v


def geometric_history_sum(d: Diagram, schedule: Schedule, q: np.ndarray) -> np.ndarray:
    """S_D(i) = Σ_f Π_nodes 1/|B_t| · Π_e q_e^{Δt_e−1} / |Aut(D)| for each row of ``q`` (nA, d).

    With q ≡ 1 this is :func:`~sgd_diagrams.schedules.histories.history_count`.
    """
    sw = _geo_sweep(d)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    nA = q.shape[0]
    T = schedule.T
    if sw.m == 0:
        return np.ones(nA)
    idle, events = _matrices(sw, q)
    ns = len(sw.states)
    if not sw.tied_parts:
        total = np.linalg.matrix_power(idle, T)[:, 0, sw.full]
    else:
        total = _tied_geometric(sw, schedule, idle, events, nA, ns)
    if sw.root_shared:
        total = total / schedule.N
    return total / d.automorphisms


def _tied_geometric(sw, schedule, idle, events, nA, ns):
    rows, mults = _row_groups(schedule, False)
    T = schedule.T
    k = len(sw.tied_parts)
    # Fast path: one tied part, every row a single cell, all batches of one size B, every column full.
    sizes = schedule.batch_sizes
    if k == 1 and all(len(t) == 1 for t, _ in rows) and len(set(sizes.tolist())) == 1:
        B = int(sizes[0])
        E = sum(mat * (1.0 / B) ** counts[0] for counts, mat in events.items())
        block = np.zeros((nA, 2 * ns, 2 * ns))
        block[:, :ns, :ns] = idle
        block[:, ns:, ns:] = idle
        block[:, :ns, ns:] = E
        corner = np.linalg.matrix_power(block, T)[:, :ns, ns:]
        return B * corner[:, 0, sw.full]
    powers = [idle]
    while (1 << len(powers)) <= T:
        powers.append(powers[-1] @ powers[-1])
    total = np.zeros(nA)
    batches: dict[int, list] = defaultdict(list)
    for combo in itertools.product(range(len(rows)), repeat=k):
        lookup = [dict(zip(rows[g][0], rows[g][1], strict=True)) for g in combo]
        times = sorted(set().union(*(rows[g][0] for g in combo)))
        weights = [[lk.get(t, 0.0) for t in times] for lk in lookup]
        mult = float(np.prod([mults[g] for g in combo]))
        batches[len(times)].append((times, weights, mult))
    for n_events, items in batches.items():
        Q = len(items)
        times = np.array([it[0] for it in items], dtype=np.int64).reshape(Q, n_events)
        wts = [np.array([it[1][j] for it in items]).reshape(Q, n_events) for j in range(k)]
        mult = np.array([it[2] for it in items])
        v = np.zeros((nA, Q, ns))
        v[:, :, 0] = 1.0
        prev = np.full(Q, -1, dtype=np.int64)
        consecutive = n_events > 1 and np.all(np.diff(times, axis=1) == 1)
        constant = all(np.all(w == w[:, :1]) for w in wts)
        if consecutive and constant and Q <= 64:
            # One run of identical steps (GD): a single matrix power per row tuple.
            v = _power_apply(v, powers, times[:, 0] - prev - 1)
            for q_index in range(Q):
                step = idle.copy()
                for counts, mat in events.items():
                    coef = 1.0
                    for j, c in enumerate(counts):
                        if c:
                            coef *= wts[j][q_index, 0] ** c
                    step = step + mat * coef
                v[:, q_index] = np.einsum("as,ast->at", v[:, q_index], np.linalg.matrix_power(step, n_events))
            v = _power_apply(v, powers, T - times[:, -1] - 1)
            total += (v[:, :, sw.full] * mult[None]).sum(axis=1)
            continue
        for e in range(n_events):
            v = _power_apply(v, powers, times[:, e] - prev - 1)
            new = np.einsum("aqs,ast->aqt", v, idle)
            for counts, mat in events.items():
                coef = np.ones(Q)
                for j, c in enumerate(counts):
                    if c:
                        coef = coef * wts[j][:, e] ** c
                new += np.einsum("aqs,ast->aqt", v, mat) * coef[None, :, None]
            v = new
            prev = times[:, e]
        v = _power_apply(v, powers, T - prev - 1)
        total += (v[:, :, sw.full] * mult[None]).sum(axis=1)
    return total


def continuous_history_sum(d: Diagram, schedule: Schedule, rates: np.ndarray) -> np.ndarray:
    """Remark 1: Σ over histories → ∫ over times, (1−ηλ)^{Δt−1} → e^{−ηλΔt}, for one-epoch schedules.

    ``rates`` (nA, d) are ηλ per edge.  Nodes alone in their part arrive at rate 1 per
    step; a tied part of k nodes (one epoch: they share one cell) arrives at once with
    rate B^{1−k}; an open edge decays at its rate.  Value = [exp(T·Gen)]_{∅, all}.
    """
    sizes = schedule.batch_sizes
    cells = schedule.grid().sum(axis=1)
    if np.any(cells > 1) or len(set(sizes.tolist())) != 1:
        raise SgdDiagramsError("the continuous-time approximation needs a one-epoch schedule with one batch size")
    B = int(sizes[0])
    sw = _geo_sweep(d)
    rates = np.atleast_2d(np.asarray(rates, dtype=np.float64))
    nA = rates.shape[0]
    if sw.m == 0:
        return np.ones(nA)
    ns = len(sw.states)
    tied_sizes = [len(p) for p in sw.tied_parts]
    gen = np.zeros((nA, ns, ns))
    for a, b, counts, _open in sw.transitions:
        if a == b:
            continue
        placed = sw.states[b] & ~sw.states[a]
        n_placed = bin(placed).count("1")
        tied_placed = sum(counts)
        # a legal continuous move places one singleton, or one whole tied part at once
        whole = [j for j, c in enumerate(counts) if c]
        if tied_placed == 0 and n_placed == 1:
            gen[:, a, b] += 1.0
        elif len(whole) == 1 and counts[whole[0]] == tied_sizes[whole[0]] == n_placed:
            gen[:, a, b] += float(B) ** (1 - tied_sizes[whole[0]])
    for s_index, s in enumerate(sw.states):
        open_edges = [c for c in range(1, sw.m + 1) if (s >> (c - 1)) & 1
                      and (d.parents[c] == 0 or not (s >> (d.parents[c] - 1)) & 1)]
        gen[:, s_index, s_index] -= rates[:, [c - 1 for c in open_edges]].sum(axis=1) if open_edges else 0.0
    T = schedule.T
    out = np.array([scipy.linalg.expm(T * g)[0, sw.full] for g in gen])
    if sw.root_shared:
        out = out / schedule.N
    return out / d.automorphisms


# -- predictions ----------------------------------------------------------------------------------
@dataclass
class ResummedPrediction:
    """Resummed E[quantity] at each η (vectors for displacement), with per-order parts."""

    quantity: str
    order: int
    eta: np.ndarray
    value: np.ndarray
    by_order: np.ndarray  # (order+1, len(eta)[, dim])


def _diagrams(quantity: str, edges: int, linkless: bool = True):
    kind = {"test-loss": "test", "train-loss": "train", "gen-gap": "train", "displacement": "displacement"}[quantity]
    ds = enumerate_diagrams(edges, kind, linkless=linkless)
    if quantity == "gen-gap":
        ds = tuple(d for d in ds if not d.root_alone)
    return ds


def resummed_prediction(landscape, schedule: Schedule, order: int, etas, quantity: str = "test-loss",
                        metric: np.ndarray | None = None, continuous: bool = False,
                        root_tensors: list[np.ndarray] | None = None,
                        evaluator: UvalueEvaluator | None = None) -> ResummedPrediction:
    """Theorem 1 resummed to ``order`` edges at each η in ``etas`` (Remark 1 if ``continuous``).

    ``root_tensors``: measure a deterministic s with derivatives [s, ∇s, …] instead of the test loss.
    ``evaluator``: use its part cumulants (e.g. estimated ones) instead of the landscape's exact
    ones; H is then ``evaluator.part_cumulant((2,))`` and only ``landscape.dim`` is read.
    """
    if quantity not in QUANTITIES:
        raise SgdDiagramsError(f"unknown quantity {quantity!r}; use one of {', '.join(QUANTITIES)}")
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 5:
        raise SgdDiagramsError(f"order must be an integer from 0 to 5, got {order!r}")
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if not np.all(np.isfinite(etas)):
        raise SgdDiagramsError("every eta must be a finite number")
    if evaluator is None:
        evaluator = UvalueEvaluator(landscape, max(order, 2), metric, root_tensors=root_tensors)
        H = landscape.mean_derivative(2)
    else:
        H = evaluator.part_cumulant((2,))
    lam, W = eigen_propagator_basis(H, metric)
    root = "displacement" if quantity == "displacement" else "loss"
    sign = -1.0 if quantity == "gen-gap" else 1.0
    dim = landscape.dim
    shape = (order + 1, len(etas)) + ((dim,) if root == "displacement" else ())
    by_order = np.zeros(shape)
    _warn_if_growing(lam, etas, schedule.T)
    for k in range(order + 1):
        for d in _diagrams(quantity, k):
            U = projected_uvalue(evaluator, d, W, root=root)
            labels = list(itertools.product(range(dim), repeat=k))
            flat = U.reshape((dim**k,) + U.shape[k:]) if k else U.reshape((1,) + U.shape)
            for e_index, eta in enumerate(etas):
                if k == 0:
                    S = np.ones(1)
                elif continuous:
                    S = continuous_history_sum(d, schedule, eta * lam[np.array(labels)])
                else:
                    S = geometric_history_sum(d, schedule, 1.0 - eta * lam[np.array(labels)])
                contrib = np.tensordot(S, flat, axes=(0, 0)) * (-eta) ** k
                by_order[k, e_index] += sign * contrib
    return ResummedPrediction(quantity, order, etas, by_order.sum(axis=0), by_order)


def _warn_if_growing(lam: np.ndarray, etas: np.ndarray, T: int) -> None:
    """Error when η·λ_max > 2 (descent itself diverges); warn when some (1 − ηλ)^t grows."""
    lmax = float(np.max(lam)) if len(lam) else 0.0
    if lmax > 0 and T > 1 and np.any(etas * lmax > 2.0):
        raise SgdDiagramsError(
            f"eta too large for the series: eta*lambda_max > 2 (lambda_max = {lmax:.6g}) makes (1 - eta*H)^t "
            f"diverge; use eta < {2.0 / lmax:.6g}"
        )
    q = np.abs(1.0 - np.outer(etas, lam))
    bad = etas[np.any(q > 1.0 + 1e-12, axis=1)]
    if len(bad) and T > 1:
        warnings.warn(
            f"propagators (1 − ηλ)^t grow for eta in {bad.tolist()} (Hessian eigenvalues {np.round(lam, 6).tolist()}): "
            "the resummed series is outside its decaying range; expect large errors for large T",
            RuntimeWarning, stacklevel=3,
        )
