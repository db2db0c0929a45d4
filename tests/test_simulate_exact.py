"""Simulated means agree with exact expectations by enumeration (within 4 SEM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sgd_diagrams.landscapes.sampled import FiniteTorchLandscape
from sgd_diagrams.optimizers import make_optimizer, simulate
from sgd_diagrams.optimizers.exact_expectation import exact_expectation
from sgd_diagrams.optimizers.trials import run_trials
from sgd_diagrams.schedules import from_batches, gd, sgd

CASES = [
    ("sgd", sgd(4, 1, 1), 0.2),
    ("gd", gd(4, 3), 0.2),
    ("sgd", sgd(4, 2, 3), 0.15),  # multi-epoch, batch 2
    ("sgd", sgd(4, 1, 2, shuffle_seed=3), 0.2),  # reshuffled epochs
    ("sgd", from_batches(3, [[0], [1, 2], [0, 2], [1]]), 0.2),  # uneven explicit batches
    ("momentum", sgd(4, 1, 1), 0.1),
    ("gdc", sgd(4, 1, 1), 0.2),
]


@pytest.mark.parametrize("name,schedule,eta", CASES)
def test_simulated_means_match_enumeration(curved_finite, name, schedule, eta):
    raw = exact_expectation(curved_finite, schedule, eta, optimizer=name, beta=0.9)
    exact = {k: v[0] for k, v in raw.items()}
    landscape = FiniteTorchLandscape(curved_finite)
    result = simulate(landscape, schedule, [make_optimizer(name)], eta, 6000, seed=11, chunk=3000)
    block = result.summary()["optimizers"][name]
    for metric in ("test-loss", "train-loss", "gen-gap"):
        s = block[metric]
        assert s["nonfinite"] == 0
        assert abs(s["mean"] - exact[metric]) < 4 * s["sem"], (metric, s, exact[metric])
    disp = block["displacement"]
    for k in range(curved_finite.dim):
        assert abs(disp["mean"][k] - exact["displacement"][k]) < 4 * disp["sem"][k]


def test_enumeration_is_sensitive_to_the_schedule(curved_finite):
    one = exact_expectation(curved_finite, sgd(4, 1, 1), 0.2)["test-loss"][0]
    full = exact_expectation(curved_finite, gd(4, 4), 0.2)["test-loss"][0]
    assert abs(one - full) > 1e-3


def test_vectorized_and_per_trial_loop_agree(curved_finite):
    landscape = FiniteTorchLandscape(curved_finite)
    schedule = sgd(4, 1, 2)
    rows = landscape.sample_training_sets(torch.Generator().manual_seed(0), 7, 4)
    for name in ("sgd", "momentum", "gdc", "sde", "ode"):
        stepper = make_optimizer(name, substeps=4).bind(landscape, schedule, 0.1)
        vec = run_trials(stepper, rows, [schedule.T], torch.Generator().manual_seed(5), True)
        loop = run_trials(stepper, rows, [schedule.T], torch.Generator().manual_seed(5), False)
        np.testing.assert_allclose(vec[schedule.T].numpy(), loop[schedule.T].numpy(), atol=1e-12)


def test_results_reproducible_and_chunking_invariant(curved_finite):
    landscape = FiniteTorchLandscape(curved_finite)
    a = simulate(landscape, sgd(4), [make_optimizer("sgd")], 0.1, 300, seed=3, chunk=100)
    b = simulate(landscape, sgd(4), [make_optimizer("sgd")], 0.1, 300, seed=3, chunk=100)
    c = simulate(landscape, sgd(4), [make_optimizer("sgd")], 0.1, 300, seed=4, chunk=100)
    ma = a.summary()["optimizers"]["sgd"]["test-loss"]["mean"]
    assert ma == b.summary()["optimizers"]["sgd"]["test-loss"]["mean"]
    assert ma != c.summary()["optimizers"]["sgd"]["test-loss"]["mean"]
