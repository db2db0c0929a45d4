"""Per-step learning-rate multipliers and heavy-ball momentum in the exact engine (issue 14).

Ground truths: the Key Lemma by brute force (``reference.brute_series`` runs heavy-ball SGD with the
schedule's multipliers on truncated power series in η over every training sequence), labelled-map
enumeration of kernel-weighted history counts, exact GD on a one-point quadratic (the resummed
propagator's product formula), exact expectations by enumeration (simulation), and the closed forms
of docs/momentum.md.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from conftest import random_landscape, random_schedule, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import brute_series

import sgd_diagrams as sd
from sgd_diagrams.cli import main
from sgd_diagrams.diagrams import parse, quantity
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes.finite import FiniteLandscape
from sgd_diagrams.schedules import from_batches, gd, schedule_from_json, sgd, sgd_reshuffled
from sgd_diagrams.schedules.grid import lr_schedule
from sgd_diagrams.schedules.histories import history_count, history_seconds, kernel_history_count
from sgd_diagrams.theory import taylor_coefficients
from sgd_diagrams.theory import variance as variance_theory
from sgd_diagrams.theory.geometric import geometric_history_sum
from sgd_diagrams.theory.resummation import resummed_prediction

QUANTITIES = ("test-loss", "train-loss", "gen-gap", "displacement")


def _with(schedule, seed: int, beta: float):
    rng = np.random.default_rng(seed)
    return schedule.with_lr(rng.uniform(0.2, 1.6, schedule.T)).with_momentum(beta)


def _assert_close(got, ref, what):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9 * scale, err_msg=what)


def _assert_series(landscape, schedule, order, variance=False):
    ref = brute_series(landscape, schedule, order)
    for q in QUANTITIES:
        _assert_close(taylor_coefficients(landscape, schedule, order, q), ref[q], f"{q} {schedule}")
    if variance:
        var = ref["test-loss-squared"] - np.array([sum(ref["test-loss"][a] * ref["test-loss"][k - a]
                                                       for a in range(k + 1)) for k in range(order + 1)])
        got = variance_theory.test_loss_variance_coefficients(landscape, schedule, order)
        _assert_close(got, var, f"variance {schedule}")


# -- the Key Lemma with momentum and lr multipliers, by brute force -----------------------------------
@pytest.mark.parametrize("schedule", [
    _with(sgd(4, 2, 2), 1, 0.7),                                    # B > 1, two epochs
    _with(from_batches(3, [[0], [1, 2], [0, 1, 2], [2]]), 2, 0.5),  # uneven batches
    _with(sgd(2, 1, 3), 3, 0.9),                                    # three epochs
    _with(gd(2, 3), 4, 0.3),
], ids=repr)
def test_order_four_every_quantity_against_brute_force(schedule):
    _assert_series(random_landscape(11, dim=2, points=2), schedule, 4, variance=True)


@settings(max_examples=8, deadline=None)
@given(seeds, seeds, st.floats(0.0, 0.95), st.booleans())
def test_random_schedules_order_three(seed_l, seed_s, beta, with_lr):
    schedule = random_schedule(seed_s, max_N=3, max_T=5)
    if with_lr:
        schedule = schedule.with_lr(np.random.default_rng(seed_s).uniform(0.0, 2.0, schedule.T) + 0.01)
    _assert_series(random_landscape(seed_l), schedule.with_momentum(beta), 3)


# -- kernel-weighted history counts ---------------------------------------------------------------------
def _brute_kernel_count(d, schedule) -> float:
    """Σ over labelled maps of Π 1/|B_t| · Π_edges k(t_child, t_parent), / |Aut| (root at T)."""
    cells = [(n, t) for t, b in enumerate(schedule.batches) for n in b]
    sizes, kern, m, T = schedule.batch_sizes, schedule.edge_kernel(), d.n_edges, schedule.T
    roots = [None] if d.root_alone else range(schedule.N)
    total = 0.0
    for assignment in itertools.product(cells, repeat=m):
        place = {0: (None, T), **{v: assignment[v - 1] for v in range(1, m + 1)}}
        w = np.prod([kern[place[v][1], place[d.parents[v]][1]] / sizes[place[v][1]] for v in range(1, m + 1)])
        for root in roots:
            rows = {d.parts[0]: root} if root is not None else {}
            if all(rows.setdefault(d.parts[v], place[v][0]) == place[v][0] for v in range(1, m + 1)):
                total += w / (1 if root is None else schedule.N)
    return total / d.automorphisms


@pytest.mark.parametrize("schedule", [
    _with(sgd(4, 2, 2), 5, 0.6), _with(from_batches(3, [[0], [1, 2], [0, 2]]), 6, 0.0),
                                      sgd(3, 1, 1).with_momentum(0.8)], ids=repr)
def test_kernel_counts_against_enumeration(schedule):
    for k in range(4):
        for d in quantity("train-loss").diagrams(k):
            assert kernel_history_count(d, schedule) == pytest.approx(_brute_kernel_count(d, schedule), rel=1e-12,
                                                                      abs=1e-12)


@pytest.mark.parametrize("schedule", [sgd(6, 2, 3), sgd(5, 1, 2, shuffle_seed=2), gd(3, 5),
                                      from_batches(4, [[0, 1], [2], [0, 3], [1, 2, 3]])], ids=repr)
def test_plain_schedules_reduce_to_the_old_counts(schedule):
    for k in range(4):
        for d in quantity("train-loss").diagrams(k):
            old = history_count(d, schedule)
            assert kernel_history_count(d, schedule) == pytest.approx(old, rel=1e-12, abs=1e-13)
            # the momentum automaton at β → 0 and all-ones multipliers: the same counts
            tiny = schedule.with_momentum(1e-13)
            assert kernel_history_count(d, tiny) == pytest.approx(old, rel=1e-9, abs=1e-12)
    assert schedule.with_lr([1.0] * schedule.T) == schedule and schedule.with_momentum(0.0).plain


def test_lr_multipliers_scale_counts_without_momentum():
    """Constant multipliers c: a d-edge count scales by c^d (every edge carries c)."""
    base = sgd(6, 2, 2)
    scaled = base.with_lr([0.5] * base.T)
    for k in range(4):
        for d in quantity("test-loss").diagrams(k):
            assert history_count(d, scaled) == pytest.approx(0.5**k * history_count(d, base), rel=1e-12)


# -- closed forms of docs/momentum.md ----------------------------------------------------------------------
def _closed_forms(N: int, B: int, E: int, beta: float) -> dict[str, float]:
    M, T = N // B, E * N // B
    g = 1.0 / (1.0 - beta)
    K1 = g * T - g**2 * beta * (1 - beta**T)
    sum_u = T * (T - 1) / 2
    sum_jbj = beta * (1 - (T + 1) * beta**T + T * beta ** (T + 1)) * g**2
    chain = (g**2 * sum_u - g**3 * beta * (T - g * (1 - beta**T))
             - g**2 * (T * beta * g * (1 - beta**T) - sum_jbj)
             + g**3 * beta * (beta * g * (1 - beta**T) - T * beta**T))
    tied_pair = g**2 / (2 * B) * (M * E**2 - 2 * E * beta * g * (1 - beta**T)
                                  + beta**2 * (1 - beta**T) ** 2 * (1 + beta**M) / ((1 - beta**M) * (1 - beta**2)))
    tied_chain = g**2 / B * sum(
        (M - beta ** ((E - e - 1) * M + 1) * (1 - beta**M) * g) * (e - beta**M * (1 - beta ** (e * M)) / (1 - beta**M))
        for e in range(1, E))
    return {"r(a)": K1, "r(ab)": K1**2 / 2, "r(a(b))": chain, "r(aa)": tied_pair, "r(a(a))": tied_chain,
            "a(a)": K1 / N}


@pytest.mark.parametrize("N,B,E,beta", [(6, 2, 3, 0.9), (8, 1, 1, 0.5), (12, 4, 4, 0.3), (10, 5, 2, 0.95)])
def test_momentum_closed_forms(N, B, E, beta):
    schedule = sgd(N, B, E).with_momentum(beta)
    for notation, value in _closed_forms(N, B, E, beta).items():
        assert history_count(parse(notation), schedule) == pytest.approx(value, rel=1e-10), notation


def test_momentum_is_rescaling_plus_lag_for_long_runs():
    """T ≫ 1/(1−β): the order-η count is γT − γ²β (γ = 1/(1−β)), rescaling η → γη less βγ steps."""
    beta, g = 0.9, 10.0
    schedule = sgd(400, 1, 1).with_momentum(beta)
    assert history_count(parse("r(a)"), schedule) == pytest.approx(g * 400 - g**2 * beta, rel=1e-12)


# -- resummation with per-step learning rates --------------------------------------------------------------
@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_geometric_sum_at_q_one_is_the_kernel_count(beta):
    schedule = _with(sgd(4, 2, 2), 7, beta)
    for k in range(1, 4):
        for d in quantity("train-loss").diagrams(k, linkless=True):
            got = geometric_history_sum(d, schedule, np.ones((1, k)))[0]
            assert got == pytest.approx(history_count(d, schedule), rel=1e-12)


def test_heavy_ball_resummation_at_beta_zero_is_the_lr_propagator():
    from sgd_diagrams.schedules.sweep import history_sweep
    from sgd_diagrams.theory.geometric import _heavy_ball_geometric, _lr_geometric

    schedule = _with(from_batches(3, [[0], [1, 2], [0, 2], [1]]), 10, 0.0)
    rng = np.random.default_rng(0)
    for k in range(1, 4):
        for d in quantity("train-loss").diagrams(k, linkless=True):
            q = rng.uniform(0.5, 1.2, (3, k))
            want = _lr_geometric(history_sweep(d), schedule, q)
            np.testing.assert_allclose(_heavy_ball_geometric(d, schedule, q), want, rtol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.7])
def test_resummed_is_exact_on_a_one_point_quadratic(beta):
    """One data point, quadratic loss: (heavy-ball) GD is linear, so the resummed propagators are exact:
    without momentum θ_T − θ0 = −Σ_s Π_{t>s}(I − ηm_tH) ηm_s g; with it, the 2×2 transfer-matrix products."""
    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    g0 = np.array([0.3, -0.7])
    land = FiniteLandscape(2, [0.0, 0.0], [1.0], ["t0**2 + 0.5*t0*t1 + 0.5*t1**2 + 0.3*t0 - 0.7*t1"])
    schedule = sgd(3, 1, 2).with_lr("warmup:2+cosine:0.1").with_momentum(beta)
    m, eta = schedule.lr_multipliers(), 0.2
    theta, buf = np.zeros(2), np.zeros(2)
    for t in range(schedule.T):
        buf = beta * buf + H @ theta + g0
        theta = theta - eta * m[t] * buf
    loss = 0.5 * theta @ H @ theta + g0 @ theta
    for order in (2, 3):
        disp = resummed_prediction(land, schedule, order, [eta], "displacement").value[0]
        np.testing.assert_allclose(disp, theta, rtol=1e-12)
        assert resummed_prediction(land, schedule, order, [eta], "test-loss").value[0] == pytest.approx(loss,
                                                                                                       rel=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_resummed_agrees_with_taylor_through_its_order(beta):
    land = random_landscape(11, dim=2, points=2)
    schedule = _with(sgd(4, 2, 2), 8, beta)
    etas = np.array([1e-3, 2e-3, 4e-3])
    for q in ("test-loss", "gen-gap"):
        c = np.array(taylor_coefficients(land, schedule, 3, q))
        with pytest.warns(RuntimeWarning):
            r = resummed_prediction(land, schedule, 3, etas, q).value
        diff = r - np.array([np.polyval(c[::-1], e) for e in etas])
        assert np.all(np.abs(diff) < 50 * etas**4)  # the orders agree through η^3


def test_momentum_refusals():
    land = random_landscape(11, dim=2, points=2)
    with pytest.raises(SgdDiagramsError, match="shuffle"):
        taylor_coefficients(land, sgd_reshuffled(2, 1, 2).with_momentum(0.5), 2)
    with pytest.raises(SgdDiagramsError, match="continuous"):
        sd.predict(land, sgd(2, 1, 1), 2, [0.1], method="continuous", lr="cosine")
    with pytest.raises(SgdDiagramsError, match="limit"):
        sd.predict(land, sgd(2, 1, 1), 2, [0.1], method="limit", momentum=0.5)
    with pytest.raises(SgdDiagramsError, match="exact"):
        history_count(parse("r(a)"), sgd(2, 1, 1).with_momentum(0.5), exact=True)


def test_api_keywords_apply_lr_and_momentum():
    land = random_landscape(11, dim=2, points=2)
    schedule = sgd(2, 1, 2)
    a = sd.taylor_series(land, schedule, 2, lr="cosine:0.2", momentum=0.6).coefficients
    b = sd.taylor_series(land, schedule.with_lr(lr_schedule("cosine:0.2", 4)).with_momentum(0.6), 2).coefficients
    np.testing.assert_allclose(a, b, rtol=1e-14)
    p = sd.predict(land, schedule, 2, [0.01], lr="cosine:0.2", momentum=0.6)
    assert p.value[0] == pytest.approx(sum(c * 0.01**k for k, c in enumerate(a)), rel=1e-12)


def test_cost_guard_counts_the_slower_path():
    ds = [d for k in range(5) for d in quantity("test-loss").diagrams(k)]
    small, large = sgd(100, 2, 2).with_momentum(0.9), sgd(600, 1, 1).with_momentum(0.9)
    assert 0.5 < history_seconds(ds, small) < 60 < history_seconds(ds, large)
    with pytest.raises(SgdDiagramsError, match="force"):
        taylor_coefficients(random_landscape(1, dim=1, points=2), large, 4)


def test_factored_moves_give_the_step_matrices():
    """KernelMoves (one move per node and edge) multiply out to KernelSweep's step matrices."""
    from sgd_diagrams.schedules.sweep import kernel_moves, kernel_sweep

    for d in [parse("r(a(b)a)"), parse("r(a(bc))"), parse("r(aa(b))")]:
        ks, mv = kernel_sweep(d, True), kernel_moves(d)
        mt, beta, w = 0.7, 0.4, 0.25
        want = sum(np.tensordot(mt ** np.arange(ks.m + 1), mat, axes=(0, 0))
                   * np.prod([w ** c for c in counts]) for counts, mat in ks.beta_matrices(beta).items())
        step = np.eye(mv.n_states)
        for src, dst, tied in mv.place:
            move = np.eye(mv.n_states)
            move[src, dst] += 1.0 if tied < 0 else w
            step = step @ move
        for pending, dst in mv.apply:
            move = np.eye(mv.n_states)
            move[pending, pending] = beta
            move[pending, dst] += mt
            step = step @ move
        np.testing.assert_allclose(step, want, rtol=1e-13, atol=1e-15)


# -- simulation ------------------------------------------------------------------------------------------------
def test_exact_expectation_follows_the_series(curved_finite):
    from sgd_diagrams.optimizers.exact_expectation import exact_expectation

    schedule = _with(sgd(2, 1, 2), 9, 0.7)
    etas = np.array([0.004, 0.008])
    exact = exact_expectation(curved_finite, schedule, etas)
    for q in QUANTITIES:
        c = np.array(taylor_coefficients(curved_finite, schedule, 4, q), dtype=np.float64)
        series = np.array([sum(ck * e**k for k, ck in enumerate(c)) for e in etas])
        assert np.max(np.abs(series - exact[q])) < 20 * etas[-1] ** 5 * max(1.0, np.max(np.abs(c))), q


def test_simulated_heavy_ball_matches_enumeration(curved_finite):
    from sgd_diagrams.landscapes.sampled import FiniteTorchLandscape
    from sgd_diagrams.optimizers import make_optimizer, simulate
    from sgd_diagrams.optimizers.exact_expectation import exact_expectation

    schedule = sgd(4, 2, 2).with_lr("warmup:2+cosine").with_momentum(0.8)
    exact = {k: v[0] for k, v in exact_expectation(curved_finite, schedule, 0.15).items()}
    result = simulate(FiniteTorchLandscape(curved_finite), schedule, [make_optimizer("sgd")], 0.15, 4000,
                      seed=5, chunk=4000)
    block = result.summary()["optimizers"]["sgd"]
    for metric in ("test-loss", "train-loss", "gen-gap"):
        s = block[metric]
        assert abs(s["mean"] - exact[metric]) < 4 * s["sem"], (metric, s, exact[metric])
    with pytest.raises(SgdDiagramsError, match="does not support lr"):
        simulate(FiniteTorchLandscape(curved_finite), schedule, [make_optimizer("sde")], 0.1, 10, seed=0)


# -- schedules: JSON, lr specs, CLI --------------------------------------------------------------------------
def test_schedule_json_round_trip_and_errors():
    s = sgd(4, 2, 2).with_lr("step:0.5@2").with_momentum(0.25)
    obj = json.loads(json.dumps(s.to_json()))
    assert obj["lr"] == [1.0, 1.0, 0.5, 0.5] and obj["momentum"] == 0.25
    back = schedule_from_json(obj)
    assert back == s and hash(back) == hash(s) and back != sgd(4, 2, 2)
    assert schedule_from_json({"N": 2, "B": 1, "E": 1, "lr": [1, 0.5], "momentum": 0.5}).lr == (1.0, 0.5)
    for bad, match in [({"N": 2, "lr": "x", "batches": [[0], [1]]}, "list"),
                       ({"N": 2, "B": 1, "lr": [1.0]}, "one per step"),
                       ({"N": 2, "B": 1, "lr": [1.0, -1.0]}, ">= 0"),
                       ({"N": 2, "B": 1, "lr": [0, 0]}, "every lr multiplier is 0"),
                       ({"N": 2, "B": 1, "momentum": 1.0}, r"\[0, 1\)"),
                       ({"N": 2, "B": 1, "momentum": "0.5"}, "number")]:
        with pytest.raises(SgdDiagramsError, match=match):
            schedule_from_json(bad)


def test_lr_schedule_specs():
    assert lr_schedule("constant", 3) == (1.0, 1.0, 1.0)
    assert lr_schedule("warmup:4", 6) == (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
    assert lr_schedule("step:0.1@2,0.5@3", 4) == pytest.approx((1.0, 1.0, 0.1, 0.05))
    np.testing.assert_allclose(lr_schedule("cosine", 4), 0.5 * (1 + np.cos(np.pi * np.arange(4) / 4)))
    np.testing.assert_allclose(lr_schedule("cosine:0.2", 2), [1.0, 0.6])
    np.testing.assert_allclose(lr_schedule("warmup:2+cosine", 4),
                               np.minimum(1, (np.arange(4) + 1) / 2) * 0.5 * (1 + np.cos(np.pi * np.arange(4) / 4)))
    np.testing.assert_allclose(lr_schedule("linear:0.5", 3), [1.0, 0.75, 0.5])


@pytest.mark.parametrize("spec,match", [
    ("", "non-empty"), ("bogus", "unknown lr schedule"), ("warmup", "needs its length"), ("warmup:x", "integer"),
    ("step:0.1", "FACTOR@STEP"), ("step:a@2", "not a number"), ("cosine:2", r"\[0, 1\]"), ("warmup:2++cosine", "empty"),
    ("constant:3", "no argument"), ("step:0@0", "every lr multiplier is 0"),
])
def test_lr_schedule_cli_errors(capsys, spec, match):
    code = main(["series", "--schedule", "sgd:N=3", "--order", "1", "--lr-schedule", spec])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("sgd-diagrams series: error:") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(match, err), err


def test_cli_series_predict_record_lr_and_momentum(capsys, tmp_path):
    out = tmp_path / "s.json"
    assert main(["series", "--schedule", "sgd:N=3,B=1,E=2", "--order", "2", "--lr-schedule", "warmup:2+cosine",
                 "--momentum", "0.5", "--json", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["lr_schedule"] == "warmup:2+cosine" and data["momentum"] == 0.5 and len(data["lr"]) == 6
    land = sd.landscape("example")
    want = sd.taylor_series(land, sd.sgd(3, 1, 2), 2, lr="warmup:2+cosine", momentum=0.5).coefficients
    np.testing.assert_allclose(data["coefficients"], want, rtol=1e-12)
    assert main(["predict", "--schedule", "sgd:N=3", "--order", "2", "--eta", "0.01", "--momentum", "0.3",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["momentum"] == 0.3
    assert main(["predict", "--schedule", "sgd:N=3", "--order", "2", "--eta", "0.01", "--momentum", "1.2"]) == 2
    assert "momentum" in capsys.readouterr().err
    assert main(["predict", "--schedule", "sgd:N=3", "--order", "2", "--eta", "0.01", "--momentum", "0.3",
                 "--continuous"]) == 2
    assert "continuous" in capsys.readouterr().err
    assert main(["predict", "--schedule", "sgd:N=3", "--order", "2", "--eta", "0.01", "--momentum", "0.3",
                 "--lr-schedule", "cosine", "--resum", "--json"]) == 0
    want = sd.predict(land, sd.sgd(3), 2, [0.01], method="resummed", lr="cosine", momentum=0.3).value
    np.testing.assert_allclose(json.loads(capsys.readouterr().out)["value"], want, rtol=1e-12)


def test_curvature_reacts_late():
    """docs/momentum.md claim 3: r(a(b)) = γ²T²/2 − γ²T/2 − 2γ³βT + O(γ⁴), one γ³βT below 'rescale and lag'."""
    beta, T = 0.5, 3000
    g = 1 / (1 - beta)
    schedule = sgd(T, 1, 1).with_momentum(beta)
    chain = history_count(parse("r(a(b))"), schedule)
    assert abs(chain - (g**2 * T**2 / 2 - g**2 * T / 2 - 2 * g**3 * beta * T)) < 10 * g**4
    k1 = history_count(parse("r(a)"), schedule)
    curvature = history_count(parse("r(ab)"), schedule) + chain
    assert abs(curvature - (k1**2 - g**2 * T / 2 - g**3 * beta * T)) < 10 * g**4


def test_history_picture_shows_the_multipliers():
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_hex
    from matplotlib.patches import Rectangle

    from sgd_diagrams.drawing.render import history_figure

    schedule = sgd(4, 2, 3).with_lr("warmup:2+cosine")
    fig = history_figure(parse("r(a(a))"), schedule)
    bars = sorted((p.get_x(), p.get_height()) for p in fig.axes[0].patches
                  if isinstance(p, Rectangle) and to_hex(p.get_facecolor()) == "#8fb3d9")
    m = schedule.lr_multipliers()
    np.testing.assert_allclose([h for _, h in bars], 0.6 * m / m.max(), rtol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_resummed_variance_honours_lr_and_momentum(beta):
    import warnings

    land = random_landscape(11, dim=2, points=2)
    schedule = sgd(4, 2, 2).with_lr("warmup:2+cosine:0.3").with_momentum(beta)
    etas = np.array([1e-3, 2e-3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        resummed = variance_theory.test_loss_variance(land, schedule, 4, etas, resum=True)
    taylor = variance_theory.test_loss_variance(land, schedule, 4, etas, resum=False)
    plain = variance_theory.test_loss_variance(land, sgd(4, 2, 2), 4, etas, resum=False)
    np.testing.assert_allclose(resummed, taylor, rtol=1e-4)  # the forms agree through η^4
    assert np.all(np.abs(taylor - plain) > 0.1 * plain)  # and the multipliers matter


def test_api_simulate_takes_lr(curved_finite):
    a = sd.simulate(curved_finite, sgd(2, 1, 1), ["sgd"], 0.1, trials=40, seed=3, lr=[1.0, 0.5])
    b = sd.simulate(curved_finite, sgd(2, 1, 1).with_lr([1.0, 0.5]), ["sgd"], 0.1, trials=40, seed=3)
    c = sd.simulate(curved_finite, sgd(2, 1, 1), ["sgd"], 0.1, trials=40, seed=3)
    assert a.mean("test-loss")[0] == b.mean("test-loss")[0] != c.mean("test-loss")[0]


def test_step_beyond_the_schedule_warns_and_changes_nothing():
    with pytest.warns(RuntimeWarning, match="changes nothing"):
        m = lr_schedule("step:0.1@12", 10)
    assert np.array_equal(m, np.ones(10))
