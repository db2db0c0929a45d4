"""History counts of every prefix of a schedule in one sweep: the training curve's coefficients.

A prefix of a grid is a grid (seed 001 App. A.2): the first t steps of ``schedule`` with the same N rows,
and a history of D in it is a history in ``schedule`` whose nodes all sit before t, the root at t.  The
time sweep of :mod:`~sgd_diagrams.schedules.histories` runs forward in time, so the count of the prefix
of length t is the sweep's full-state weight after step t − 1; this module reads it at every requested t
for the price of one sweep.

Plain schedules (no lr multipliers, no momentum): between the events of the tied parts every step applies
the same idle matrix A = I + N₁ (N₁ nilpotent), so the *sum over all row tuples* of the sweep's states obeys

    S(t + 1) = S(t)·A + C_t,        C_t = Σ_{tuples q with an event at t} mult_q · v_q(t)·(M_{q,t} − A),

with v_q(t) tuple q's state before step t and M_{q,t} its event matrix.  Unrolled with A^g = Σ_k C(g, k) N₁^k,

    S(t) = Σ_k [C(t, k)·S(0) + W_k(t)]·N₁^k,     W_k = (exclusive cumulative sum)^{k+1} of C,

since Σ_{s<t} C(t−1−s, k) x_s is the (k+1)-fold exclusive running sum of x (Pascal's rule).  The cost is the
final count's event sweep (without its run compression) plus O(T·states·m) running sums: every prefix costs
about what the last one does.  Schedules with lr multipliers or momentum record the kernel sweep
(:func:`~sgd_diagrams.schedules.histories.kernel_prefix_counts`), which is already dense in time.
"""

from __future__ import annotations

import numpy as np

from ..diagrams.diagram import Diagram
from ..errors import SgdDiagramsError
from .grid import Schedule, require_concrete
from .histories import event_weight, kernel_prefix_counts, tied_event_batches
from .sweep import history_sweep

__all__ = ["check_every", "check_steps", "prefix_history_counts"]


def check_steps(steps: object, T: int, every: int | None = None) -> np.ndarray:
    """The recorded steps of a curve as a sorted int64 array that always holds 0 and T.

    ``steps``: ``"all"`` (every step 0..T, or every ``every``-th), or a list of step numbers in 0..T.
    """
    if isinstance(steps, str):
        if steps != "all":
            raise SgdDiagramsError(f"steps must be 'all' or a list of step numbers in 0..{T}, got {steps[:20]!r}")
        stride = 1 if every is None else check_every(every, T)
        grid = np.arange(0, T + 1, stride, dtype=np.int64)
        return grid if grid[-1] == T else np.append(grid, np.int64(T))
    else:
        if every is not None:
            raise SgdDiagramsError("every applies to steps='all'; with a list of steps give the steps themselves")
        try:
            items = list(steps)  # type: ignore[call-overload]
        except TypeError:
            raise SgdDiagramsError(f"steps must be 'all' or a list of step numbers in 0..{T}") from None
        bad = [x for x in items if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer))
               or not 0 <= x <= T]
        if bad:
            raise SgdDiagramsError(f"step {str(bad[0])[:20]!r} is not a step number in 0..{T}; list whole steps "
                                   "between 0 and the schedule's T")
        chosen = {int(x) for x in items}
    return np.array(sorted(chosen | {0, T}), dtype=np.int64)


def check_every(every: object, T: int, name: str = "every") -> int:
    """A recording stride K in 1..T (every K-th step, 0 and T always); K > T is refused, not clamped: it would
    silently record only 0 and T, which ``steps=[0, T]`` says plainly."""
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise SgdDiagramsError(f"{name} must be a positive integer (record every K-th step), got {every!r}")
    if every > max(T, 1):
        raise SgdDiagramsError(f"{name} = {every} is more than the schedule's T = {T} steps, so only steps 0 and T "
                               f"would be recorded; use a K between 1 and {T}")
    return int(every)


def prefix_history_counts(d: Diagram, schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    """``history_count(d, schedule.prefix(t))`` for every t in ``steps`` (sorted, in 0..T), float64, one sweep."""
    require_concrete(schedule, "a curve of history counts")
    steps = np.asarray(steps, dtype=np.int64)
    if not schedule.plain:
        return kernel_prefix_counts(d, schedule, steps)
    sw = history_sweep(d)
    if sw.m == 0:
        return np.full(len(steps), 1.0 / d.automorphisms)
    T, ns = schedule.T, sw.n_states
    nil = sw.idle_nilpotent.astype(np.float64)
    corrections = np.zeros((T + 1, ns))  # C_t, one row per step (row T unused)
    if sw.tied_parts:
        idle, events = sw.step_matrices()
        idle = idle.astype(np.float64)
        event_mats = {c: m.astype(np.float64) for c, m in events.items()}
        start_weight = 0.0
        for times, wts, mult in tied_event_batches(sw, schedule, exact=False):
            Q, n_events = times.shape
            start_weight += float(mult.sum())
            v = np.zeros((Q, ns))
            v[:, sw.index[0]] = 1.0
            prev = np.full(Q, -1, dtype=np.int64)
            for e in range(n_events):
                v = _idle_power(v, times[:, e] - prev - 1, nil, sw.m)
                extra = np.zeros_like(v)
                for counts, mat in event_mats.items():
                    extra += (v @ mat) * event_weight(counts, wts, e)[:, None]
                np.add.at(corrections, times[:, e], extra * mult[:, None])
                v = v @ idle + extra
                prev = times[:, e]
    else:
        start_weight = 1.0
    counts = _unrolled_full(corrections, start_weight, sw.index[0], sw.full, nil, sw.m, steps)
    if sw.root_shared:
        counts = counts / schedule.N
    return counts / d.automorphisms


def _idle_power(v: np.ndarray, gaps: np.ndarray, nil: np.ndarray, m: int) -> np.ndarray:
    """v[q] · A^{gaps[q]} with A = I + N₁: Σ_k C(g, k) v N₁^k (N₁^{m+1} = 0)."""
    out = v.copy()
    u = v
    binom = np.ones(len(gaps))
    for k in range(1, m + 1):
        binom = np.where(gaps >= k, binom * (gaps - (k - 1)) / k, 0.0)
        u = u @ nil
        out += u * binom[:, None]
    return out


def _unrolled_full(corrections: np.ndarray, start_weight: float, empty: int, full: int, nil: np.ndarray, m: int,
                   steps: np.ndarray) -> np.ndarray:
    """S(t)[full] = Σ_k [C(t, k)·S(0) + W_k(t)]·N₁^k at each t in ``steps`` (see the module docstring)."""
    t = steps.astype(np.float64)
    power = np.eye(nil.shape[0])  # N₁^k
    running = corrections
    out = np.zeros(len(steps))
    binom = np.ones(len(steps))
    for k in range(m + 1):
        if k:
            power = power @ nil
            binom = np.where(t >= k, binom * (t - (k - 1)) / k, 0.0)
        # W_k(t) = Σ_{s<t} C(t−1−s, k) C_s: one more exclusive running sum per k
        running = np.concatenate([np.zeros((1, running.shape[1])), np.cumsum(running[:-1], axis=0)])
        column = power[:, full]
        out += start_weight * binom * power[empty, full] + running[steps] @ column
    return out
