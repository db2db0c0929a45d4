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
  every recorded t by baby steps and giant steps, t = j·b + r with b = ⌈√(t_max + 1)⌉:
  e₀·M^{jb} (giant rows) times M^r·e_full (baby columns), each family built by doubling in O(log T) batched
  products — O(√T) vector–matrix work plus O(1) per recorded step, against the final point's O(log T)
  matrix products.
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

import numpy as np
import scipy.linalg

from ..diagrams import Diagram
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule, require_concrete
from ..schedules.histories import row_groups, tied_event_batches
from ..schedules.sweep import HistorySweep, history_sweep
from .geometric import _heavy_ball_geometric, _lr_geometric, _power_apply, continuous_generator

__all__ = ["continuous_prefix_sums", "geometric_prefix_sums", "power_entries"]

_CHUNK = 4096  # recorded steps combined per einsum (bounds the gathered (steps, nA, n) arrays)


def _check_prefix_steps(schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    steps = np.asarray(steps, dtype=np.int64).reshape(-1)
    if len(steps) and (steps.min() < 0 or steps.max() > schedule.T or np.any(np.diff(steps) < 0)):
        raise SgdDiagramsError(f"prefix steps must be sorted step numbers in 0..{schedule.T}")
    return steps


def geometric_prefix_sums(d: Diagram, schedule: Schedule, q: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """:func:`~.geometric.geometric_history_sum` on ``schedule.prefix(t)`` for every t in ``steps``: (len(steps), nA).

    ``q`` (nA, m) = 1 − ηλ per edge as in the final point; ``steps`` sorted, in 0..T.  One sweep (module doc).
    """
    require_concrete(schedule, "a resummed curve")
    steps = _check_prefix_steps(schedule, steps)
    sw = history_sweep(d)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    nA = q.shape[0]
    if sw.m == 0:
        return np.ones((len(steps), nA))
    if not len(steps):
        return np.zeros((0, nA))
    if schedule.momentum:
        total = _heavy_ball_geometric(d, schedule, q, steps)
    elif schedule.lr is not None:
        total = _lr_geometric(sw, schedule, q, steps)
    else:
        total = _plain_prefix_sums(sw, schedule, q, steps)
    if sw.root_shared:
        total = total / schedule.N
    return total / d.automorphisms


def _plain_prefix_sums(sw: HistorySweep, schedule: Schedule, q: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """S·|Aut| (before a shared root's 1/N) of every prefix of a constant-lr schedule."""
    idle, events = sw.step_matrices(q)
    nA, ns = q.shape[0], sw.n_states
    if not sw.tied_parts:
        return power_entries(idle, 0, sw.full, steps)
    sizes = schedule.batch_sizes
    rows, mults = row_groups(schedule, False)
    if len(sw.tied_parts) == 1 and all(len(t) == 1 for t, _ in rows) and len(set(sizes.tolist())) == 1:
        B = int(sizes[0])  # one epoch, one batch size: the block-matrix corner (see :mod:`.geometric`)
        E = sum(mat * (1.0 / B) ** counts[0] for counts, mat in events.items())
        block = np.zeros((nA, 2 * ns, 2 * ns))
        block[:, :ns, :ns] = idle
        block[:, ns:, ns:] = idle
        block[:, :ns, ns:] = E
        return B * power_entries(block, 0, ns + sw.full, steps)
    if len(rows) == 1 and rows[0].times == tuple(range(schedule.T)) and len(set(rows[0].weights)) == 1:
        w = float(rows[0].weights[0])  # GD: every tuple is the one row group, the same step matrix every step
        step = idle + sum(mat * w ** sum(counts) for counts, mat in events.items())
        return float(mults[0]) ** len(sw.tied_parts) * power_entries(step, 0, sw.full, steps)
    return _tied_prefix_sweep(sw, schedule, idle, events, steps)


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
                coef = np.ones(Q)
                for j, c in enumerate(counts):
                    if c:
                        coef = coef * wts[j][:, e] ** c
                extra += np.einsum("aqs,ast->aqt", v, mat) * coef[None, :, None]
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


def power_entries(M: np.ndarray, start: int, target: int, steps: np.ndarray,
                  giant_of: Callable[[int], np.ndarray] | None = None) -> np.ndarray:
    """[M^t]_{start, target} for every t in ``steps``: (len(steps), nA) for M (nA, n, n), baby/giant steps.

    t = j·b + r, b = ⌊√t_max⌋ + 1: e_start·G^j with G = M^b (``giant_of(b)`` if given: e.g. exp(b·Gen)
    computed directly) times M^r·e_target, both families built by doubling.
    """
    steps = np.asarray(steps, dtype=np.int64)
    nA, n = M.shape[0], M.shape[1]
    if not len(steps):
        return np.zeros((0, nA))
    b = math.isqrt(int(steps.max())) + 1
    giant = np.linalg.matrix_power(M, b) if giant_of is None else giant_of(b)
    first = np.zeros((nA, n))
    first[:, start] = 1.0
    last = np.zeros((nA, n))
    last[:, target] = 1.0
    rows = _row_powers(first, giant, int(steps.max()) // b + 1)  # e_start·G^j
    columns = _row_powers(last, np.swapaxes(M, 1, 2), b)  # (M^r e_target)ᵀ
    out = np.empty((len(steps), nA))
    for lo in range(0, len(steps), _CHUNK):
        chunk = steps[lo: lo + _CHUNK]
        out[lo: lo + _CHUNK] = np.einsum("san,san->sa", rows[chunk // b], columns[chunk % b])
    return out


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
    steps = _check_prefix_steps(schedule, steps)
    sw, gen = continuous_generator(d, schedule, rates)
    nA = np.atleast_2d(rates).shape[0]
    if gen is None:
        return np.ones((len(steps), nA))
    if not len(steps):
        return np.zeros((0, nA))
    out = power_entries(scipy.linalg.expm(gen), 0, sw.full, steps, giant_of=lambda b: scipy.linalg.expm(b * gen))
    if sw.root_shared:
        out = out / schedule.N
    return out / d.automorphisms
