"""The trust flag (issue #23): an estimated truncation error, one rule everywhere, checked against exact answers."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.cli import main
from sgd_diagrams.optimizers.exact_expectation import exact_expectation
from sgd_diagrams.theory.trust import DEFAULT_RTOL, assess_trust, legacy_trust_region, tail_bound


def _quiet_predict(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return sd.predict(*args, **kwargs)


# -- the tail bound ------------------------------------------------------------------------------------------
@given(q=st.floats(0.1, 10.0), eta=st.floats(1e-3, 0.09), order=st.integers(1, 5))
@settings(max_examples=40, deadline=None)
def test_tail_bound_is_exact_on_a_geometric_series(q, eta, order):
    coefficients = [q**k for k in range(order + 1)]
    r = q * eta
    exact_tail = r ** (order + 1) / (1 - r)
    assert tail_bound(coefficients, [eta])[0] == pytest.approx(exact_tail, rel=1e-9)
    # knowing c_{D+1} changes nothing on a geometric series
    assert tail_bound(coefficients, [eta], lookahead=q ** (order + 1))[0] == pytest.approx(exact_tail, rel=1e-9)


@given(q=st.floats(0.1, 10.0), eta=st.floats(1e-3, 0.09), order=st.integers(2, 6))
@settings(max_examples=40, deadline=None)
def test_zero_coefficients_do_not_break_the_ratio_test(q, eta, order):
    """Only even orders (a symmetric landscape): the bound skips the zeros and still covers the true tail."""
    coefficients = [q**k if k % 2 == 0 else 0.0 for k in range(order + 1)]
    r = q * eta
    true_tail = sum(r**k for k in range(order + 1, order + 200) if k % 2 == 0)
    bound = tail_bound(coefficients, [eta])[0]
    assert np.isfinite(bound) and bound >= true_tail * (1 - 1e-9)
    assert bound <= 2 * sum(r**k for k in range(order + 1, order + 200)) + 1e-300


def test_a_diverging_series_has_an_infinite_error_and_one_order_needs_a_rate():
    assert tail_bound([1.0, 2.0, 8.0], [1.0])[0] == np.inf  # ratio 4 per order
    assert tail_bound([0.0, 0.0, 5.0], [0.01])[0] == np.inf  # one order and no scale: unknown
    assert np.isfinite(tail_bound([0.0, 0.0, 5.0], [0.01], rate=3.0)[0])
    t = assess_trust([1.0, -1.0, 0.1], [0.01, 1.0], [0.99001, 0.1], lambda_max=3.0)
    assert t.trusted[0] and not t.trusted[1] and t.error[1] == np.inf  # eta*lambda_max = 3 >= 2: descent diverges


# -- the cases of the issue ----------------------------------------------------------------------------------
def test_helix_order_2_is_trusted_at_small_eta_although_c1_vanishes():
    p = _quiet_predict(sd.landscape("helix"), sd.sgd(N=10), 2, [1e-5, 1e-3])
    assert p.trusted.tolist() == [True, True]
    resummed = _quiet_predict(sd.landscape("helix"), sd.sgd(N=10), 2, [1e-5, 1e-3], method="resummed")
    assert np.all(np.abs(p.value - resummed.value) <= p.tolerance)  # and the trusted values are right
    legacy = legacy_trust_region(sd.taylor_series(sd.landscape("helix"), sd.sgd(N=10), 2).coefficients,
                                 np.array([1e-5, 1e-3]), 0.0)
    assert not legacy.any()  # the rule before: never trusted


def test_cli_predict_trusts_helix_and_reports_the_error(capsys):
    assert main(["predict", "--landscape", "helix", "--order", "2", "--eta", "0.00001,0.001",
                 "--schedule", "sgd:N=10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trusted"] == [True, True]
    assert all(e <= t for e, t in zip(out["error_estimate"], out["tolerance"], strict=True))


def test_mean_estimation_at_its_minimum_is_trusted_at_small_eta():
    land = sd.landscape("mean-estimation")
    assert abs(float(sd.taylor_series(land, sd.sgd(N=10), 1).coefficients[1])) < 1e-20  # at the minimum: c_1 = 0
    for q in ("test-loss", "gen-gap"):
        p = _quiet_predict(land, sd.sgd(N=10), 2, [1e-5, 1e-4], q)
        assert p.trusted.all(), q
        resummed = _quiet_predict(land, sd.sgd(N=10), 3, [1e-5, 1e-4], q, method="resummed")
        assert np.all(np.abs(p.value - resummed.value) <= p.tolerance), q


def test_example_with_momentum_is_not_trusted_where_it_is_wrong():
    land, sched = sd.landscape("example"), sd.sgd(N=8).with_momentum(0.5)
    exact = exact_expectation(sd.as_exact(land), sched, [0.01, 0.05])["test-loss"]
    c0 = float(sd.taylor_series(land, sched, 0).coefficients[0])
    for order in (3, 4):
        p = _quiet_predict(land, sched, order, [0.01, 0.05])
        wrong = np.abs(p.value - exact) > DEFAULT_RTOL * np.abs(exact - c0)
        assert not np.any(p.trusted & wrong), order  # never trusted where wrong
        assert p.trusted[0] and not wrong[0], order  # eta = 0.01: right, and trusted
        if order == 3:
            assert wrong[1] and not p.trusted[1]  # eta = 0.05: 0.8405 vs 0.8608, off by 24 % of the change


@pytest.mark.parametrize("schedule", [sd.sgd(N=6), sd.sgd(N=6, B=2, E=2).with_lr("cosine"),
                                      sd.gd(N=4, T=5).with_momentum(0.9)])
def test_trusted_taylor_values_are_right_against_exact_enumeration(schedule):
    """A small calibration: wherever the flag says trusted, the exact expectation agrees within the tolerance."""
    land = sd.as_exact(sd.landscape("example"))
    etas = np.geomspace(1e-4, 0.3, 9)
    truth = exact_expectation(land, schedule, etas)["test-loss"]
    c0 = float(sd.taylor_series(land, schedule, 0).coefficients[0])
    trusted_somewhere = False
    for order in (1, 2, 3):
        p = _quiet_predict(land, schedule, order, etas)
        right = np.abs(p.value - truth) <= DEFAULT_RTOL * np.abs(truth - c0)
        assert np.all(right[p.trusted]), (order, etas[p.trusted & ~right])
        trusted_somewhere |= bool(p.trusted.any())
    assert trusted_somewhere


def test_order_1_is_not_trusted_where_the_noise_term_dominates():
    """Order 1 misses the noise term; the look-ahead coefficient c_2 sees it."""
    land, sched = sd.as_exact(sd.landscape("example")), sd.sgd(N=100)
    p = _quiet_predict(land, sched, 1, [1e-4, 5e-3])
    assert p.trusted.tolist() == [True, False]


def test_rtol_moves_the_flag_and_is_checked():
    land, sched = sd.landscape("example"), sd.sgd(N=8)
    loose = _quiet_predict(land, sched, 2, [0.03], rtol=10.0)
    tight = _quiet_predict(land, sched, 2, [0.03], rtol=1e-6)
    assert loose.trusted[0] and not tight.trusted[0]
    assert loose.error_estimate[0] == tight.error_estimate[0]
    with pytest.raises(sd.SgdDiagramsError, match="rtol"):
        sd.predict(land, sched, 2, [0.03], rtol=-1.0)


def test_estimated_predictions_fold_the_stderr_into_the_tolerance():
    stats = sd.measure(sd.landscape("example"), 2, samples=600, seed=1, kinds=["test"])
    p = _quiet_predict(stats, sd.sgd(N=6), 2, [0.001, 0.01, 0.5])
    want = assess_trust(_coefficients(stats, sd.sgd(N=6), 2), p.eta, p.value, stderr=p.stderr,
                        lambda_max=stats.lambda_max, schedule=sd.sgd(N=6))
    np.testing.assert_array_equal(p.trusted, want.trusted)
    np.testing.assert_allclose(p.tolerance, want.tolerance, rtol=1e-12)
    assert not p.trusted[2]


def _coefficients(stats, schedule, order):
    etas = np.array([0.5])
    out, prev = [], 0.0
    for k in range(order + 1):
        v = _quiet_predict(stats, schedule, k, etas).value[0]
        out.append((v - prev) / etas[0] ** k)
        prev = v
    return out


# -- predictions and simulations as objects and files --------------------------------------------------------
def test_prediction_round_trips_through_the_cli_file(tmp_path, capsys):
    out = tmp_path / "P.json"
    assert main(["predict", "--schedule", "sgd:N=8", "--order", "3", "--eta", "0.01,0.05", "--momentum", "0.5",
                 "--json", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    p = sd.Prediction.from_json(out)
    q = _quiet_predict(sd.landscape("example"), sd.sgd(N=8), 3, [0.01, 0.05], momentum=0.5)
    np.testing.assert_array_equal(p.value, q.value)
    np.testing.assert_array_equal(p.trusted, q.trusted)
    np.testing.assert_array_equal(p.error_estimate, q.error_estimate)
    assert p.method == "taylor" and p.details["momentum"] == 0.5
    assert sd.Prediction.from_json(q.to_json()).to_json() == q.to_json()
    with pytest.raises(sd.SgdDiagramsError, match="trusted"):
        sd.Prediction.from_json({**q.to_json(), "trusted": ["yes", "no"]})


def test_simulation_round_trips_and_reads_every_old_shape(tmp_path, capsys):
    out = tmp_path / "S.json"
    assert main(["simulate", "--schedule", "sgd:N=4", "--optimizer", "sgd", "gd", "--eta", "0.05",
                 "--trials", "60", "--json", "--out", str(out), "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"eta", "sweep", "meta"} and len(printed["sweep"]) == 1
    sim = sd.Simulation.from_json(out)
    assert sim.to_json() == printed
    block = printed["sweep"][0]
    old_single = {**block["optimizers"]["sgd"], "meta": {**printed["meta"], "eta": 0.05, "optimizers": ["sgd"]}}
    old_multi = {**block, "meta": {**printed["meta"], "eta": 0.05}}
    for old in (old_single, old_multi):
        again = sd.Simulation.from_json(old)
        assert again.mean("test-loss").tolist() == sim.mean("test-loss").tolist()
    assert len(repr(sim)) < 200 and "0.05" in repr(sim)


def test_simulate_momentum_keyword_means_heavy_ball():
    land, sched = sd.landscape("example"), sd.sgd(N=6)
    a = sd.simulate(land, sched, eta=[0.1], trials=3000, seed=0, momentum=0.5)
    b = sd.simulate(land, sched.with_momentum(0.5), eta=[0.1], trials=3000, seed=0)
    plain = sd.simulate(land, sched, eta=[0.1], trials=3000, seed=0)
    assert a.summaries == b.summaries and a.mean()[0] != plain.mean()[0]
    exact = exact_expectation(sd.as_exact(land), sched.with_momentum(0.5), [0.1])["test-loss"][0]
    assert abs(a.mean()[0] - exact) < 4 * a.sem()[0]
    with pytest.raises(sd.SgdDiagramsError, match="already carries momentum"):
        sd.simulate(land, sched.with_momentum(0.9), eta=[0.1], trials=10, momentum=0.5)


def test_compare_gives_z_scores_with_trust_and_the_figure_draws_from_objects(tmp_path):
    land, sched = sd.landscape("example"), sd.sgd(N=8)
    p = _quiet_predict(land, sched, 3, [0.01, 0.05, 0.07], momentum=0.5)
    sim = sd.simulate(land, sched, eta=[0.05, 0.01], trials=400, seed=0, momentum=0.5)
    c = sd.compare(p, sim)
    assert c.eta.tolist() == [0.01, 0.05]  # the learning rates both have, in the prediction's order
    z = (p.value[:2] - sim.mean()[::-1]) / sim.sem()[::-1]
    np.testing.assert_allclose(c.z, z, rtol=1e-12)
    assert c.trusted.tolist() == p.trusted[:2].tolist() and "trusted" in str(c)
    assert sd.compare(p.to_json(), sim.to_json()).z.tolist() == c.z.tolist()
    path = sd.theory_vs_simulation(p, sim, out=tmp_path / "f.png")
    assert path.stat().st_size > 1000
    with pytest.raises(sd.SgdDiagramsError, match="got int"):  # not a prediction: one line, not a TypeError
        sd.theory_vs_simulation(5, sim, out=tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
    with pytest.raises(sd.SgdDiagramsError, match="no learning rate"):
        sd.compare(_quiet_predict(land, sched, 2, [0.2]), sim)


def test_reprs_are_short():
    land = sd.landscape("helix")
    assert repr(land).startswith("Helix(") and len(repr(land)) < 100
    p = _quiet_predict(sd.landscape("example"), sd.sgd(N=4), 2, np.linspace(0.01, 0.1, 30))
    assert len(repr(p)) < 300 and "24 more" in repr(p)


def test_plot_reads_the_trust_flags_and_marks_untrusted_points(tmp_path, capsys):
    from sgd_diagrams.plots import load_prediction

    p = _quiet_predict(sd.landscape("example"), sd.sgd(N=8), 3, [0.01, 0.05], momentum=0.5)
    _, curve = load_prediction(p)
    assert curve.trusted.tolist() == p.trusted.tolist() == [True, False]
    (tmp_path / "P.json").write_text(json.dumps(p.to_json()))
    sim = sd.simulate(sd.landscape("example"), sd.sgd(N=8), eta=[0.01, 0.05], trials=100, momentum=0.5)
    (tmp_path / "S.json").write_text(json.dumps(sim.to_json()))
    assert main(["plot", "--simulation", str(tmp_path / "S.json"), "--prediction", str(tmp_path / "P.json"),
                 "--out", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert main(["plot", "--simulation", str(tmp_path / "S.json"), "--prediction", str(tmp_path / "P.json"),
                 "--out", str(tmp_path / "g.png"), "--metric", "test-loss"]) == 2
    assert "--quantity" in capsys.readouterr().err


def test_whatif_repr_is_short():
    stats = sd.measure(sd.landscape("example"), 2, samples=300, seed=0, kinds=["test"])
    grid = sd.whatif(stats, sd.sgd(N=4), 2, [0.001, 0.01, 0.1], "batch", [1, 2, 4], quantities=["test-loss"])
    assert repr(grid).startswith("WhatIf(3 batch x 3 eta") and len(repr(grid)) < 120
