"""Variance over training sets of the final test loss (seed 001 App. A.6).

App. A.6 computes second moments with *two-rooted* diagrams.  Equivalently
(the product rule splits a root's children between two copies of l), the
second moment E[l(θ_T)²] is Theorem 1 for the deterministic measurement
s = l², whose root tensor is ∇^k(l²) = Σ_{S ⊆ slots} ∇^{|S|} l ⊗ ∇^{k−|S|} l;
then Var = E[l²] − E[l]².  Both the Taylor and the resummed forms are offered, at the end of the
schedule or after every recorded step (:func:`test_loss_variance_curve`: both moments' curves in one sweep,
:mod:`.curves` and :mod:`.geometric_prefixes`).
"""

from __future__ import annotations

import itertools
import string

import numpy as np

from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule
from ..values.uvalue import UvalueEvaluator
from .curves import curve_values, taylor_curve_coefficients
from .orders import check_tensor_work
from .resummation import resummed_curve, resummed_prediction
from .series import taylor_series

__all__ = ["squared_loss_derivatives", "test_loss_variance_coefficients", "test_loss_variance",
           "test_loss_variance_curve", "nonnegative_variance"]

_LETTERS = string.ascii_lowercase


def squared_loss_derivatives(landscape, max_order: int) -> list[np.ndarray]:
    """[∇^k (l²)(θ0) for k = 0..max_order] with l the expected test loss."""
    means = [landscape.mean_derivative(k) for k in range(max_order + 1)]
    out = []
    for k in range(max_order + 1):
        letters = _LETTERS[:k]
        total = np.zeros((landscape.dim,) * k)
        for r in range(k + 1):
            for subset in itertools.combinations(range(k), r):
                rest = [i for i in range(k) if i not in subset]
                a = "".join(letters[i] for i in subset)
                b = "".join(letters[i] for i in rest)
                total = total + np.einsum(f"{a},{b}->{letters}", means[r], means[k - r])
        out.append(total)
    return out


def test_loss_variance_coefficients(landscape, schedule: Schedule, order: int, force: bool = False) -> list[float]:
    """Taylor coefficients of Var[l(θ_T)] over training sets through η^order."""
    second = taylor_series(landscape, schedule, order, "test-loss",
                           root_tensors=squared_loss_derivatives(landscape, order), force=force).coefficients
    mean = taylor_series(landscape, schedule, order, "test-loss", force=force).coefficients
    return [float(c) for c in _variance_from_moments(second, mean)]


def _variance_from_parts(second: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """E[l²] − E[l]² from the per-order parts (axis 0) of both moments, without subtracting l(θ0)²-sized numbers.

    With s = s₀ + δs and m = m₀ + δm (order 0 is l(θ0)² and l(θ0), exactly), Var = (s₀ − m₀²) + (δs − 2m₀·δm) − δm²:
    the O(1) parts cancel before any rounding of the small terms, so a variance far below l(θ0)² keeps its digits
    (the plain s − m² loses about log₁₀(l²/Var) of them)."""
    s0, m0 = second[0], mean[0]
    ds, dm = second[1:].sum(axis=0), mean[1:].sum(axis=0)
    return (s0 - m0 * m0) + (ds - 2.0 * m0 * dm) - dm * dm


def _variance_from_moments(second: list, mean: list) -> list:
    """Coefficients of E[l²] − E[l]² from those of E[l²] and E[l] (Cauchy product, order by order)."""
    return [second[k] - sum(mean[a] * mean[k - a] for a in range(k + 1)) for k in range(len(second))]


def test_loss_variance(landscape, schedule: Schedule, order: int, etas, resum: bool = True,
                       force: bool = False) -> np.ndarray:
    """Var[l(θ_T)] at each η: resummed (default) or the Taylor polynomial.

    A variance is never returned negative: round-off below zero becomes 0, and a truncation that drops
    terms keeping E[l²] − E[l]² positive (orders 2–3 on quadratic losses) is refused with the reason.
    """
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if not resum:
        c = test_loss_variance_coefficients(landscape, schedule, order, force)
        values = sum(ck * etas**k for k, ck in enumerate(c))
    else:
        second = resummed_prediction(landscape, schedule, order, etas, "test-loss",
                                     root_tensors=squared_loss_derivatives(landscape, max(order, 2)),
                                     force=force).by_order
        mean = resummed_prediction(landscape, schedule, order, etas, "test-loss", force=force).by_order
        values = _variance_from_parts(second, mean)
    return nonnegative_variance(np.asarray(values, dtype=np.float64), etas, order, "resummed" if resum else "taylor")


def test_loss_variance_curve(landscape, schedule: Schedule, order: int, etas, steps, resum: bool = True,
                             force: bool = False) -> np.ndarray:
    """E[l²] − E[l]² on ``schedule.prefix(t)`` for every t in ``steps`` (sorted, 0..T): (len(steps), len(etas)).

    Both moments' curves in one pass each (Taylor: every prefix's counts, :func:`~.curves.taylor_curve_coefficients`;
    resummed: every prefix's geometric sums, :func:`~.resummation.resummed_curve`).  Raw differences: round-off
    or a truncation can leave them below zero; pass each step through :func:`nonnegative_variance`.
    """
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    steps = np.asarray(steps, dtype=np.int64)
    if resum:
        squared = squared_loss_derivatives(landscape, max(order, 2))
        second = resummed_curve(landscape, schedule, order, etas, steps, "test-loss", root_tensors=squared,
                                force=force, by_order=True)
        mean = resummed_curve(landscape, schedule, order, etas, steps, "test-loss", force=force, by_order=True)
        return _variance_from_parts(second, mean)
    check_tensor_work(landscape, order, force)
    squared = UvalueEvaluator(landscape, max(order, 0), root_tensors=squared_loss_derivatives(landscape, order))
    second = taylor_curve_coefficients(landscape, schedule, order, "test-loss", steps, evaluator=squared)
    mean = taylor_curve_coefficients(landscape, schedule, order, "test-loss", steps, force=force)
    return curve_values(_variance_from_moments(second, mean), etas)


def nonnegative_variance(values: np.ndarray, etas: np.ndarray, order: int, form: str) -> np.ndarray:
    """``values`` (one per η) with round-off below zero set to 0; a truly negative variance is refused."""
    negative = values < -1e-12 * max(1.0, float(np.max(np.abs(values))))
    if np.any(negative):
        bad = ", ".join(f"{e:g}" for e in etas[negative])
        raise SgdDiagramsError(
            f"the order-{order} {form} test-loss variance comes out negative at eta {bad}: the truncation drops "
            "terms of E[l^2] that keep it positive (l^2 needs order 4 on quadratic losses); raise the order or "
            "lower eta"
        )
    return np.where(values < 0, 0.0, values)
