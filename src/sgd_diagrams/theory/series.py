"""Theorem 1, unresummed: the Taylor series of SGD's expected outcome in η.

Seed 001 Theorem 3 / Theorem 1 (unresummed form) and ``DESIGN.md``:

    E[s(θ_T)] = Σ_D (−1)^{d(D)} · (Σ_f 1/|Aut_f(D)| · Π_nodes 1/|B_t|) · uvalue(D) + o(η^d),

the coefficient of η^k collecting every diagram with k edges.  What s is
selects the diagrams:

* ``test-loss`` — test diagrams (root alone in its part, a fresh point);
* ``train-loss`` — train diagrams (the root reads training row n, weight 1/N,
  and may share a part with non-root nodes);
* ``gen-gap`` — test − train = −(train diagrams whose root shares its part),
  because root-alone train diagrams have the test diagrams' values and counts;
* ``displacement`` — θ_T − θ0: diagrams whose root has exactly one child, the
  value a vector per coefficient.

With a matrix learning rate η = scalar·P (``metric=P``) the coefficients are
those of the scalar; uvalues contract through P.

Per-step lr multipliers and momentum (``schedule.lr``, ``schedule.momentum``) weight every edge of a
history by k(s, u) = Σ_{t=s}^{u−1} m_t β^{t−s} (:func:`~sgd_diagrams.schedules.histories.kernel_history_count`);
such schedules skip the closed-form tables below.

Counts: for in-order SGD and GD and diagrams with ≤ 6 edges the count is read from the closed forms
(:mod:`sgd_diagrams.theory.structured_counts`, derived by :mod:`~sgd_diagrams.theory.order_polynomials`;
seed 001 Prop 2, App. A.3), exact at any N;
otherwise it is swept (:func:`~sgd_diagrams.schedules.histories.history_count`), and only those
sweeps are costed against the time budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..diagrams import DIAGRAM_QUANTITY_NAMES, Diagram, Quantity, quantity
from ..errors import SgdDiagramsError
from ..limits import check_work
from ..schedules.grid import Schedule, is_shuffle_average
from ..schedules.histories import history_count
from ..schedules.shuffles import expected_history_count
from ..values.uvalue import UvalueEvaluator
from .orders import check_history_work, check_order, check_tensor_work
from .structured_counts import structured_count, structured_family

__all__ = ["QUANTITIES", "SeriesTerm", "Series", "taylor_series", "taylor_coefficients"]

QUANTITIES = DIAGRAM_QUANTITY_NAMES  # the quantities with diagrams of their own (names)


@dataclass(frozen=True)
class SeriesTerm:
    """One diagram's contribution: sign·count·uvalue to the coefficient of η^edges."""

    diagram: Diagram
    count: float
    uvalue: float | np.ndarray

    @property
    def contribution(self):
        return (-1) ** self.diagram.n_edges * self.count * self.uvalue


@dataclass
class Series:
    """Taylor coefficients c_0..c_D of E[quantity] with the per-diagram terms behind them."""

    quantity: str
    order: int
    coefficients: list = field(default_factory=list)
    terms: list[SeriesTerm] = field(default_factory=list)

    def __call__(self, eta: float | np.ndarray):
        """Evaluate the Taylor polynomial Σ_k c_k η^k at scalar η (array of η allowed)."""
        eta = np.asarray(eta, dtype=np.float64)
        coeffs = [np.asarray(c, dtype=np.float64) for c in self.coefficients]
        out = sum(c * eta[..., None] ** k if c.ndim else c * eta**k for k, c in enumerate(coeffs))
        return out


def _diagrams_for(quantity: str | Quantity, edges: int) -> tuple[Diagram, ...]:
    """The diagrams with ``edges`` edges that make up ``quantity`` (see :class:`~sgd_diagrams.diagrams.Quantity`)."""
    return _as_quantity(quantity).diagrams(edges)


def _check_shuffle_work(schedule: Schedule, order: int, force: bool) -> None:
    """Refuse a shuffle average estimated beyond the time budget (≈ 30 µs per step per tied diagram)."""
    check_work(schedule.T * 3e-5 * 4 ** max(order - 2, 0) * 10, f"the order-{order} shuffle average over "
               f"T={schedule.T} steps", "use a smaller order, N or E", force)


def _as_quantity(value: str | Quantity) -> Quantity:
    return quantity(value, DIAGRAM_QUANTITY_NAMES)


def _tabulated_counts(q: Quantity, schedule: Schedule, order: int) -> dict[Diagram, float]:
    """Counts served by the closed forms of :mod:`~sgd_diagrams.theory.structured_counts` (in-order SGD, GD)."""
    family = structured_family(schedule) if schedule.plain else None  # the tables know constant-η plain SGD only
    if family is None:
        return {}
    out: dict[Diagram, float] = {}
    for k in range(order + 1):
        for d in q.diagrams(k):
            count = structured_count(d, *family)
            if count is not None:
                out[d] = float(count)
    return out


def taylor_series(landscape, schedule: Schedule, order: int, quantity: str | Quantity = "test-loss",
                  metric: np.ndarray | None = None, root_tensors: list[np.ndarray] | None = None,
                  evaluator=None, force: bool = False) -> Series:
    """The order-``order`` Taylor series of E[quantity] after SGD on ``schedule`` (Theorem 1).

    ``root_tensors`` (with ``quantity='test-loss'``) replaces the measured test loss by any
    deterministic s, given its derivatives [s, ∇s, ∇²s, …] at θ0 (seed 001 §"SGD descends on a
    C-smoothed landscape": replace the root's l by s).  ``evaluator`` replaces the exact uvalues
    (any callable ``evaluator(d, root=...)``, e.g. estimated ones; then only ``landscape.dim`` is read).
    A job estimated beyond :data:`sgd_diagrams.limits.WORK_BUDGET_SECONDS` is refused unless ``force``.
    """
    q = _as_quantity(quantity)
    check_order(order, "taylor")
    if not isinstance(schedule, Schedule):
        raise SgdDiagramsError("taylor_series needs a Schedule")
    if root_tensors is not None and q.name != "test-loss":
        raise SgdDiagramsError("a custom measured quantity (root_tensors) uses the test-loss diagrams")
    if not schedule.plain:  # lr multipliers / momentum: kernel-weighted sweeps, no closed-form tables
        if is_shuffle_average(schedule):
            raise SgdDiagramsError("the shuffle average has no lr multipliers or momentum yet; use one fixed "
                                   "shuffle (sgd:N=..,B=..,E=..,seed=S) with --lr-schedule/--momentum")
        tabulated = {}
        swept = [d for k in range(order + 1) for d in q.diagrams(k)]
    elif is_shuffle_average(schedule):  # expectation over reshuffles (schedules/shuffles.py)
        _check_shuffle_work(schedule, order, force)
        desc = schedule.description
        tabulated = {d: expected_history_count(d, desc["N"], desc["B"], desc["E"])
                     for k in range(order + 1) for d in q.diagrams(k)}
        swept = []
    else:
        tabulated = _tabulated_counts(q, schedule, order)
        swept = [d for k in range(order + 1) for d in q.diagrams(k) if d not in tabulated]
    if swept:  # the estimate itself groups the schedule's rows: O(N·T) for GD, skipped when nothing is swept
        check_history_work(swept, schedule, order, force)
    if evaluator is None:
        check_tensor_work(landscape, order, force)
        evaluator = UvalueEvaluator(landscape, max(order, 0), metric, root_tensors=root_tensors)
    series = Series(q.name, order)
    for k in range(order + 1):
        coeff = np.zeros(landscape.dim) if q.is_vector else 0.0
        for d in q.diagrams(k):
            count = tabulated[d] if d in tabulated else history_count(d, schedule)
            if count == 0:
                continue
            val = evaluator(d, root=q.root)
            term = SeriesTerm(d, count, val)
            series.terms.append(term)
            coeff = coeff + q.sign * term.contribution
        series.coefficients.append(coeff)
    return series


def taylor_coefficients(landscape, schedule: Schedule, order: int, quantity: str = "test-loss",
                        metric: np.ndarray | None = None) -> list:
    """Just the coefficients [c_0, …, c_order] (floats, or vectors for displacement)."""
    return taylor_series(landscape, schedule, order, quantity, metric).coefficients
