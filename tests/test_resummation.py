"""Resummed predictions: quadratic exactness, Taylor consistency, continuous-time limit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import random_landscape

from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import FiniteLandscape
from sgd_diagrams.optimizers.exact_expectation import exact_expectation
from sgd_diagrams.schedules import from_batches, gd, sgd
from sgd_diagrams.schedules.histories import history_count
from sgd_diagrams.theory import taylor_coefficients
from sgd_diagrams.theory.resummation import geometric_history_sum, resummed_prediction

SCHEDULES = [sgd(3, 1, 1), sgd(4, 2, 2, shuffle_seed=1), gd(3, 4),
             from_batches(3, [[0], [1, 2], [0, 1, 2], [2]]), sgd(3, 1, 3), sgd(2, 1, 3, shuffle_seed=5)]
QUANTITIES = ["test-loss", "train-loss", "gen-gap", "displacement"]


def quadratic_landscape(seed: int, dim: int = 2, K: int = 3) -> FiniteLandscape:
    """Quadratic losses ½θᵀHθ + b_xᵀθ + c_x sharing one Hessian H > 0."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(dim, dim))
    H = A @ A.T / dim + 0.3 * np.eye(dim)
    quad = " + ".join(f"{0.5 * H[i, j]:.6f}*t{i}*t{j}" for i in range(dim) for j in range(dim))
    losses = []
    for _ in range(K):
        b, c = rng.normal(size=dim), rng.normal()
        losses.append(quad + "".join(f" + {b[i]:.6f}*t{i}" for i in range(dim)) + f" + {c:.6f}")
    return FiniteLandscape(dim, np.round(rng.normal(size=dim), 2), rng.dirichlet(np.ones(K)), losses)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_quadratic_exactness_for_every_eta(schedule):
    landscape = quadratic_landscape(7)
    etas = [0.05, 0.3, 0.8]
    exact = exact_expectation(landscape, schedule, etas)
    for q in QUANTITIES:
        pred = resummed_prediction(landscape, schedule, 2, etas, q).value
        scale = np.max(np.abs(exact[q]))
        np.testing.assert_allclose(pred, exact[q], rtol=0, atol=1e-9 * scale, err_msg=q)


def test_unit_propagators_give_history_counts():
    for schedule in SCHEDULES[:4]:
        for d in enumerate_diagrams(3, "train") + enumerate_diagrams(2, "train"):
            got = geometric_history_sum(d, schedule, np.ones((1, d.n_edges)))[0]
            assert got == pytest.approx(history_count(d, schedule), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("quantity", QUANTITIES)
def test_taylor_consistency(quantity):
    # The order-3 resummed prediction minus the order-3 Taylor polynomial is O(η⁴): halving η
    # divides the gap by ~16.
    landscape = random_landscape(3, dim=2, points=3)
    schedule = sgd(3, 1, 2, shuffle_seed=0)
    coeffs = taylor_coefficients(landscape, schedule, 3, quantity)
    gaps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for eta in (4e-3, 2e-3):
            r = resummed_prediction(landscape, schedule, 3, [eta], quantity).value[0]
            poly = sum(np.asarray(c) * eta**k for k, c in enumerate(coeffs))
            gaps.append(np.max(np.abs(r - poly)))
    assert 12 < gaps[0] / gaps[1] < 20


def test_continuous_time_tends_to_the_exact_sum():
    quad = "0.5*(t0**2 + 0.5*t1**2)"
    landscape = FiniteLandscape(2, [0.1, 0.0], [0.5, 0.5], [quad + " + t0 + 0.3*t1**3", quad + " - t0 + 0.2*t0*t1**2"])
    errors = []
    for T in (20, 200, 2000):
        eta = 2.0 / T  # ηT fixed
        s = sgd(T, 1, 1)
        a = resummed_prediction(landscape, s, 3, [eta]).value[0]
        b = resummed_prediction(landscape, s, 3, [eta], continuous=True).value[0]
        errors.append(abs(a - b) / abs(a))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 2e-3


def test_eta_too_large_is_an_error_and_negative_curvature_warns():
    landscape = quadratic_landscape(1)
    with pytest.raises(SgdDiagramsError, match="eta too large"):
        resummed_prediction(landscape, sgd(3, 1, 1), 2, [50.0])
    concave = FiniteLandscape(1, [0.0], [0.5, 0.5], ["-t0**2/2 + t0", "-t0**2/2 - t0"])
    with pytest.warns(RuntimeWarning, match="grow"):
        resummed_prediction(concave, sgd(3, 1, 1), 2, [0.1])
