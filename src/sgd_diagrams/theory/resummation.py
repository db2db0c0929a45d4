"""Resummed predictions (rvalues): Theorem 1 over linkless diagrams.

Seed 001 §"Re-summation cures large-T divergences", Def. 4, Theorem 1:

    E[s(θ_T)] = Σ_{D linkless} Σ_f 1/|Aut_f(D)| · Π_nodes 1/|B_t| · (−1)^{d} · rvalue_f(D),

where rvalue_f(D) is uvalue(D) with every edge's η replaced by the propagator
(I − ηH)^{Δt−1} η for an edge spanning Δt steps (the root sits at time T) and
H = E[∇²l_x(θ0)].  Summing a chain of links between two nodes reproduces the
binomial expansion of that propagator, so the order-d truncation agrees with the
unresummed series through η^d (tested).  Per-step multipliers m_t make the propagator
Π_{s<t<u} (I − η m_t H) η m_s; with heavy-ball momentum every propagator is the linearised heavy
ball's response (products of 2×2 transfer matrices, :mod:`sgd_diagrams.theory.geometric`).

Computation (never a loop over T^d histories) in three parts:

* the landscape side, :mod:`sgd_diagrams.theory.propagators`: the eigenbasis
  (λ, W) of the propagator and the η-independent projected uvalues U_D[i];
* the schedule side, :mod:`sgd_diagrams.theory.geometric`: the geometric history
  sums S_D(i) over q = 1 − ηλ on the shared history sweep, or Remark 1's
  continuous-time sums (``continuous=True``);
* here, the predictions: E[s] = Σ_D Σ_i (−η)^d U_D[i] S_D(i), order by order.

The public names of the other two modules are re-exported here.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np

from ..diagrams import DIAGRAM_QUANTITY_NAMES, Quantity
from ..diagrams import quantity as quantity_of
from ..errors import SgdDiagramsError
from ..limits import check_work
from ..schedules.grid import Schedule, require_concrete
from ..schedules.histories import history_seconds
from ..values.uvalue import UvalueEvaluator
from .geometric import continuous_history_sum, geometric_history_sum
from .geometric_prefixes import (
    check_prefix_steps,
    continuous_prefix_factors,
    geometric_prefix_factors,
    geometric_prefix_sums,
)
from .orders import check_order, check_tensor_work
from .propagators import eigen_propagator_basis, projected_uvalue

__all__ = ["eigen_propagator_basis", "projected_uvalue", "geometric_history_sum", "continuous_history_sum",
           "resummed_curve", "resummed_prediction", "ResummedPrediction"]


# -- predictions ----------------------------------------------------------------------------------
@dataclass
class ResummedPrediction:
    """Resummed E[quantity] at each η (vectors for displacement), with per-order parts."""

    quantity: str
    order: int
    eta: np.ndarray
    value: np.ndarray
    by_order: np.ndarray  # (order+1, len(eta)[, dim])


def resummed_prediction(landscape, schedule: Schedule, order: int, etas, quantity: str | Quantity = "test-loss",
                        metric: np.ndarray | None = None, continuous: bool = False,
                        root_tensors: list[np.ndarray] | None = None,
                        evaluator: UvalueEvaluator | None = None, force: bool = False) -> ResummedPrediction:
    """Theorem 1 resummed to ``order`` edges at each η in ``etas`` (Remark 1 if ``continuous``).

    ``root_tensors``: measure a deterministic s with derivatives [s, ∇s, …] instead of the test loss.
    ``evaluator``: use its part cumulants (e.g. estimated ones) instead of the landscape's exact
    ones; H is then ``evaluator.part_cumulant((2,))`` and only ``landscape.dim`` is read.  A curve (every
    prefix of the schedule) is :func:`resummed_curve`.
    """
    side = _landscape_side(landscape, schedule, order, etas, quantity, metric, root_tensors, evaluator, force)
    q, etas, lam, dim = side.quantity, side.etas, side.lam, landscape.dim
    shape = (order + 1, len(etas)) + ((dim,) if q.root == "displacement" else ())
    by_order = np.zeros(shape)
    for k in range(order + 1):
        for d in q.diagrams(k, linkless=True):
            labels = list(itertools.product(range(dim), repeat=k))
            flat = side.flat_uvalue(d)
            for e_index, eta in enumerate(etas):
                if k == 0:
                    S = np.ones(1)
                elif continuous:
                    S = continuous_history_sum(d, schedule, eta * lam[np.array(labels)])
                else:
                    S = geometric_history_sum(d, schedule, 1.0 - eta * lam[np.array(labels)])
                contrib = np.tensordot(S, flat, axes=(0, 0)) * (-eta) ** k
                by_order[k, e_index] += q.sign * contrib
    return ResummedPrediction(q.name, order, etas, by_order.sum(axis=0), by_order)


def resummed_curve(landscape, schedule: Schedule, order: int, etas, steps, quantity: str | Quantity = "test-loss",
                   metric: np.ndarray | None = None, continuous: bool = False,
                   root_tensors: list[np.ndarray] | None = None, evaluator: UvalueEvaluator | None = None,
                   force: bool = False, by_order: bool = False) -> np.ndarray:
    """:func:`resummed_prediction` on ``schedule.prefix(t)`` for every t in ``steps`` (sorted, in 0..T), in one sweep.

    The landscape side (eigenbasis, projected uvalues) once; the schedule side from the prefix sums of
    :mod:`.geometric_prefixes`, vectorised over η and the eigen-labels: shape (len(steps), len(etas)[, dim]),
    or with ``by_order`` the parts of each order k = 0..order, (order + 1, len(steps), len(etas)[, dim]).
    The cost check and the growth warning are those of the final point (T's, the largest of every prefix).
    """
    side = _landscape_side(landscape, schedule, order, etas, quantity, metric, root_tensors, evaluator, force)
    q, etas, lam, dim = side.quantity, side.etas, side.lam, landscape.dim
    steps = check_prefix_steps(schedule, steps)
    t_max = int(steps.max(initial=0))
    parts = np.zeros((order + 1, len(steps), len(etas)) + ((dim,) if q.root == "displacement" else ()))
    for k in range(order + 1):
        out = parts[k]
        for d in q.diagrams(k, linkless=True):
            flat = side.flat_uvalue(d)  # (labels, …)
            if k == 0:
                out += q.sign * flat[0]
                continue
            rates = etas[:, None, None] * lam[np.array(list(itertools.product(range(dim), repeat=k)))][None]
            rates = rates.reshape(-1, k)  # (η × labels, edges)
            # (−η)^k U_D[labels] per η: the weights of the eigen-labels' sums, (η, labels[, dim])
            weights = q.sign * ((-etas) ** k).reshape((-1, 1) + (1,) * (flat.ndim - 1)) * flat[None]
            if continuous:
                factors = continuous_prefix_factors(d, schedule, rates, t_max)
            else:
                factors = geometric_prefix_factors(d, schedule, 1.0 - rates, t_max)
            if factors is not None:  # constant lr: contract the weights inside the baby/giant product
                out += factors.weighted(weights, steps)
                continue
            S = geometric_prefix_sums(d, schedule, 1.0 - rates, steps).reshape(len(steps), len(etas), -1)
            out += np.einsum("sel,el...->se...", S, weights)
    return parts if by_order else parts.sum(axis=0)


@dataclass
class _LandscapeSide:
    """What a resummed prediction reads from the landscape, for any schedule: the eigenbasis (λ, W) of the
    propagator and the projected uvalues U_D (seed 001 Def. 4), checked and computed once."""

    quantity: Quantity
    etas: np.ndarray
    evaluator: UvalueEvaluator
    lam: np.ndarray
    W: np.ndarray

    def flat_uvalue(self, d) -> np.ndarray:
        """U_D with its edge labels flattened: (dim^edges, …)."""
        U = projected_uvalue(self.evaluator, d, self.W, root=self.quantity.root)
        k = d.n_edges
        return U.reshape((len(self.lam) ** k,) + U.shape[k:]) if k else U.reshape((1,) + U.shape)


def _landscape_side(landscape, schedule: Schedule, order: int, etas, quantity, metric, root_tensors, evaluator,
                    force: bool) -> _LandscapeSide:
    """Checks (order, concrete schedule, finite η, the work budget, η·λ_max ≤ 2) and the landscape side."""
    q = quantity_of(quantity, DIAGRAM_QUANTITY_NAMES)
    check_order(order, "resummed")
    require_concrete(schedule, "the resummed form")
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if not np.all(np.isfinite(etas)):
        raise SgdDiagramsError("every eta must be a finite number")
    dim = landscape.dim
    seconds = sum(history_seconds(q.diagrams(k, linkless=True), schedule, labels=dim ** k * len(etas))
                  for k in range(1, order + 1))  # one call per order: each reads the schedule's rows (O(N))
    check_work(seconds, f"the resummed order-{order} sums over {dim}^edges eigen-labels on N={schedule.N}, "
               f"T={schedule.T}", "use a smaller order, fewer eta, or the Taylor form", force)
    if evaluator is None:
        check_tensor_work(landscape, max(order, 2), force)
        evaluator = UvalueEvaluator(landscape, max(order, 2), metric, root_tensors=root_tensors)
        H = landscape.mean_derivative(2)
    else:
        H = evaluator.part_cumulant((2,))
    lam, W = eigen_propagator_basis(H, metric)
    # heavy ball is stable for η·λ < 2(1 + β): compare η·max m_t/(1 + β) with plain descent's limit
    _warn_if_growing(lam, etas, schedule.T, float(np.max(schedule.lr_multipliers())) / (1.0 + schedule.momentum))
    return _LandscapeSide(q, etas, evaluator, lam, W)


def _warn_if_growing(lam: np.ndarray, etas: np.ndarray, T: int, scale: float = 1.0) -> None:
    """Error when s·η·λ_max > 2 (descent itself diverges); warn when some (1 − sηλ)^t grows.

    ``scale`` s = max_t m_t / (1 + β): the largest lr multiplier, and heavy ball's wider stable range
    η·λ < 2(1 + β); the refusal states the bound on the η the user gives, 2 / (s·λ_max).
    """
    lmax = float(np.max(lam)) if len(lam) else 0.0
    if lmax > 0 and T > 1 and np.any(etas * scale * lmax > 2.0):
        how = "" if scale == 1.0 else (f" with the largest lr multiplier and momentum (scale max m_t/(1+beta) = "
                                       f"{scale:.6g})")
        raise SgdDiagramsError(
            f"eta too large for the series: eta*lambda_max > 2{how} (lambda_max = {lmax:.6g}) makes "
            f"(1 - eta*H)^t diverge; use eta < {2.0 / (lmax * scale):.6g}"
        )
    q = np.abs(1.0 - np.outer(etas * scale, lam))
    bad = etas[np.any(q > 1.0 + 1e-12, axis=1)]
    if len(bad) and T > 1:
        warnings.warn(
            f"propagators (1 − ηλ)^t grow for eta in {bad.tolist()} (Hessian eigenvalues {np.round(lam, 6).tolist()}): "
            "the resummed series is outside its decaying range; expect large errors for large T",
            RuntimeWarning, stacklevel=4,
        )
