"""Geometric history sums of every prefix of a schedule in one sweep: the resummed training curve.

The resummed value after t steps is Theorem 1's rvalue sum on ``schedule.prefix(t)`` (seed 001 §"Re-summation
cures large-T divergences"; a prefix of a grid is a grid, App. A.2).  Its schedule side is the geometric history
sum S_D(i) of :mod:`.geometric`: a sweep over time whose state after step t − 1, read at the full state, is the
sum of the prefix of length t (the root then sits at t, so the last edge's propagator runs to t).  So every
prefix comes from one forward sweep, read at the recorded steps:

* constant learning rate, no tied parts: S(t) = [A^t]_{∅, full} for the weighted idle matrix A; one tied part
  of a one-epoch schedule with one batch size: S(t) = B·[M^t]_{∅, full'} for the block matrix
  M = [[A, E], [0, A]] (the corner of M^t is Σ_{s<t} A^s E A^{t−1−s}); GD (one row group shaded at every step
  with one weight): S(t) = mult·[M^t]_{∅, full} for the constant step matrix M.  All read e₀·M^t·e_full at
  every recorded t by baby steps and giant steps, t = j·b + r with b = ⌊√t_max⌋ + 1:
  e₀·M^{jb} (giant rows) times M^r·e_full (baby columns), each family built by doubling in O(log T) batched
  products (:class:`PowerFactors`) — O(√T) vector–matrix work plus O(1) per recorded step, against the final
  point's O(log T) matrix products.  A resummed curve folds its weights (−η)^k·U_D over the eigen-labels into
  the giant rows (:meth:`PowerFactors.weighted`): every step of the curve is then one (T/b, labels·states) @
  (labels·states, b) product per η, with no array of size steps × labels.
* other tied parts (explicit grids, several epochs): the sum over row tuples of the sweep's states obeys
  S(t + 1) = S(t)·A + C_t, C_t = Σ_{tuples q with an event at t} mult_q·v_q(t)·(M_{q,t} − A); the tuples'
  event sweep is the final point's (binary-lifted idle powers between events), then one dense pass over t.
* lr multipliers and heavy-ball momentum: the final point's dense sweeps, read after every recorded step.
* Remark 1's continuous-time form: [exp(t·Gen)]_{∅, full}; Gen is a Metzler matrix, so exp(Gen)^r and
  exp(b·Gen)^j are non-negative and their products lose no digits to cancellation: the same baby/giant steps.

Each function returns (len(steps), nA): row i is the final-point function on ``schedule.prefix(steps[i])``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..diagrams import Diagram
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule, require_concrete
from ..schedules.histories import event_weight, row_groups, tied_event_batches
from ..schedules.sweep import HistorySweep, history_sweep
from .geometric import _heavy_ball_geometric, _lr_geometric, _power_apply, continuous_generator

__all__ = ["PowerFactors", "check_prefix_steps", "continuous_prefix_factors", "continuous_prefix_sums",
           "geometric_prefix_factors", "geometric_prefix_sums", "power_entries", "power_factors"]

_CHUNK = 4096  # recorded steps combined per einsum (bounds the gathered (steps, nA, n) arrays)


def check_prefix_steps(schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    """``steps`` as an int64 array, refused unless sorted within 0..T."""
    steps = np.asarray(steps, dtype=np.int64).reshape(-1)
    if len(steps) and (steps.min() < 0 or steps.max() > schedule.T or np.any(np.diff(steps) < 0)):
        raise SgdDiagramsError(f"prefix steps must be sorted step numbers in 0..{schedule.T}")
    return steps


def geometric_prefix_sums(d: Diagram, schedule: Schedule, q: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """:func:`~.geometric.geometric_history_sum` on ``schedule.prefix(t)`` for every t in ``steps``: (len(steps), nA).

    ``q`` (nA, m) = 1 − ηλ per edge as in the final point; ``steps`` sorted, in 0..T.  One sweep (module doc).
    """
    require_concrete(schedule, "a resummed curve")
    steps = check_prefix_steps(schedule, steps)
    sw = history_sweep(d)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    nA = q.shape[0]
    if sw.m == 0:
        return np.ones((len(steps), nA))
    if not len(steps):
        return np.zeros((0, nA))
    factors = geometric_prefix_factors(d, schedule, q, int(steps.max()))
    if factors is not None:
        return factors.entries(steps)
    if schedule.momentum:
        total = _heavy_ball_geometric(d, schedule, q, steps)
    elif schedule.lr is not None:
        total = _lr_geometric(sw, schedule, q, steps)
    else:
        idle, events = sw.step_matrices(q)
        total = _tied_prefix_sweep(sw, schedule, idle, events, steps)
    if sw.root_shared:
        total = total / schedule.N
    return total / d.automorphisms


def geometric_prefix_factors(d: Diagram, schedule: Schedule, q: np.ndarray, t_max: int) -> PowerFactors | None:
    """The prefix sums S_D(t), t ≤ ``t_max``, as e₀·M^t·e_full factors (constant lr: no tied parts, one tied part
    of a one-epoch schedule with one batch size, GD), or None where the sums need a dense sweep (lr multipliers,
    momentum, other tied parts) or D has no edge."""
    sw = history_sweep(d)
    if sw.m == 0 or not schedule.plain:
        return None
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    nA, ns = q.shape[0], sw.n_states
    scale = (1.0 / schedule.N if sw.root_shared else 1.0) / d.automorphisms
    if not sw.tied_parts:
        idle, _ = sw.step_matrices(q)
        return power_factors(idle, 0, sw.full, t_max, scale=scale)
    sizes = schedule.batch_sizes
    rows, mults = row_groups(schedule, False)
    if len(sw.tied_parts) == 1 and all(len(t) == 1 for t, _ in rows) and len(set(sizes.tolist())) == 1:
        B = int(sizes[0])  # one epoch, one batch size: the block-matrix corner (see :mod:`.geometric`)
        idle, events = sw.step_matrices(q)
        E = sum(mat * (1.0 / B) ** counts[0] for counts, mat in events.items())
        block = np.zeros((nA, 2 * ns, 2 * ns))
        block[:, :ns, :ns] = idle
        block[:, ns:, ns:] = idle
        block[:, :ns, ns:] = E
        return power_factors(block, 0, ns + sw.full, t_max, scale=B * scale)
    if len(rows) == 1 and rows[0].times == tuple(range(schedule.T)) and len(set(rows[0].weights)) == 1:
        w = float(rows[0].weights[0])  # GD: every tuple is the one row group, the same step matrix every step
        idle, events = sw.step_matrices(q)
        step = idle + sum(mat * w ** sum(counts) for counts, mat in events.items())
        return power_factors(step, 0, sw.full, t_max, scale=float(mults[0]) ** len(sw.tied_parts) * scale)
    return None


def _tied_prefix_sweep(sw: HistorySweep, schedule: Schedule, idle: np.ndarray, events: dict, steps: np.ndarray
                       ) -> np.ndarray:
    """S(t + 1) = S(t)·A + C_t over row tuples (module doc), read at every recorded t."""
    nA, ns = idle.shape[0], sw.n_states
    last = int(steps.max())
    powers = [idle]
    while (1 << len(powers)) <= max(last, 1):
        powers.append(powers[-1] @ powers[-1])
    corrections = np.zeros((last, nA, ns))  # C_t for t < last
    start_weight = 0.0
    for times, wts, mult in tied_event_batches(sw, schedule, exact=False):
        start_weight += float(mult.sum())
        keep = times[:, 0] < last  # tuples whose first event is past the last recorded step add nothing
        if not keep.any():
            continue
        times, wts, mult = times[keep], [w[keep] for w in wts], mult[keep]
        Q, n_events = times.shape
        v = np.zeros((nA, Q, ns))
        v[:, :, 0] = 1.0
        prev = np.full(Q, -1, dtype=np.int64)
        for e in range(n_events):
            live = times[:, e] < last
            if not live.any():
                break
            v = _power_apply(v, powers, np.where(live, times[:, e] - prev - 1, 0))
            extra = np.zeros_like(v)
            for counts, mat in events.items():
                extra += np.einsum("aqs,ast->aqt", v, mat) * event_weight(counts, wts, e)[None, :, None]
            sel = np.flatnonzero(live)
            np.add.at(corrections, times[sel, e], (extra[:, sel] * mult[None, sel, None]).transpose(1, 0, 2))
            v = np.einsum("aqs,ast->aqt", v, idle) + extra
            prev = np.where(live, times[:, e], prev)
    state = np.zeros((nA, ns))
    state[:, 0] = start_weight
    want = np.zeros(last + 1, dtype=bool)
    want[steps] = True
    recorded = {0: state[:, sw.full].copy()}
    for t in range(last):
        state = np.einsum("as,ast->at", state, idle) + corrections[t]
        if want[t + 1]:
            recorded[t + 1] = state[:, sw.full].copy()
    return np.stack([recorded[int(t)] for t in steps])


@dataclass(frozen=True)
class PowerFactors:
    """Baby and giant steps of [M^t]_{start, target}, t ≤ t_max (module doc): the entry at t = j·b + r is
    ``scale`` · Σ_n rows[j, a, n]·columns[r, a, n] for each weighting a (eigen-labels × η)."""

    rows: np.ndarray  # (⌊t_max/b⌋ + 1, nA, n): e_start·G^j, G = M^b
    columns: np.ndarray  # (b, nA, n): (M^r·e_target)ᵀ
    b: int
    scale: float

    def _dense(self, steps: np.ndarray) -> bool:
        """Most of 0..t_max recorded: the whole table [j·b + r] as one matrix product beats a gather."""
        return 4 * len(steps) >= self.rows.shape[0] * self.b

    def entries(self, steps: np.ndarray) -> np.ndarray:
        """The entries at every t in ``steps`` (≤ t_max): (len(steps), nA)."""
        steps = np.asarray(steps, dtype=np.int64)
        nA = self.rows.shape[1]
        if self._dense(steps):
            table = np.transpose(self.rows, (1, 0, 2)) @ np.transpose(self.columns, (1, 2, 0))  # (nA, j, r)
            return self.scale * table.reshape(nA, -1)[:, steps].T
        out = np.empty((len(steps), nA))
        for lo in range(0, len(steps), _CHUNK):
            chunk = steps[lo: lo + _CHUNK]
            out[lo: lo + _CHUNK] = np.einsum("san,san->sa", self.rows[chunk // self.b], self.columns[chunk % self.b])
        return self.scale * out

    def weighted(self, weights: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Σ_l weights[e, l, …]·entry(t)[(e, l)] for the weightings a = (e, l) (row-major): (len(steps), E, …).

        The weights are folded into the giant rows first, so a whole curve is one product over (l, n) per e,
        (t_max/b + 1, L·n) @ (L·n, b), and nothing of size len(steps) × L is formed."""
        steps = np.asarray(steps, dtype=np.int64)
        E, L, extra = weights.shape[0], weights.shape[1], weights.shape[2:]
        nb, _, n = self.rows.shape
        w = self.scale * weights.reshape(E, L, -1)
        X = w.shape[2]
        A = np.einsum("jeln,elx->exjln", self.rows.reshape(nb, E, L, n), w).reshape(E, X, nb, L * n)
        C = self.columns.reshape(self.b, E, L, n).transpose(1, 2, 3, 0).reshape(E, L * n, self.b)
        if self._dense(steps):
            table = (A @ C[:, None]).reshape(E, X, nb * self.b)[:, :, steps]  # (E, X, steps)
            out = np.transpose(table, (2, 0, 1))
        else:
            out = np.empty((len(steps), E, X))
            for lo in range(0, len(steps), _CHUNK):
                chunk = steps[lo: lo + _CHUNK]
                out[lo: lo + _CHUNK] = np.einsum("exsk,eks->sex", A[:, :, chunk // self.b],
                                                 C[:, :, chunk % self.b])
        return out.reshape((len(steps), E) + extra)


def power_factors(M: np.ndarray, start: int, target: int, t_max: int,
                  giant_of: Callable[[int], np.ndarray] | None = None, scale: float = 1.0) -> PowerFactors:
    """:class:`PowerFactors` of M (nA, n, n): b = ⌊√t_max⌋ + 1, giant step G = M^b (``giant_of(b)`` if given: e.g.
    exp(b·Gen) computed directly), both families built by doubling."""
    nA, n = M.shape[0], M.shape[1]
    b = math.isqrt(int(t_max)) + 1
    giant = np.linalg.matrix_power(M, b) if giant_of is None else giant_of(b)
    first = np.zeros((nA, n))
    first[:, start] = 1.0
    last = np.zeros((nA, n))
    last[:, target] = 1.0
    rows = _row_powers(first, giant, int(t_max) // b + 1)  # e_start·G^j
    columns = _row_powers(last, np.swapaxes(M, 1, 2), b)  # (M^r e_target)ᵀ
    return PowerFactors(rows, columns, b, float(scale))


def power_entries(M: np.ndarray, start: int, target: int, steps: np.ndarray,
                  giant_of: Callable[[int], np.ndarray] | None = None) -> np.ndarray:
    """[M^t]_{start, target} for every t in ``steps``: (len(steps), nA) for M (nA, n, n), baby/giant steps."""
    steps = np.asarray(steps, dtype=np.int64)
    if not len(steps):
        return np.zeros((0, M.shape[0]))
    return power_factors(M, start, target, int(steps.max()), giant_of).entries(steps)


def _row_powers(start: np.ndarray, M: np.ndarray, count: int) -> np.ndarray:
    """start·M^j for j = 0..count − 1: (count, nA, n), by doubling (⌈log₂ count⌉ batched products)."""
    out = np.empty((count,) + start.shape)
    out[0] = start
    have, power = 1, M  # power = M^have
    while have < count:
        take = min(have, count - have)
        out[have: have + take] = np.einsum("can,anm->cam", out[:take], power)
        have += take
        if have < count:
            power = power @ power
    return out


def continuous_prefix_sums(d: Diagram, schedule: Schedule, rates: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """:func:`~.geometric.continuous_history_sum` on ``schedule.prefix(t)`` for every t in ``steps``.

    [exp(t·Gen)]_{∅, full} by baby steps exp(Gen)^r and giant steps exp(b·Gen)^j (module doc): (len(steps), nA).
    """
    steps = check_prefix_steps(schedule, steps)
    nA = np.atleast_2d(rates).shape[0]
    if not len(steps):
        continuous_generator(d, schedule, rates)  # the same refusals as with steps
        return np.zeros((0, nA))
    factors = continuous_prefix_factors(d, schedule, rates, int(steps.max()))
    return np.ones((len(steps), nA)) if factors is None else factors.entries(steps)


def continuous_prefix_factors(d: Diagram, schedule: Schedule, rates: np.ndarray, t_max: int) -> PowerFactors | None:
    """[exp(t·Gen)]_{∅, full}, t ≤ ``t_max``, as :class:`PowerFactors` (baby steps exp(Gen), giant steps
    exp(b·Gen)); None for a diagram without edges.  Refuses schedules the continuous form does not cover."""
    sw, gen = continuous_generator(d, schedule, rates)
    if gen is None:
        return None
    scale = (1.0 / schedule.N if sw.root_shared else 1.0) / d.automorphisms
    return power_factors(scipy.linalg.expm(gen), 0, sw.full, t_max, giant_of=lambda b: scipy.linalg.expm(b * gen),
                         scale=scale)
