"""HELIX: the engine's resummed drift along z against Corollary 1 and against simulated SGD."""

from __future__ import annotations

import pytest

from sgd_diagrams.experiments.helix_drift import helix_drift
from sgd_diagrams.experiments.helix_theory import helix_drift_prediction


def test_engine_drift_tends_to_eta_squared_over_six():
    ratios = []
    for eta in (0.04, 0.02, 0.01):
        p = helix_drift_prediction(eta, 10_000)
        ratios.append(p["asymptotic_drift_per_step"] / p["corollary1_eta2_over_6"])
    # computed from the landscape: → 1 as η → 0, the excess shrinking like η
    assert all(r > 1 for r in ratios)
    assert abs(ratios[2] - 1) < 0.01
    assert (ratios[0] - 1) / (ratios[1] - 1) == pytest.approx(2.0, rel=0.05)


@pytest.mark.slow
def test_simulated_sgd_drift_matches_the_engine():
    eta, T = 0.05, 2000
    sim = helix_drift(eta, T, 400, optimizers=("sgd",), seed=3)["optimizers"]["sgd"]
    pred = helix_drift_prediction(eta, T)["drift_per_step"]
    assert abs(sim["drift_per_step"] - pred) < 4 * sim["sem"]
