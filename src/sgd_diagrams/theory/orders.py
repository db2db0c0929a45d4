"""The highest order (number of edges) each method offers, in one place.

The cost of a prediction grows with the number of diagrams (1, 4, 17, 101, 700, 5861 test diagrams
with 1..6 edges), with the history sweep's states (2^edges at worst) and, for estimates from samples,
with the correlator terms of tied parts.  The limits below keep every accepted job within minutes on a
2-core machine; they are stated in ``--help`` and raised where a method became cheaper.

===============  =====  ===============================================================
method           limit  why
===============  =====  ===============================================================
``taylor``         6    5861 test diagrams at order 6; exact tensors of size dim^6
``resummed``       5    eigen-label sums over dim^edges labels per diagram
``continuous``     5    same sweep as ``resummed`` with a generator
``limit``          5    repeated resummed predictions while T doubles
``estimated``      4    per-sample estimators: tied parts cost 5–45 gradients per sample
``symbolic``       4    polynomial interpolation of history counts in N, B, E
===============  =====  ===============================================================

``estimated`` also bounds resummed predictions from samples.  Their matrix-free (Krylov) form projects
every tensor on k Lanczos directions, so a part with Σ degrees = s is a k^s tensor and a degree-m node
costs k^{m−1} directional passes per sample; ``estimation.krylov`` refuses part tensors beyond 3·10⁷
entries (order 3: k ≤ 31 for the test loss, k ≤ 17 for train loss / gen gap; order 4: k ≤ 8), which is
why the limit is not raised.
"""

from __future__ import annotations

from ..errors import SgdDiagramsError
from ..limits import MAX_SYMBOLIC_DERIVATIVES, check_work
from ..schedules.histories import history_seconds

__all__ = ["ORDER_LIMITS", "check_history_work", "check_order", "check_tensor_work"]

ORDER_LIMITS: dict[str, int] = {
    "taylor": 6,
    "resummed": 5,
    "continuous": 5,
    "limit": 5,
    "estimated": 4,
    "symbolic": 4,
}


def check_order(order: object, method: str) -> int:
    """``order`` as an int, or a one-line error naming the method's limit."""
    limit = ORDER_LIMITS[method]
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise SgdDiagramsError(f"order must be a non-negative integer, got {order!r}")
    if order > limit:
        raise SgdDiagramsError(f"order {order} is too expensive for the {method} form; use order <= {limit}")
    return order


def check_history_work(diagrams, schedule, order: int, force: bool = False, labels: int = 1) -> None:
    """Refuse a history sweep estimated beyond the time budget (:func:`~..schedules.histories.history_seconds`)."""
    seconds = history_seconds(diagrams, schedule, labels)
    check_work(seconds, f"the order-{order} history sums on N={schedule.N}, T={schedule.T}",
               "use a smaller order or N (diagrams with k tied parts cost N^k)", force)


def check_tensor_work(landscape, order: int, force: bool = False) -> None:
    """Refuse exact derivative tensors that are too many to compute (K points × C(dim+order, order) derivatives)."""
    from math import comb

    dim, points = int(landscape.dim), int(getattr(landscape, "n_points", 1))
    count = points * comb(dim + order, order)
    if count > MAX_SYMBOLIC_DERIVATIVES and not force:
        raise SgdDiagramsError(
            f"exact order-{order} statistics of a {dim}-weight landscape with {points} points need {count:.3g} "
            f"symbolic derivatives (limit {MAX_SYMBOLIC_DERIVATIVES:.0e}); estimate them from samples instead "
            "(samples=K / --samples K), use a smaller order, or pass --force"
        )
