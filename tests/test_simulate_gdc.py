"""GDC emulates SGD to order η² (Corollary 2); GD does not."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.landscapes.sampled import FiniteTorchLandscape
from sgd_diagrams.optimizers import gdc_coefficient, make_optimizer, simulate
from sgd_diagrams.optimizers.exact_expectation import exact_expectation
from sgd_diagrams.schedules import gd, sgd


@given(st.integers(min_value=2, max_value=40))
def test_coefficient_is_corollary_2_for_one_epoch_batch_one(n):
    assert abs(gdc_coefficient(sgd(n, 1, 1)) - (n - 1) / (4 * n)) < 1e-12


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=6))
@settings(max_examples=30)
def test_coefficient_vanishes_for_gd(n, t):
    assert abs(gdc_coefficient(gd(n, t))) < 1e-12


def _exact_gaps(finite, schedule, eta):
    e = {o: exact_expectation(finite, schedule, eta, optimizer=o)["test-loss"][0] for o in ("sgd", "gd", "gdc")}
    return e["gd"] - e["sgd"], e["gdc"] - e["sgd"]


def test_exact_gd_gap_is_order_eta2_and_gdc_gap_order_eta3(chladni_finite):
    schedule = sgd(6, 1, 1)
    gd_big, gdc_big = _exact_gaps(chladni_finite, schedule, 0.05)
    gd_small, gdc_small = _exact_gaps(chladni_finite, schedule, 0.025)
    # Halving η divides an η^2 term by ~4 and an η^3 term by ~8.
    assert 2.5 < gd_big / gd_small < 5.0
    assert 5.5 < gdc_big / gdc_small < 10.0
    # GDC removes the η² part: its residual is an O(η) fraction of GD's gap.
    assert abs(gdc_small) < 0.05 * abs(gd_small)


def test_simulated_gdc_matches_sgd_while_gd_does_not(chladni_finite):
    schedule, eta = sgd(6, 1, 1), 0.05
    gd_gap, gdc_gap = _exact_gaps(chladni_finite, schedule, eta)
    landscape = FiniteTorchLandscape(chladni_finite)
    opts = [make_optimizer(n) for n in ("sgd", "gd", "gdc")]
    diffs = simulate(landscape, schedule, opts, eta, 8000, seed=1, chunk=4000).summary()[
        "differences"
    ]
    gd_d, gdc_d = diffs["gd - sgd"]["test-loss"], diffs["gdc - sgd"]["test-loss"]
    assert gd_d["ci95"][0] > 0  # GD measurably worse than SGD
    assert abs(gd_d["mean"] - gd_gap) < 4 * gd_d["sem"]
    assert abs(gdc_d["mean"] - gdc_gap) < 4 * gdc_d["sem"]
    assert abs(gdc_d["mean"]) < 0.25 * gd_d["mean"]
