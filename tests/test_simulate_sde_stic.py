"""SDE noise scaling, HELIX drift, STIC tuning λ, and mergeable statistics."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.experiments.helix_drift import helix_drift, predicted_drift_per_step
from sgd_diagrams.landscapes.artificial import MeanEstimation
from sgd_diagrams.optimizers import make_optimizer, simulate
from sgd_diagrams.optimizers.statistics import Moments
from sgd_diagrams.optimizers.trials import run_trials
from sgd_diagrams.schedules import gd, sgd


def test_sde_one_step_noise_matches_sgd_variance():
    # Flat quadratic (H = 0): one SGD step with batch B has variance η² S²/B; so must the SDE.
    land = MeanEstimation(0.0, 2.0, 0.0)
    eta, trials = 0.3, 20000
    for batch in (1, 2):
        schedule = sgd(2, batch, 1) if batch == 2 else sgd(1, 1, 1)
        rows = land.sample_training_sets(torch.Generator().manual_seed(0), trials, schedule.N)
        stepper = make_optimizer("sde").bind(land, schedule, eta)
        theta = run_trials(stepper, rows, [1], torch.Generator().manual_seed(1))[1][:, 0].numpy()
        want = eta**2 * 4.0 / batch
        assert abs(theta.var() - want) < 5 * want * math.sqrt(2 / trials)


def test_helix_sgd_drift_matches_eta2_over_6_and_frozen_sde_stalls():
    T = 800
    res = helix_drift(0.1, T, 20, optimizers=("sgd", "sde-frozen"), substeps=4)
    pred = predicted_drift_per_step(0.1)
    sgd_drift = res["optimizers"]["sgd"]
    assert sgd_drift["ci95"][0] < pred * 1.15 and sgd_drift["ci95"][1] > pred * 0.85
    assert sgd_drift["drift_per_step"] * T > 1.2  # SGD passes z = π/4 and keeps going
    frozen = res["optimizers"]["sde-frozen"]
    # With C frozen at θ0, z is attracted to π/4 (noise along the flat direction) and stops.
    assert 0.3 < frozen["drift_per_step"] * T < math.pi / 4 + 0.02


def test_stic_raises_lambda_and_beats_gd():
    land = MeanEstimation(1.0, 10.0, 0.0, l2=True)
    opts = [make_optimizer("gd"), make_optimizer("stic")]
    res = simulate(land, gd(10, 100), opts, 0.01, 400, seed=2, chunk=400).summary()
    assert res["optimizers"]["stic"]["displacement"]["mean"][1] > 0.1  # λ tuned upward
    assert res["optimizers"]["gd"]["displacement"]["mean"][1] == 0.0
    assert res["differences"]["stic - gd"]["test-loss"]["ci95"][1] < 0


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40), st.integers(1, 39))
@settings(max_examples=50)
def test_moments_merge_equals_whole(values, cut):
    arr = np.array(values)
    cut = min(cut, len(arr) - 1)
    merged = Moments.from_values(arr[:cut]).merge(Moments.from_values(arr[cut:]))
    whole = Moments.from_values(arr)
    assert merged.count == whole.count
    assert math.isclose(merged.mean, whole.mean, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(merged.m2, whole.m2, rel_tol=1e-7, abs_tol=1e-6)


def test_moments_exclude_nonfinite():
    m = Moments.from_values(np.array([1.0, np.nan, 3.0, np.inf]))
    s = m.summary()
    assert s["n"] == 2 and s["nonfinite"] == 2 and s["mean"] == 2.0
