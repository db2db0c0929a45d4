"""HELIX's eternal drift from the diagram engine (seed 001 Corollary 1, App. C.1).

SGD (E = B = 1, N = T) started in HELIX's valley of minima drifts along z.
Corollary 1 predicts a velocity of η²/6 per step.  Here the velocity comes out of
the engine: the resummed order-3 displacement of the Gauss–Hermite form of HELIX
(exact for its x-polynomial losses), divided by T, and its asymptotic slope
(displacement(2T) − displacement(T))/T.  Nothing about HELIX is typed in beyond
its loss.
"""

from __future__ import annotations

from ..landscapes.artificial import Helix
from ..schedules.grid import sgd
from ..theory.resummation import resummed_prediction

__all__ = ["helix_drift_prediction"]


def helix_drift_prediction(eta: float, T: int, order: int = 3, n_nodes: int = 8) -> dict[str, float]:
    """Engine prediction of the z-drift per step: mean over T steps and asymptotic slope."""
    landscape = Helix().to_finite(n_nodes=n_nodes)
    z_T = resummed_prediction(landscape, sgd(T, 1, 1), order, [eta], "displacement").value[0][2]
    z_2T = resummed_prediction(landscape, sgd(2 * T, 1, 1), order, [eta], "displacement").value[0][2]
    return {
        "eta": eta,
        "T": T,
        "order": order,
        "drift_per_step": float(z_T / T),
        "asymptotic_drift_per_step": float((z_2T - z_T) / T),
        "corollary1_eta2_over_6": eta**2 / 6,
    }
