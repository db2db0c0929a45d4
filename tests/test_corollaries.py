"""The papers' closed forms against the diagram engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import random_landscape

from sgd_diagrams.landscapes import FiniteLandscape
from sgd_diagrams.schedules import gd, sgd
from sgd_diagrams.theory import corollaries as cor
from sgd_diagrams.theory import taylor_coefficients
from sgd_diagrams.theory.resummation import resummed_prediction


def mean_estimation(H: float, S: float) -> FiniteLandscape:
    """l_x = ½Hθ² + xSθ with x = ±1 (mean 0, variance 1): C = S², initialised at the truth."""
    return FiniteLandscape(1, [0.0], [0.5, 0.5], [f"{H/2}*t0**2 + {S}*t0", f"{H/2}*t0**2 - {S}*t0"])


def test_prop0_and_example_a():
    L = random_landscape(31, dim=2, points=3)
    st = cor.named_statistics(L)
    for T in (1, 5, 40):
        s = sgd(T, 1, 1)
        assert taylor_coefficients(L, s, 1)[1] * 0.01 == pytest.approx(cor.prop0(st.G, 0.01, T), rel=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pred = resummed_prediction(L, s, 1, [0.01]).by_order[1, 0]
        assert pred == pytest.approx(cor.prop0_resummed(st.G, st.H, 0.01, T), rel=1e-10)


def test_example_b_is_the_continuous_r_aa_term():
    # At a minimum (G = 0) the only order-2 linkless test diagram with histories in E = B = 1 is r(aa).
    L = FiniteLandscape(2, [0.0, 0.0], [0.5, 0.5], ["0.5*(t0**2 + 0.4*t1**2) + t0 + 0.5*t1 + 0.2*t0**3",
                                                    "0.5*(t0**2 + 0.4*t1**2) - t0 - 0.5*t1 - 0.2*t0**3"])
    st = cor.named_statistics(L)
    assert np.allclose(st.G, 0)
    T, eta = 200, 0.01
    pred = resummed_prediction(L, sgd(T, 1, 1), 2, [eta], continuous=True).by_order[2, 0]
    assert pred == pytest.approx(cor.example_b_noise_term(st.C, st.H, eta, T), rel=1e-10)


def test_corollary2_gd_minus_sgd_displacement():
    L = random_landscape(12, dim=2, points=3)
    st = cor.named_statistics(L)
    N = 4
    d_gd = np.array(taylor_coefficients(L, gd(N, N), 2, "displacement"))
    d_sgd = np.array(taylor_coefficients(L, sgd(N, 1, 1), 2, "displacement"))
    eta = 0.01
    np.testing.assert_allclose((d_gd[2] - d_sgd[2]) * eta**2, cor.corollary2_gd_minus_sgd(st.gradC, eta, N),
                               rtol=1e-10)
    np.testing.assert_allclose(d_gd[1], d_sgd[1], rtol=1e-12)


def test_corollary7_epochs_displacement_engine_form():
    L = random_landscape(13, dim=2, points=3)
    st = cor.named_statistics(L)
    N, E0, eta0 = 3, 3, 0.01
    multi = np.array(taylor_coefficients(L, sgd(N, 1, E0), 2, "displacement"))
    one = np.array(taylor_coefficients(L, sgd(N, 1, 1), 2, "displacement"))
    diff = multi[2] * (eta0 / E0) ** 2 - one[2] * eta0**2
    np.testing.assert_allclose(diff, cor.corollary7_epochs_displacement(st.G, st.H, st.gradC, eta0, N, E0),
                               rtol=1e-10)


def test_corollary6_mean_estimation_exact_and_non_monotonic():
    eta, T, N, S = 0.05, 100, 10, 1.5
    C = np.array([[S * S]])
    overfit = []
    Hs = [0.01, 0.05, 0.2, 1.0, 5.0]
    for H in Hs:
        L = mean_estimation(H, S)
        pred = resummed_prediction(L, gd(N, T), 2, [eta]).value[0]  # l(θ*) = 0
        closed = cor.corollary6_overfitting(C, np.array([[H]]), eta, T, N)
        assert pred == pytest.approx(closed, rel=1e-10)
        gap = resummed_prediction(L, gd(N, T), 2, [eta], "gen-gap").value[0]
        assert gap == pytest.approx(cor.corollary6_generalization_gap(C, np.array([[H]]), eta, T, N), rel=1e-10)
        overfit.append(pred)
    k = int(np.argmax(overfit))
    assert 0 < k < len(Hs) - 1  # largest at a medium curvature H ~ 1/(ηT) = 0.2
    # T → ∞: the gap tends to C/(NH); AIC (= 1/N) when C = H
    L = mean_estimation(2.0, np.sqrt(2.0))
    gap = resummed_prediction(L, gd(N, 5000), 2, [eta], "gen-gap").value[0]
    assert gap == pytest.approx(1.0 / N, rel=1e-9)


def test_corollary3_sgd_minus_ode_on_a_noiseless_landscape():
    # Noiseless: every point has the same loss.  ODE = SGD refined k-fold (T·k steps at η/k), k → ∞.
    expr = "exp(0.3*t0)*t1 + 0.5*t0**2 + sin(t1)"
    L = FiniteLandscape(2, [0.2, -0.1], [0.5, 0.5], [expr, expr])
    st = cor.named_statistics(L)
    T, eta, k = 5, 0.01, 2000
    sgd_disp = np.array(taylor_coefficients(L, sgd(T, 1, 1), 2, "displacement"))
    ode_disp = np.array(taylor_coefficients(L, sgd(T * k, 1, 1), 2, "displacement"))
    diff = sgd_disp[2] * eta**2 - ode_disp[2] * (eta / k) ** 2
    np.testing.assert_allclose(diff, cor.corollary3_sgd_minus_ode(st.G, st.H, eta, T), rtol=2 / k)


def test_corollary1_closed_form_and_engine_on_helix():
    from sgd_diagrams.experiments.helix_theory import helix_drift_prediction
    from sgd_diagrams.landscapes.artificial import Helix

    st = cor.named_statistics(Helix().to_finite(n_nodes=8))
    for eta in (0.05, 0.02):
        T = 10_000
        closed = cor.corollary1_displacement(st.C, st.H, st.J, eta, T)
        assert closed[2] / T == pytest.approx(eta**2 / 6, rel=1e-9)  # the paper's +η²/6 per step
        assert np.allclose(closed[:2], 0, atol=1e-12)
        engine = helix_drift_prediction(eta, T)["asymptotic_drift_per_step"]
        assert engine == pytest.approx(closed[2] / T, rel=eta)  # agree up to O(η) corrections


def test_corollary5_is_the_resummed_skew_diagram():
    from sgd_diagrams.diagrams import parse
    from sgd_diagrams.theory.resummation import continuous_history_sum, eigen_propagator_basis, projected_uvalue
    from sgd_diagrams.values import UvalueEvaluator

    base = "0.5*(t0**2 + 0.7*t1**2) + 0.2*t0**3 + 0.1*t0*t1**2"
    xs, probs = (-1.0, 0.0, 2.0), (0.3, 0.5, 0.2)  # skewed data: S ≠ 0
    L = FiniteLandscape(2, [0.0, 0.0], probs, [f"{base} + ({x})*(t0 + 0.5*t1 + 0.3*t0*t1)" for x in xs])
    st = cor.named_statistics(L)
    assert np.min(np.linalg.eigvalsh(st.H)) > 0 and np.abs(st.S).max() > 0.1
    eta, T = 0.01, 300
    d = parse("r(aaa)")
    lam, W = eigen_propagator_basis(st.H)
    U = projected_uvalue(UvalueEvaluator(L, 3), d, W)
    labels = np.array(list(np.ndindex(2, 2, 2)))
    S_sum = continuous_history_sum(d, sgd(T, 1, 1), eta * lam[labels])
    engine = (-eta) ** 3 * float(S_sum @ U.reshape(-1))
    assert engine == pytest.approx(cor.corollary5_skew_term(st.S, st.H, st.J, eta, T), rel=1e-10)


def test_corollary4_is_sgd_minus_ode_and_sde_matches_sgd_at_order_two():
    quad = "0.5*(1.5*t0**2 + 0.6*t0*t1 + 0.8*t1**2)"

    def noisy(scale):
        noise = f"{scale}*(0.7*t0 - 0.4*t1)"
        return FiniteLandscape(2, [0.0, 0.0], [0.5, 0.5], [f"{quad} + {noise}", f"{quad} - {noise}"])

    T, k, eta = 4, 50, 0.01
    L = noisy(1.0)
    st = cor.named_statistics(L)
    c_sgd = taylor_coefficients(L, sgd(T, 1, 1), 2)[2] * eta**2
    c_sde = taylor_coefficients(noisy(np.sqrt(k)), sgd(T * k, 1, 1), 2)[2] * (eta / k) ** 2  # Wiener scaling
    c_ode = taylor_coefficients(FiniteLandscape(2, [0.0, 0.0], [1.0], [quad]), sgd(T * k, 1, 1), 2)[2] * (eta / k) ** 2
    assert c_sgd - c_ode == pytest.approx(cor.corollary4_noise_term(st.C, st.H, eta, T), rel=1e-10)
    assert c_sgd - c_sde == pytest.approx(0.0, abs=1e-15)
