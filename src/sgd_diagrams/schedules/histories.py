"""Weighted history counts: the coefficient Σ_f 1/|Aut_f(D)| of Theorem 1.

A history of a diagram D in a schedule maps each non-root node to a shaded
cell (n, t) so that a child's t is strictly less than its parent's (the root
sits at time T) and nodes in one part share a row n (seed 001 Def. 2, App.
A.3).  Each node carries the weight 1/|B_t| of its cell; a train-loss root
reads a training row with weight 1/N.  By orbit–stabilizer, summing
1/|Aut_f(D)| over histories up to relabeling equals the weighted number of
*labelled* maps divided by |Aut(D)| (``DESIGN.md``).

Algorithm (never enumerates the T^d maps).  Sweep time from 0 to T−1 with a
state = the set of nodes already placed (closed under children); the states and
one-step transitions are the shared :func:`~sgd_diagrams.schedules.sweep.history_sweep`
(also behind the resummed sums of :mod:`sgd_diagrams.theory.geometric`).  Nodes alone
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

:func:`check_history` validates one concrete history (a node → cell map).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..diagrams.diagram import Diagram
from ..errors import SgdDiagramsError
from .grid import Schedule
from .sweep import HistorySweep, history_sweep, kernel_moves

__all__ = ["History", "RowGroup", "check_history", "has_history", "history_count", "history_counts",
           "history_seconds", "kernel_history_count", "kernel_prefix_counts", "row_groups", "row_tuples",
           "cells_by_step", "tied_event_batches"]

History = dict[int, tuple[int, int]]
"""A history as ``{v: (n, t)}`` for the non-root nodes v = 1..m of a diagram (canonical labelling)."""


# -- one history ---------------------------------------------------------------------------
def check_history(d: Diagram, schedule: Schedule, history: Mapping[int, tuple[int, int]]) -> History:
    """Validate ``history`` as a history of ``d`` in ``schedule``; return it normalised.

    A history (seed 001 Def. 2, App. A.3, Figure 11) maps each non-root node v = 1..m
    to a shaded cell (n, t) of the schedule's grid with a child's step strictly before
    its parent's (the root sits at t = T) and the nodes of one part on one row n.
    Raises :class:`~sgd_diagrams.errors.SgdDiagramsError` naming the first rule broken.
    """
    m = d.n_edges
    if set(history) != set(range(1, m + 1)):
        raise SgdDiagramsError(
            f"a history of {d} places nodes 1..{m} (canonical preorder, root 0 excluded); got nodes {sorted(history)}"
        )
    grid = schedule.grid()
    out: History = {}
    for v, cell in history.items():
        try:
            n, t = (int(x) for x in cell)
        except (TypeError, ValueError):
            raise SgdDiagramsError(f"history cell of node {v} must be a pair (n, t), got {cell!r}") from None
        if not (0 <= n < schedule.N and 0 <= t < schedule.T) or not grid[n, t]:
            raise SgdDiagramsError(
                f"node {v} of {d} is placed at (n={n}, t={t}), which is not a shaded cell; "
                "pick a cell whose point is in that step's batch"
            )
        out[v] = (n, t)
    for v in range(1, m + 1):
        p = d.parents[v]
        if p != 0 and not out[v][1] < out[p][1]:
            raise SgdDiagramsError(
                f"node {v} of {d} is at step {out[v][1]}, not before its parent {p} at step {out[p][1]}; "
                "times must strictly increase towards the root"
            )
    rows: dict[int, int] = {}
    for v in range(1, m + 1):
        part = d.parts[v]
        if rows.setdefault(part, out[v][0]) != out[v][0]:
            raise SgdDiagramsError(f"nodes of one part of {d} sit in different rows; tied nodes must share a row n")
    return out



# -- the schedule side: grouped rows ----------------------------------------------------
class RowGroup(NamedTuple):
    """One distinct non-empty row of the grid: its shaded steps and their weights 1/|B_t|."""

    times: tuple[int, ...]
    weights: tuple  # Fractions when exact, floats otherwise


@lru_cache(maxsize=64)
def row_groups(schedule: Schedule, exact: bool) -> tuple[tuple[RowGroup, ...], tuple[int, ...]]:
    """Distinct non-empty rows of the grid as :class:`RowGroup`, with their multiplicities.

    A tied part's nodes share one row n (seed 001 App. A.3), so history sums over
    tied parts run over rows; identical rows contribute identically and are summed
    once, times their multiplicity.  Weights are :class:`fractions.Fraction` with
    ``exact`` and float64 otherwise.

    Rows are grouped by two independent random 64-bit signatures Σ_t r(t) over
    their shaded columns (a collision has probability ~2^-128), so GD's N identical
    rows form one group and the work is O(total cells) in vectorized numpy.
    """
    N, T = schedule.N, schedule.T
    first = schedule.batches[0] if T else ()
    if T and all(b is first for b in schedule.batches):  # one shared batch (GD): one group, O(T) not O(N·T)
        if exact:
            weights = (Fraction(1, len(first)),) * T
        else:
            weights = (1.0 / len(first),) * T
        return (RowGroup(tuple(range(T)), weights),), (len(first),)
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
        rows.append(RowGroup(tuple(tl), weights))
    return tuple(rows), tuple(int(c) for c in counts)


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


def _idle(v: np.ndarray, gaps: np.ndarray, sw: HistorySweep, exact: bool) -> np.ndarray:
    """Apply A^g = Σ_k C(g,k) N₁^k to each row of v (one gap per row)."""
    nil = sw.idle_nilpotent.astype(object) if exact else sw.idle_nilpotent.astype(np.float64)
    binoms = _binomial_table(gaps, sw.m, exact)
    out = v * binoms[0][:, None]
    u = v
    for k in range(1, sw.m + 1):
        u = u @ nil
        out = out + u * binoms[k][:, None]
    return out


def tied_event_batches(sw: HistorySweep, schedule: Schedule, exact: bool):
    """The row tuples of the tied parts grouped by their number of events, as arrays.

    Yields ``(times (Q, e), weights [(Q, e)] per tied part, multiplicities (Q,))`` for each event count e:
    tuple q's e event steps (the union of its rows' shaded steps), the weight of each tied part's row there
    (0 where that row is not shaded), and how many identical row tuples it stands for.
    """
    rows, mults = row_groups(schedule, exact)
    k = len(sw.tied_parts)
    zero = Fraction(0) if exact else 0.0
    batches: dict[int, list[tuple[list[int], list[list], object]]] = defaultdict(list)
    for combo in itertools.product(range(len(rows)), repeat=k):
        lookup = [dict(zip(rows[g][0], rows[g][1], strict=True)) for g in combo]
        times = sorted(set().union(*(rows[g][0] for g in combo)))
        weights = [[lk.get(t, zero) for t in times] for lk in lookup]
        mult = 1
        for g in combo:
            mult *= mults[g]
        batches[len(times)].append((times, weights, mult))
    for n_events, items in batches.items():
        Q = len(items)
        times = np.array([it[0] for it in items], dtype=np.int64).reshape(Q, n_events)
        wts = [np.array([it[1][i] for it in items], dtype=object if exact else np.float64).reshape(Q, n_events)
               for i in range(k)]
        mult = np.array([it[2] for it in items], dtype=object if exact else np.float64)
        yield times, wts, mult


def event_weight(counts: tuple[int, ...], weights: list[np.ndarray], e: int) -> np.ndarray:
    """Π_j weights[j][:, e]^counts[j]: each row tuple's weight for an event of its e-th event step that places
    counts[j] nodes of tied part j (float64 weights from :func:`tied_event_batches`)."""
    coef = np.ones(len(weights[0]) if weights else 1)
    for j, c in enumerate(counts):
        if c:
            coef = coef * weights[j][:, e] ** c
    return coef


def _count_tied(sw: HistorySweep, schedule: Schedule, exact: bool):
    zero = Fraction(0) if exact else 0.0
    total = zero
    idle, events = sw.step_matrices()
    # the idle step (zero tied counts) first, then the events, as transitions first list them
    mats = {c: (m.astype(object) if exact else m.astype(np.float64))
            for c, m in {sw.zero_counts: idle, **events}.items()}
    ns = len(sw.states)
    T = schedule.T
    for times, wts, mult in tied_event_batches(sw, schedule, exact):
        Q, n_events = times.shape
        v = np.zeros((Q, ns), dtype=object if exact else np.float64)
        if exact:
            v[:] = Fraction(0)
        v[:, sw.index[0]] = 1
        prev = np.full(Q, -1, dtype=np.int64)
        # Run compression: consecutive events with no gap and identical weights, found for all events at once.
        chained = np.all(times[:, 1:] == times[:, :-1] + 1, axis=0)
        for w in wts:
            chained &= np.all(w[:, 1:] == w[:, :-1], axis=0)
        breaks = np.flatnonzero(~chained)
        starts = np.arange(n_events)
        nxt = np.searchsorted(breaks, starts)
        last = np.where(nxt < len(breaks), breaks[np.minimum(nxt, max(len(breaks) - 1, 0))] if len(breaks) else 0,
                        n_events - 1)
        run_length = last - starts + 1
        e = 0
        while e < n_events:
            gaps = times[:, e] - prev - 1
            v = _idle(v, gaps, sw, exact)
            w_now = [w[:, e] for w in wts]
            run = int(run_length[e])
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


AveragedCount = Callable[[Diagram, Mapping, bool], "float | Fraction"]
AVERAGED_COUNTS: dict[str, AveragedCount] = {}
"""Counts that average over a family of grids, by the schedule's ``description["shuffle"]`` tag.

A layer above the single-grid count registers itself here (:mod:`.shuffles` registers ``"average"``), so the
single-grid count never imports the average built on it; ``sgd_diagrams.schedules`` imports both."""


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
    if not schedule.plain:  # per-step lr multipliers or momentum: every edge carries k(s, u)
        if exact:
            raise SgdDiagramsError("exact (rational) history counts need a schedule without lr multipliers or "
                                   "momentum; drop exact=True")
        if schedule.description.get("shuffle") == "average":
            raise SgdDiagramsError("the shuffle average has no lr multipliers or momentum yet; use one fixed "
                                   "shuffle (sgd:N=..,B=..,E=..,seed=S) with --lr-schedule/--momentum")
        return kernel_history_count(d, schedule)
    averaged = schedule.description.get("shuffle")
    if averaged in AVERAGED_COUNTS:  # e.g. sgd_reshuffled: the expectation over shuffles (.shuffles registers it)
        return AVERAGED_COUNTS[averaged](d, schedule.description, exact)
    return fixed_grid_history_count(d, schedule, exact)


def fixed_grid_history_count(d: Diagram, schedule: Schedule, exact: bool = False) -> float | Fraction:
    """:func:`history_count` on the schedule's own batches (one fixed shuffle), lr multipliers aside."""
    sw = history_sweep(d)
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


def row_tuples(schedule: Schedule, k: int):
    """Row-group tuples of k tied parts: (group index per part (Q, k), multiplicities (Q,), groups)."""
    rows, mults = row_groups(schedule, False)
    combos = np.array(list(itertools.product(range(len(rows)), repeat=k)), dtype=np.int64).reshape(-1, k)
    mult_arr = np.asarray(mults, dtype=np.float64)
    mult = np.prod(mult_arr[combos], axis=1) if k else np.ones(1)
    return combos, mult, rows


def cells_by_step(rows, T: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For every step t, the row groups shaded at t and their weights 1/|B_t|."""
    groups: list[list[int]] = [[] for _ in range(T)]
    weights: list[list[float]] = [[] for _ in range(T)]
    for g, (times, wts) in enumerate(rows):
        for t, w in zip(times, wts, strict=True):
            groups[t].append(g)
            weights[t].append(float(w))
    return [(np.array(g, dtype=np.int64), np.array(w)) for g, w in zip(groups, weights, strict=True)]


def kernel_history_count(d: Diagram, schedule: Schedule) -> float:
    """The history count of ``d`` with every edge weighted by k(s, u) = Σ_{t=s}^{u−1} m_t β^{t−s}.

    Σ_f Π_nodes 1/|B_t| · Π_edges k(t_child, t_parent) / |Aut(D)| (the root at T), for a schedule
    with per-step lr multipliers m_t and/or momentum β (seed 001 App. A.3 with the kernel of
    :class:`~sgd_diagrams.schedules.sweep.KernelSweep`).  A dense sweep over the T steps, vectorized
    over the tied parts' row tuples, each step factored into one move per node and per edge
    (:class:`~sgd_diagrams.schedules.sweep.KernelMoves`): O(T · tuples · states · edges).  With m ≡ 1 and
    β = 0 it equals :func:`history_count`.
    """
    return float(kernel_prefix_counts(d, schedule, np.array([schedule.T]))[0])


def kernel_prefix_counts(d: Diagram, schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    """:func:`kernel_history_count` on ``schedule.prefix(t)`` for every t in ``steps`` (sorted), in one sweep.

    The sweep runs forward in time and a prefix's histories are those whose every node and every applied
    edge lies before t, so the count of the prefix is the sweep's full-state total after step t − 1.
    """
    mv = kernel_moves(d)
    T = schedule.T
    steps = np.asarray(steps, dtype=np.int64)
    out = np.zeros(len(steps))
    if mv.m == 0:
        return out + 1.0 / d.automorphisms
    mt = schedule.lr_multipliers()
    beta = schedule.momentum
    k = len(mv.tied_parts)
    combos, mult, rows = row_tuples(schedule, k) if k else (np.zeros((1, 0), dtype=np.int64), np.ones(1), ())
    cells = cells_by_step(rows, T) if k else None
    wvec = np.zeros(max(len(rows), 1))
    Q = len(mult)
    x = np.zeros((Q, mv.n_states))
    x[:, mv.start] = 1.0
    want = np.zeros(T + 1, dtype=bool)
    want[steps] = True
    totals = np.zeros(T + 1)
    for t in range(int(steps.max(initial=0))):
        w_parts = None
        if k:
            gs, ws = cells[t]
            if len(gs):
                wvec[gs] = ws
                w_parts = wvec[combos]  # (Q, k): the weight of each tied part's row at step t
                wvec[gs] = 0.0
        for src, dst, tied in mv.place:  # place each node or not (I + P_v)
            if tied < 0:
                x[:, dst] += x[:, src]
            elif w_parts is not None:
                sel = np.flatnonzero(w_parts[:, tied])
                if len(sel):
                    x[np.ix_(sel, dst)] += x[np.ix_(sel, src)] * w_parts[sel, tied][:, None]
        for pending, dst in mv.apply:  # every pending edge applies now (m_t) or waits (β)
            moved = x[:, pending] * mt[t]
            x[:, pending] *= beta
            x[:, dst] += moved
        if want[t + 1]:
            totals[t + 1] = float(x[:, mv.full] @ mult)
    out = totals[steps]
    if mv.root_shared:
        out = out / schedule.N
    return out / d.automorphisms


def history_counts(diagrams, schedule: Schedule, exact: bool = False) -> list:
    """:func:`history_count` for several diagrams."""
    return [history_count(d, schedule, exact=exact) for d in diagrams]


def has_history(d: Diagram, schedule: Schedule) -> bool:
    """True when ``d`` has at least one history in ``schedule``."""
    return history_count(d, schedule) > 0


# -- cost estimate ------------------------------------------------------------------------
_SECONDS_PER_PYTHON_ITEM = 5e-6  # building one (row tuple, event) entry, calibrated on 2 cores
_SECONDS_PER_FLOP = 1e-9  # one multiply-add of the vectorized event sweep
_BYTES_LIMIT = 8 * 2**30


def history_seconds(diagrams, schedule: Schedule, labels: int = 1) -> float:
    """Estimated seconds to count the histories of ``diagrams`` in ``schedule`` (``labels`` weightings at once).

    A diagram with k tied parts sums over groups^k row tuples, each swept over its ~k·(cells per row)
    events with (states × states) matrices; without tied parts the count is a closed form.  The model
    (``_SECONDS_PER_*``, fitted on orders 3–5 and N = 10–3000) errs on the slow side by up to ~2x.
    Raises :class:`SgdDiagramsError` when the sweep's vectors alone would not fit in memory.
    """
    rows, _ = row_groups(schedule, False)
    groups = max(len(rows), 1)
    cells = sum(len(r.times) for r in rows) / groups
    if not schedule.plain:
        return _kernel_seconds(diagrams, schedule, groups, cells, labels)
    seconds = 0.0
    for d in diagrams:
        sw = history_sweep(d)
        k = len(sw.tied_parts)
        if sw.m == 0 or k == 0:
            continue
        ns = len(sw.states)
        tuples = float(groups) ** k
        if tuples * ns * labels * 8 * 4 > _BYTES_LIMIT:
            raise SgdDiagramsError(
                f"counting histories of {d} needs {groups}^{k} row tuples x {ns} states "
                f"(~{tuples * ns * labels * 32 / 2**30:.0f} GiB); use a smaller order or N"
            )
        n_mats = len(sw.step_matrices()[1]) + 1
        items = tuples * k * cells
        seconds += labels * (items * _SECONDS_PER_PYTHON_ITEM + items * n_mats * ns * ns * _SECONDS_PER_FLOP)
    return seconds


_SECONDS_PER_MOVE = 7e-6  # one vectorized place/apply move of the kernel sweep (numpy call overhead), CPU s
_SECONDS_PER_ELEMENT = 1.2e-9  # one state entry of one row tuple touched by a move (benchmarks/bench_cost_model.py)


def _kernel_seconds(diagrams, schedule: Schedule, groups: int, cells: float, labels: int) -> float:
    """Cost of :func:`kernel_history_count`: T steps of 2m moves over every row tuple's states.

    Calibrated in CPU seconds on orders 3-4, N = 30-300 (``benchmarks/bench_cost_model.py``: within 0.5-1.6x).
    """
    T = schedule.T
    seconds = 0.0
    for d in diagrams:
        mv = kernel_moves(d)
        if mv.m == 0:
            continue
        k = len(mv.tied_parts)
        ns = mv.n_states
        tuples = float(groups) ** k
        if tuples * ns * labels * 8 * 4 > _BYTES_LIMIT:
            raise SgdDiagramsError(
                f"counting histories of {d} needs {groups}^{k} row tuples x {ns} states "
                f"(~{tuples * ns * labels * 32 / 2**30:.0f} GiB); use a smaller order or N"
            )
        seconds += labels * T * (2 * mv.m * _SECONDS_PER_MOVE + tuples * ns * mv.m * _SECONDS_PER_ELEMENT
                                 + tuples * k * _SECONDS_PER_FLOP * 20)
    return seconds
