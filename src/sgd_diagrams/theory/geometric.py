"""The schedule side of resummation: geometric (and continuous-time) history sums.

Seed 001 §"Re-summation cures large-T divergences": in the eigenbasis of the
propagator (:mod:`sgd_diagrams.theory.propagators`) an rvalue is Σ_i U_D[i]·S_D(i)
with the *geometric history sum*

    S_D(i) = Σ_f w(f) Π_e q_{i_e}^{Δt_e−1} / |Aut(D)|,   q = 1 − ηλ,

over histories f (seed 001 App. A.3) with node weights w(f) = Π 1/|B_t|.  S_D
is the history sweep of :func:`sgd_diagrams.schedules.sweep.history_sweep` with
each time step weighted by q_e for every edge "open" during it (child placed
before, parent after); with q ≡ 1 it is
:func:`~sgd_diagrams.schedules.histories.history_count`.  Idle stretches become
matrix powers (binary lifting); for one-epoch schedules the sum over the single
event of a tied part is one block-matrix power (Σ_t A^t E A^{T−1−t} is the corner
of [[A, E], [0, A]]^T), and a run of identical consecutive events (GD) is one
matrix power.  Cost grows like log T.

Per-step learning-rate multipliers m_t (``schedule.lr``) make the propagators time-dependent,
Π_{s<t<u} (1 − η m_t λ) · η m_s for an edge from step s to u: a dense sweep over the T steps
(:func:`_lr_geometric`).  Heavy-ball momentum replaces each propagator by the response of the
linearised heavy ball, a product of 2×2 transfer matrices [[β, λ], [−η m_t β, 1 − η m_t λ]], summed as
paths of a pending/applied edge state (:func:`_heavy_ball_geometric`).

Remark 1's continuous-time approximation replaces (1−ηλ)^{Δt−1} by e^{−ηλΔt}
and sums by integrals; for one-epoch schedules it is the same sweep with a
generator: :func:`continuous_history_sum`.

The sums of every prefix of the schedule (a training curve) come from the same sweeps read at every recorded
step: :mod:`sgd_diagrams.theory.geometric_prefixes`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from functools import lru_cache

import numpy as np
import scipy.linalg

from ..diagrams import Diagram
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule
from ..schedules.histories import cells_by_step, event_weight, row_groups, row_tuples
from ..schedules.sweep import HistorySweep, history_sweep, kernel_moves

__all__ = ["continuous_generator", "continuous_history_sum", "geometric_history_sum"]


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
    sw = history_sweep(d)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    nA = q.shape[0]
    T = schedule.T
    if sw.m == 0:
        return np.ones(nA)
    if schedule.momentum:
        total = _heavy_ball_geometric(d, schedule, q)
        if sw.root_shared:
            total = total / schedule.N
        return total / d.automorphisms
    if schedule.lr is not None:
        total = _lr_geometric(sw, schedule, q)
        if sw.root_shared:
            total = total / schedule.N
        return total / d.automorphisms
    idle, events = sw.step_matrices(q)
    ns = len(sw.states)
    if not sw.tied_parts:
        total = np.linalg.matrix_power(idle, T)[:, 0, sw.full]
    else:
        total = _tied_geometric(sw, schedule, idle, events, nA, ns)
    if sw.root_shared:
        total = total / schedule.N
    return total / d.automorphisms


def _tied_geometric(sw: HistorySweep, schedule: Schedule, idle: np.ndarray,
                    events: dict[tuple[int, ...], np.ndarray], nA: int, ns: int) -> np.ndarray:
    """S_D·|Aut(D)| (before the 1/N of a shared root) for a diagram with tied parts.

    Sums over row tuples of the tied parts (:func:`~sgd_diagrams.schedules.histories.row_groups`);
    between a tuple's events (the cells that matter) the sweep applies powers of ``idle``.
    """
    rows, mults = row_groups(schedule, False)
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
                new += np.einsum("aqs,ast->aqt", v, mat) * event_weight(counts, wts, e)[None, :, None]
            v = new
            prev = times[:, e]
        v = _power_apply(v, powers, T - prev - 1)
        total += (v[:, :, sw.full] * mult[None]).sum(axis=1)
    return total


def _lr_geometric(sw: HistorySweep, schedule: Schedule, q: np.ndarray, steps: np.ndarray | None = None
                  ) -> np.ndarray:
    """S_D·|Aut(D)| with per-step multipliers m_t: the edge from step s to u weighs m_s Π_{s<t<u}(1 − m_t ηλ).

    The propagator of a time-dependent learning rate is Π_t (I − η m_t H) (seed 001 §"Re-summation",
    with η → η m_t per step); ``q`` = 1 − ηλ per edge, so 1 − η m_t λ = 1 − m_t (1 − q).  Each node placed
    at step t brings its m_t (the η m_t of its edge; the caller multiplies by (−η)^d).  A dense sweep
    over the T steps, vectorized over eigen-labels and the tied parts' row tuples.  With ``steps`` (sorted,
    in 0..T) the sweep is read after every recorded step: (len(steps), nA), the sums of every prefix.
    """
    T, ns, nA = schedule.T, sw.n_states, q.shape[0]
    mt = schedule.lr_multipliers()
    rates = 1.0 - q  # ηλ per edge, (nA, m)
    groups: dict[tuple[int, ...], list] = {}
    for a, b, counts, open_edges in sw.transitions:
        placed = bin(sw.states[b] & ~sw.states[a]).count("1")
        mask = np.zeros(sw.m, dtype=bool)
        mask[[c - 1 for c in open_edges]] = True
        groups.setdefault(counts, []).append((a * ns + b, placed, mask))
    tables = {}
    for counts, items in groups.items():
        onehot = np.zeros((len(items), ns * ns))
        onehot[np.arange(len(items)), [it[0] for it in items]] = 1.0
        tables[counts] = (onehot, np.array([it[1] for it in items]), np.array([it[2] for it in items]))

    def step_matrix(counts: tuple[int, ...], t: int) -> np.ndarray:
        onehot, placed, mask = tables[counts]
        factors = np.where(mask[None], 1.0 - mt[t] * rates[:, None, :], 1.0)  # (nA, n_trans, m)
        w = np.prod(factors, axis=2) * mt[t] ** placed[None]
        return (w @ onehot).reshape(nA, ns, ns)

    k = len(sw.tied_parts)
    combos, mult, cells, wvec = _tied_rows(schedule, k)
    Q = len(mult)
    zero = sw.zero_counts
    v = np.zeros((nA, Q, ns))
    v[:, :, 0] = 1.0
    reader = _PrefixReader(steps, T, nA)
    reader.read(0, v, sw.full, mult)
    for t in range(reader.last):
        new = np.einsum("aqs,ast->aqt", v, step_matrix(zero, t))
        if k and len(cells[t][0]):
            gs, ws = cells[t]
            wvec[gs] = ws
            w_parts = wvec[combos]
            for counts in tables:
                if counts == zero:
                    continue
                coef = np.ones(Q)
                for i, c in enumerate(counts):
                    if c:
                        coef = coef * w_parts[:, i] ** c
                sel = np.flatnonzero(coef)
                if len(sel):
                    new[:, sel] += np.einsum("aqs,ast->aqt", v[:, sel], step_matrix(counts, t)) * coef[None, sel, None]
            wvec[gs] = 0.0
        v = new
        reader.read(t + 1, v, sw.full, mult)
    return reader.result()


class _PrefixReader:
    """Records Σ_q mult_q·v[:, q, full] after the recorded steps of a dense sweep (every prefix's sum).

    ``steps`` None: only the end T, and :meth:`result` is (nA,) as for the final point; otherwise
    (len(steps), nA) and the sweep can stop at :attr:`last`, the largest recorded step.
    """

    def __init__(self, steps: np.ndarray | None, T: int, nA: int) -> None:
        self.final = steps is None
        self.steps = np.array([T] if steps is None else steps, dtype=np.int64)
        self.last = int(self.steps.max(initial=0))
        self.rows: dict[int, np.ndarray] = {}
        self.want = set(self.steps.tolist())
        self.nA = nA

    def read(self, t: int, v: np.ndarray, full: int, mult: np.ndarray) -> None:
        if t in self.want:
            self.rows[t] = (v[:, :, full] * mult[None]).sum(axis=1)

    def result(self) -> np.ndarray:
        out = np.stack([self.rows[int(t)] for t in self.steps]) if len(self.steps) else np.zeros((0, self.nA))
        return out[0] if self.final else out


def _tied_rows(schedule: Schedule, k: int):
    """The k tied parts' row tuples (combos, multiplicities), their cells per step and a scratch weight vector.

    Without tied parts (k = 0): one empty tuple of multiplicity 1, no cells, no weight vector.
    """
    if k:
        combos, mult, rows = row_tuples(schedule, k)
        return combos, mult, cells_by_step(rows, schedule.T), np.zeros(len(rows))
    return np.zeros((1, 0), dtype=np.int64), np.ones(1), None, None


def _heavy_ball_geometric(d: Diagram, schedule: Schedule, q: np.ndarray, steps: np.ndarray | None = None
                          ) -> np.ndarray:
    """S_D·|Aut(D)| for heavy-ball momentum: every edge carries the resummed heavy-ball response.

    Linearised heavy ball with Hessian eigenvalue λ (the links resummed): a unit gradient read at step s
    starts a buffer b_s = 1, and for t > s, b_t = β b_{t−1} + λ x_t, x_{t+1} = x_t − η m_t b_t; the
    parent at step u reads x_u.  In units y = −x/η the per-step 2×2 transfer matrix is a path sum over
    an edge state *pending* (b) or *applied* (y): first the gradient move (b ← β b − ηλ y: pending stays
    with β, applied feeds back into pending with −ηλ), then placements, then the application move
    (y ← y + m_t b: pending moves to applied with m_t or stays).  With λ = 0 this is the kernel
    k(s, u) = Σ_t m_t β^{t−s} of the Taylor form; with β = 0 it is m_s Π_{s<t<u}(1 − η m_t λ).
    The moves are :class:`~sgd_diagrams.schedules.sweep.KernelMoves`; a dense sweep over the T steps,
    vectorized over eigen-labels and the tied parts' row tuples; ``steps`` reads it after every recorded
    step, as in :func:`_lr_geometric`.
    """
    mv = kernel_moves(d)
    T, nA = schedule.T, q.shape[0]
    mt = schedule.lr_multipliers()
    beta = schedule.momentum
    feedback_weight = q - 1.0  # −ηλ per edge, (nA, m)
    k = len(mv.tied_parts)
    combos, mult, cells, wvec = _tied_rows(schedule, k)
    Q = len(mult)
    x = np.zeros((nA, Q, mv.n_states))
    x[:, :, mv.start] = 1.0
    reader = _PrefixReader(steps, T, nA)
    reader.read(0, x, mv.full, mult)
    for t in range(reader.last):
        for c, ((pending, _), (applied, back)) in enumerate(zip(mv.apply, mv.feedback, strict=True)):
            moved = x[:, :, applied] * feedback_weight[:, c, None, None]
            x[:, :, pending] *= beta
            x[:, :, back] += moved
        w_parts = None
        if k and len(cells[t][0]):
            gs, ws = cells[t]
            wvec[gs] = ws
            w_parts = wvec[combos]
            wvec[gs] = 0.0
        for src, dst, tied in mv.place:
            if tied < 0:
                x[:, :, dst] += x[:, :, src]
            elif w_parts is not None:
                sel = np.flatnonzero(w_parts[:, tied])
                if len(sel):
                    x[:, sel[:, None], dst] += x[:, sel[:, None], src] * w_parts[sel, tied][None, :, None]
        for pending, dst in mv.apply:
            x[:, :, dst] += x[:, :, pending] * mt[t]
        reader.read(t + 1, x, mv.full, mult)
    return reader.result()


def continuous_history_sum(d: Diagram, schedule: Schedule, rates: np.ndarray) -> np.ndarray:
    """Remark 1: Σ over histories → ∫ over times, (1−ηλ)^{Δt−1} → e^{−ηλΔt}, for one-epoch schedules.

    ``rates`` (nA, d) are ηλ per edge.  Nodes alone in their part arrive at rate 1 per
    step; a tied part of k nodes (one epoch: they share one cell) arrives at once with
    rate B^{1−k}; an open edge decays at its rate.  Value = [exp(T·Gen)]_{∅, all}.
    """
    sw, gen = continuous_generator(d, schedule, rates)
    if gen is None:
        return np.ones(np.atleast_2d(rates).shape[0])
    T = schedule.T
    out = np.array([scipy.linalg.expm(T * g)[0, sw.full] for g in gen])
    if sw.root_shared:
        out = out / schedule.N
    return out / d.automorphisms


@lru_cache(maxsize=8)
def _one_epoch_batch_size(schedule: Schedule) -> int:
    """B of a plain one-epoch schedule with one batch size (the continuous form's domain); refuses others.

    Checked once per schedule (O(cells), without the dense N×T grid), not once per diagram."""
    if not schedule.plain:
        raise SgdDiagramsError("the continuous-time form needs a constant learning rate without momentum; use the "
                               "resummed form (lr multipliers) or the Taylor form (momentum)")
    sizes = schedule.batch_sizes
    rows = np.fromiter(itertools.chain.from_iterable(schedule.batches), dtype=np.int64, count=int(sizes.sum()))
    if np.any(np.bincount(rows, minlength=schedule.N) > 1) or len(set(sizes.tolist())) != 1:
        raise SgdDiagramsError("the continuous-time approximation needs a one-epoch schedule with one batch size")
    return int(sizes[0])


def continuous_generator(d: Diagram, schedule: Schedule, rates: np.ndarray
                         ) -> tuple[HistorySweep, np.ndarray | None]:
    """(sweep, Gen (nA, ns, ns)) of Remark 1's continuous-time sum; Gen is None for a diagram without edges.

    Gen is a Metzler matrix (arrival rates ≥ 0 off the diagonal, minus the open edges' decay rates on it),
    so exp(t·Gen) is entrywise non-negative.  Refuses schedules the continuous form does not cover.
    """
    B = _one_epoch_batch_size(schedule)
    sw = history_sweep(d)
    rates = np.atleast_2d(np.asarray(rates, dtype=np.float64))
    nA = rates.shape[0]
    if sw.m == 0:
        return sw, None
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
        open_edges = sw.open_edges(s, s)
        gen[:, s_index, s_index] -= rates[:, [c - 1 for c in open_edges]].sum(axis=1) if open_edges else 0.0
    return sw, gen
