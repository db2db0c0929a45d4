"""The T → ∞ limit of resummed predictions (seed 001 Theorem 2).

Theorem 2: for constant-N (fixed training set, epochs → ∞) or constant-M (one
pass, N = T → ∞) SGD near a minimum with H > 0, every order-d truncation of
the resummed series converges as T grows.  :func:`resummed_limit` doubles the
horizon until two successive values agree to ``rtol`` (the propagators decay
geometrically, so doubling converges fast) and reports the value reached.
"""

from __future__ import annotations

import numpy as np

from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule, gd, sgd
from .resummation import resummed_prediction

__all__ = ["LIMIT_FAMILIES", "resummed_limit"]

LIMIT_FAMILIES = ("epochs", "samples")


def _grow(schedule: Schedule, family: str, factor: int) -> Schedule:
    d = schedule.description
    if family == "epochs":
        if d.get("gd"):
            return gd(schedule.N, schedule.T * factor)
        if "B" in d:
            return sgd(schedule.N, d["B"], d["E"] * factor, d.get("shuffle_seed"))
    if family == "samples" and "B" in d and d.get("E", 1) == 1:
        return sgd(schedule.N * factor, d["B"], 1, d.get("shuffle_seed"))
    raise SgdDiagramsError(
        "the T -> infinity limit needs an sgd or gd schedule: 'epochs' grows E (or GD's T) at fixed N, "
        "'samples' grows N = T for one-epoch SGD"
    )


def resummed_limit(landscape, schedule: Schedule, order: int, etas, quantity: str = "test-loss",
                   family: str = "epochs", rtol: float = 1e-10, max_doublings: int = 24,
                   force: bool = False) -> tuple[np.ndarray, int]:
    """(limit value per η, horizon T reached) of the resummed order-``order`` prediction."""
    if not schedule.plain:
        raise SgdDiagramsError("the T -> infinity limit grows the schedule, so it takes no lr multipliers or "
                               "momentum; use the taylor or resummed form")
    if family not in LIMIT_FAMILIES:
        raise SgdDiagramsError(f"unknown limit family {family!r}; use epochs or samples")
    lam = np.linalg.eigvalsh(landscape.mean_derivative(2))
    if np.min(lam) <= 0:
        raise SgdDiagramsError(
            f"the T -> infinity limit exists near a minimum with H > 0 (Theorem 2); here the smallest Hessian "
            f"eigenvalue is {np.min(lam):.6g}"
        )
    previous = resummed_prediction(landscape, schedule, order, etas, quantity, force=force).value
    current_schedule = schedule
    for _ in range(max_doublings):
        current_schedule = _grow(current_schedule, family, 2)
        value = resummed_prediction(landscape, current_schedule, order, etas, quantity, force=force).value
        if np.allclose(value, previous, rtol=rtol, atol=rtol * max(1e-300, float(np.max(np.abs(value))))):
            return value, current_schedule.T
        previous = value
    raise SgdDiagramsError(
        f"no convergence after T = {current_schedule.T}; eta may be too small for the horizon — raise eta or order"
    )
