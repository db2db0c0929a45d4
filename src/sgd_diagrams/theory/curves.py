"""Training curves from the theory: Theorem 1 after every prefix of the schedule, for about the price of the end.

The expected quantity after t steps is the prediction on the schedule truncated after t steps
(:meth:`~sgd_diagrams.schedules.Schedule.prefix`; seed 001 App. A.2: a prefix of a grid is a grid).  The
diagram values (uvalues, estimated or exact) do not depend on the schedule, so only the history counts change
with t, and every prefix's counts come from one pass:

* GD and in-order SGD of one epoch (and one reshuffled epoch), plain: the count of a diagram with m non-root
  nodes is a polynomial in t of degree ≤ m + 1 (seed 001 Prop 2: GD's counts are polynomials in T; one
  epoch's prefix of t batches is in-order SGD on tB rows).  Its Newton form Σ_j Δ^j·C(t, j) is built from
  the exact closed-form counts (:mod:`.structured_counts`) at t = 0..m + 3; the vanishing of the differences past
  the degree is checked in exact rationals, so a wrong degree can never pass silently.  Cost O(m) per step.
* Every other concrete schedule: one forward history sweep read at every t
  (:func:`~sgd_diagrams.schedules.prefixes.prefix_history_counts`).

The Taylor curve is then c_k(t) = Σ_{D with k edges} sign·(−1)^k·count_D(t)·uvalue(D), and the value at
(t, η) is Σ_k c_k(t) η^k — identical to :func:`~.series.taylor_series` on ``schedule.prefix(t)``.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..diagrams import DIAGRAM_QUANTITY_NAMES, Diagram, Quantity, quantity
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule, is_shuffle_average
from ..schedules.prefixes import prefix_history_counts
from ..schedules.sweep import history_sweep
from ..values.uvalue import UvalueEvaluator
from .order_polynomials import DERIVED_MAX_EDGES
from .orders import check_order, check_tensor_work
from .structured_counts import structured_count, structured_family

__all__ = ["curve_history_counts", "taylor_curve_coefficients", "curve_values"]

_EXTRA_POINTS = 2  # Newton differences past the degree bound that must vanish exactly


_NO_FAMILY = object()


def curve_history_counts(d: Diagram, schedule: Schedule, steps: np.ndarray, family: object = _NO_FAMILY
                         ) -> np.ndarray:
    """``history_count(d, schedule.prefix(t))`` for every t in ``steps`` (float64), in one pass.

    ``family``: :func:`structured_family` of ``schedule`` when the caller has it (it costs O(T) to decide).
    """
    if is_shuffle_average(schedule):
        raise SgdDiagramsError("a curve needs one concrete grid per step, but this schedule averages over "
                               "reshuffles; use sgd:N=..,B=..,E=..,seed=S (one fixed shuffle) for a curve")
    counts = _family_prefix_counts(d, schedule, steps, family)
    return prefix_history_counts(d, schedule, steps) if counts is None else counts


def _family_prefix_counts(d: Diagram, schedule: Schedule, steps: np.ndarray, family: object = _NO_FAMILY
                          ) -> np.ndarray | None:
    """The Newton form in t of a GD or one-epoch in-order SGD prefix count, or None where it does not apply."""
    if d.n_edges > DERIVED_MAX_EDGES or not schedule.plain:
        return None
    if family is _NO_FAMILY:
        family = structured_family(schedule)
    if family is None or (family[0] == "sgd" and family[1][2] != 1):
        return None
    name, values = family
    if d.n_edges == 0:
        return np.full(len(steps), 1.0 / d.automorphisms)
    if name == "sgd" and int(np.max(steps)) > values[0] // values[1]:
        return None
    if name == "gd":
        diffs, scale = _newton_form(d, "gd", values[0]), 1.0
    else:
        N, B = values[0], values[1]
        diffs = _newton_form(d, "sgd", B)
        scale = B / N if history_sweep(d).root_shared else 1.0  # a shared train root reads one of N rows, not tB
    if diffs is None:
        return None
    t = np.asarray(steps, dtype=np.float64)
    out = np.zeros(len(t))
    binom = np.ones(len(t))
    for j, c in enumerate(diffs):
        if j:
            binom = np.where(t >= j, binom * (t - (j - 1)) / j, 0.0)
        if c:
            out += float(c) * binom
    return scale * out


@lru_cache(maxsize=16384)
def _newton_form(d: Diagram, name: str, size: int) -> tuple[Fraction, ...] | None:
    """Newton differences Δ^j f(0), j ≤ m + 1, of f(t) = the count after t steps (exact), or None.

    GD: f(t) = count on gd(N = ``size``, t).  One-epoch in-order SGD with batch B = ``size``: f(t) = count on
    sgd(tB, B, 1), times t when the root shares a training row (the caller multiplies by B/N) — so the form
    depends on B alone and is built once per diagram and batch size, for every N (cached like the closed forms
    themselves: m + 3 exact evaluations per diagram, then O(m) per step).
    """
    m = d.n_edges  # non-root nodes of a tree
    root_shared = history_sweep(d).root_shared
    exact = [Fraction(0)]
    for t in range(1, m + 2 + _EXTRA_POINTS):
        if name == "gd":
            count = structured_count(d, "gd", (size, t))
        else:
            count = structured_count(d, "sgd", (t * size, size, 1))
            if count is not None and root_shared:
                count = Fraction(count) * t
        if count is None:
            return None
        exact.append(Fraction(count))
    diffs = _newton_differences(exact)
    if any(x != 0 for x in diffs[m + 2:]):
        return None
    return tuple(diffs[: m + 2])


def _newton_differences(values: list[Fraction]) -> list[Fraction]:
    """Δ^j f(0) for j = 0..len − 1 (exact)."""
    row, out = list(values), []
    while row:
        out.append(row[0])
        row = [b - a for a, b in zip(row, row[1:], strict=False)]
    return out


def taylor_curve_coefficients(landscape, schedule: Schedule, order: int, q: str | Quantity, steps: np.ndarray,
                              metric: np.ndarray | None = None, evaluator=None, force: bool = False) -> list:
    """c_k(t) for k = 0..order: arrays of shape (len(steps),) or (len(steps), dim) for displacement.

    Theorem 1 on every prefix (seed 001 §"Main result"); ``evaluator`` as in :func:`~.series.taylor_series`.
    """
    q = quantity(q, DIAGRAM_QUANTITY_NAMES)
    check_order(order, "taylor")
    if evaluator is None:
        check_tensor_work(landscape, order, force)
        evaluator = UvalueEvaluator(landscape, max(order, 0), metric)
    shape = (len(steps), landscape.dim) if q.is_vector else (len(steps),)
    family = structured_family(schedule) if schedule.plain else None  # O(T): decided once, not per diagram
    coefficients = []
    for k in range(order + 1):
        coeff = np.zeros(shape)
        for d in q.diagrams(k):
            counts = curve_history_counts(d, schedule, steps, family)
            if not np.any(counts):
                continue
            value = np.asarray(evaluator(d, root=q.root), dtype=np.float64)
            term = q.sign * (-1) ** k * counts
            coeff = coeff + (term[:, None] * value[None, :] if q.is_vector else term * value)
        coefficients.append(coeff)
    return coefficients


def curve_values(coefficients: list, etas: np.ndarray) -> np.ndarray:
    """Σ_k c_k(t) η^k: shape (steps, etas) or (steps, etas, dim)."""
    etas = np.asarray(etas, dtype=np.float64)
    out = 0.0
    for k, c in enumerate(coefficients):
        c = np.asarray(c, dtype=np.float64)
        powers = etas ** k
        out = out + (c[:, None, :] * powers[None, :, None] if c.ndim == 2 else c[:, None] * powers[None, :])
    return np.asarray(out, dtype=np.float64)
