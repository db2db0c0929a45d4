"""The matrix-free resummation adds back what its Krylov space cannot see (issue 24).

Ground truth: the Taylor series of the engine (itself checked against the Key Lemma's brute force in
tests/test_series_bruteforce.py) and the dense resummed engine; SGD's exact expectation on a quadratic.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from _poly_landscape import PolyLandscape  # noqa: E402

import sgd_diagrams as sd  # noqa: E402
from sgd_diagrams.estimation.krylov import krylov_resummed_estimate, krylov_resummed_exact  # noqa: E402
from sgd_diagrams.landscapes.finite import landscape_from_json  # noqa: E402
from sgd_diagrams.schedules.grid import sgd  # noqa: E402
from sgd_diagrams.theory.resummation import resummed_prediction  # noqa: E402
from sgd_diagrams.theory.series import taylor_series  # noqa: E402

QUANTITIES = ("test-loss", "train-loss", "gen-gap", "displacement")


def _remainder_ratio(land, schedule, order, q, k, eta=0.01):
    """|F(η) − Taylor(η)| / |F(η/2) − Taylor(η/2)|: 2^(order+1) when F is exact to the series order."""
    series = taylor_series(land, schedule, order, q)
    gaps = [np.max(np.abs(krylov_resummed_exact(land, schedule, order, [e], q, krylov_dim=k) - series(np.array([e]))))
            for e in (eta, eta / 2)]
    return gaps[0] / gaps[1], gaps


@settings(max_examples=5, deadline=None)
@given(dim=st.integers(20, 60), seed=st.integers(0, 10**6), cubic=st.booleans(), data=st.data())
def test_matrix_free_is_exact_to_the_series_order_for_every_k(dim, seed, cubic, data):
    """Random quadratic/cubic landscapes, dim 20–60, k < dim: matrix-free − Taylor = O(η^(order+1))."""
    k = data.draw(st.integers(1, dim - 1))
    land = PolyLandscape(dim, 4, seed, cubic=cubic)
    q = data.draw(st.sampled_from(("test-loss", "displacement") if dim > 30 else QUANTITIES))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ratio, gaps = _remainder_ratio(land, sgd(4, 2, 1), 2, q, k)
    assert gaps[0] < 1e-3 and (gaps[0] < 1e-13 or 8 * 0.85 < ratio < 8 * 1.15), (ratio, gaps)


@pytest.mark.parametrize("order,ks", [(2, range(1, 11)), (3, (1, 6, 10))])
def test_every_k_on_a_small_case_orders_2_and_3(order, ks):
    """dim 10, k = 1 … 10 (order 2; three of them at order 3), every quantity: exact to the series order for
    every k, and the dense resummed value at k = dim."""
    land = PolyLandscape(10, 4, 3, cubic=True)
    schedule = sgd(4, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for q in QUANTITIES:
            dense = resummed_prediction(land, schedule, order, [0.2], q).value
            for k in ks:
                ratio, gaps = _remainder_ratio(land, schedule, order, q, k)
                assert gaps[0] < 1e-13 or 2 ** (order + 1) * 0.85 < ratio < 2 ** (order + 1) * 1.15, (q, k, ratio)
            full = krylov_resummed_exact(land, schedule, order, [0.2], q, krylov_dim=10)
            assert np.max(np.abs(full - dense)) < 1e-10


def _shared_hessian_dim30():
    """Issue 24's dim-30 case: a shared Hessian, three points with different linear terms (θ0 = 0.2·1)."""
    rng = np.random.default_rng(24)
    lam = np.linspace(0.05, 1.5, 30)
    b = rng.normal(size=(3, 30)) * 0.5
    points = [{"prob": 1 / 3, "loss": " + ".join(f"{0.5 * lam[a]:.6f}*t{a}**2 + {b[j, a]:.6f}*t{a}" for a in range(30))}
              for j in range(3)]
    return landscape_from_json({"kind": "finite", "dim": 30, "init": [0.2] * 30, "points": points})


def test_shared_hessian_dim30_within_4_se_at_every_k_and_with_the_default():
    """6 steps of SGD over N = 3, η = 0.3, order 2: within 4 SE of SGD's exact expectation for k = 1 … 30."""
    from sgd_diagrams.optimizers.exact_expectation import exact_expectation

    land = _shared_hessian_dim30()
    schedule = sd.sgd(N=3, B=1, E=2)
    exact = float(exact_expectation(land, schedule, [0.3])["test-loss"][0])
    assert abs(sd.predict(land, schedule, 2, [0.3], method="resummed").value[0] - exact) < 1e-10
    kw = dict(samples=1200, replications=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(1, 31):
            p = krylov_resummed_estimate(land, schedule, 2, [0.3], seed=k, krylov_dim=k, **kw)
            assert abs(p.value[0] - exact) < 4 * p.stderr[0], (k, p.value, p.stderr, exact)
        # what the issue saw: the Krylov space alone misses the complement's gradient noise
        old = krylov_resummed_estimate(land, schedule, 2, [0.3], seed=20, krylov_dim=20, complement=False, **kw)
        assert abs(old.value[0] - exact) > 4 * old.stderr[0]
        auto = sd.predict(land, schedule, 2, [0.3], method="resummed", seed=0, **kw)
        free = sd.predict(land, schedule, 2, [0.3], method="resummed", seed=0, resummation="matrix-free", **kw)
    assert auto.details["estimator"] == "dense" and "cheap" in auto.details["routing"]
    assert abs(auto.value[0] - exact) < 4 * auto.stderr[0]
    choice = free.details["krylov_choice"]
    assert choice["chosen"] == free.details["krylov_dim"] and choice["tried"][0]["k"] == 1
    assert abs(free.value[0] - exact) < 4 * free.stderr[0]


def test_complement_is_reported_and_warned_about():
    land = PolyLandscape(30, 6, 5)
    with pytest.warns(RuntimeWarning, match="outside the Krylov space"):
        p = sd.predict(land, sgd(6, 2, 1), 2, [0.2], "gen-gap", method="resummed", samples=600, replications=4,
                       krylov_dim=2)
    c = p.complement
    assert c is not None and len(c["value"]) == 1 and c["relative"][0] > 0.2 and c["curvature"] >= 0
    assert p.to_json()["complement"] == c
    whole = sd.predict(land, sgd(6, 2, 1), 2, [0.2], "gen-gap", method="resummed", samples=600, replications=4,
                       krylov_dim=30)
    assert whole.complement is None  # k = dim: nothing outside


@pytest.mark.slow
def test_z_scores_with_k_below_dim_pool_to_standard_normal():
    """From samples, k < dim: z-scores against the exact expectation (quadratic: resummed order 2 is exact)."""
    from sgd_diagrams.optimizers.exact_expectation import exact_expectation

    z = []
    schedule = sd.sgd(N=3, B=1, E=2)
    land = _shared_hessian_dim30()
    exact = exact_expectation(land, schedule, [0.1, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in range(6):
            for q in ("test-loss", "gen-gap"):
                p = krylov_resummed_estimate(land, schedule, 2, [0.1, 0.3], q, samples=1200, replications=8,
                                             seed=100 + seed, krylov_dim=1 + 5 * seed)
                z.extend(((p.value - exact[q]) / p.stderr).tolist())
    z = np.asarray(z)
    assert abs(z.mean()) < 0.6 and 0.5 < z.std() < 1.6 and np.max(np.abs(z)) < 4.5
