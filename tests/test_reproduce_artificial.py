"""The artificial reproductions (helix, helix-loop, gauss-sde, nongaussian, cubic-chi) and their landscapes.

Unit tests check the new landscapes (CubicChi, GAUSS-NORMAL, HELIX-RING) against brute force, the closed
form of SGD − SDE at a minimum against the engine, and the paired-trial coupling; the slow test runs every
experiment in quick mode and checks its JSON against the claim's shape.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.experiments.reproduce import VERDICTS, check_outputs, run_reproduction
from sgd_diagrams.experiments.reproduce.gauss_sde import coupled_rows, sde_coefficients, sde_limit_coefficients
from sgd_diagrams.landscapes import FiniteLandscape, landscape
from sgd_diagrams.landscapes.artificial import CubicChi, Gauss, GaussNormal, Helix, HelixRing
from sgd_diagrams.schedules import sgd
from sgd_diagrams.theory import taylor_coefficients
from sgd_diagrams.theory.corollaries import named_statistics, sgd_minus_sde_at_minimum

small = st.floats(min_value=-0.8, max_value=0.8, allow_nan=False)


def _grad(land, theta: np.ndarray, x: float) -> np.ndarray:
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    land.pointwise_loss(t, torch.tensor(x, dtype=torch.float64)).backward()
    return t.grad.numpy()


@given(small, st.floats(min_value=-3, max_value=3, allow_nan=False))
@settings(max_examples=30, deadline=None)
def test_cubic_chi_loss_and_gradient_are_the_authors(w, x):
    land = CubicChi()
    theta, xt = torch.tensor([w], dtype=torch.float64), torch.tensor(x, dtype=torch.float64)
    assert float(land.pointwise_loss(theta, xt)) == pytest.approx(w**3 - w * (x**2 - 1), rel=1e-12, abs=1e-15)
    assert _grad(land, np.array([w]), x)[0] == pytest.approx(3 * w**2 - (x**2 - 1), abs=1e-12)


def test_cubic_chi_statistics_at_zero_are_exact():
    s = named_statistics(CubicChi().to_exact())
    assert s.G[0] == pytest.approx(0, abs=1e-12) and s.H[0, 0] == pytest.approx(0, abs=1e-12)
    assert s.J.item() == pytest.approx(6) and s.C.item() == pytest.approx(2) and s.S.item() == pytest.approx(-8)
    # one-step SGD: w_1 = η(x² − 1), E[w_1³] = η³·E[(x² − 1)³] = 8η³ — the engine's T = 1 coefficient
    assert taylor_coefficients(CubicChi().to_exact(), sgd(1, 1, 1), 3)[3] == pytest.approx(8.0)


def test_cubic_chi_is_a_builtin_landscape():
    land = landscape("cubic-chi")
    assert isinstance(land, CubicChi) and land.init.tolist() == [0.0]


@pytest.mark.parametrize("h", [-0.4, 0.0, 0.7])
def test_gauss_normal_shares_gauss_means_and_covariances(h):
    a, b = (named_statistics(L(h).to_finite(n_nodes=8)) for L in (Gauss, GaussNormal))
    for name in ("G", "H", "J", "C", "gradC"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-12)
    assert abs(b.S.item()) < 1e-12 < abs(a.S.item())


def test_gauss_normal_torch_loss_matches_its_formula():
    land = GaussNormal(0.2, scale=3.0)
    x = 0.37
    want = 0.5 * (0.2 + (1 + math.sqrt(2) * 3.0 * x) * math.exp(-0.2))
    assert float(land.pointwise_loss(land.init, torch.tensor(x))) == pytest.approx(want)
    finite = land.to_finite(n_nodes=3)
    nodes = np.polynomial.hermite_e.hermegauss(3)[0]
    want1 = 0.5 * (0.2 + (1 + math.sqrt(18) * nodes[1]) * math.exp(-0.2))
    assert finite.loss(1, np.array([0.2])) == pytest.approx(want1)


@given(st.floats(min_value=-0.5, max_value=0.5), st.floats(min_value=-0.5, max_value=0.5),
       st.floats(min_value=-math.pi, max_value=math.pi), st.floats(min_value=-2, max_value=2))
@settings(max_examples=30, deadline=None)
def test_helix_ring_is_helix_in_local_coordinates(u, v, phi, x):
    m = 3
    ring, helix = HelixRing(m), Helix()
    r = ring.radius + u
    theta = torch.tensor([r * math.cos(phi), r * math.sin(phi), v], dtype=torch.float64)
    local = torch.tensor([u, v, m * phi], dtype=torch.float64)
    xt = torch.tensor(x, dtype=torch.float64)
    assert float(ring.pointwise_loss(theta, xt)) == pytest.approx(float(helix.pointwise_loss(local, xt)), abs=1e-12)


def test_helix_ring_exact_derivatives_match_finite_differences():
    ring = HelixRing(4)
    finite = ring.to_finite(n_nodes=2)
    nodes = np.polynomial.hermite_e.hermegauss(2)[0]
    theta = np.array([4.2, -0.7, 0.3])
    h = 1e-5
    for j, x in enumerate(nodes):
        xt = torch.tensor(x, dtype=torch.float64)

        def f(th, xt=xt):
            return float(ring.pointwise_loss(torch.tensor(th, dtype=torch.float64), xt))

        assert finite.loss(j, theta) == pytest.approx(f(theta), abs=1e-12)
        fd = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(finite.gradient(j, theta), fd, atol=1e-8)
    # exact Hessians and third derivatives at θ0 against central differences of the exact lower ones
    init = ring.init.numpy()
    D = finite.derivative_tensors(3)
    for j in range(2):
        hess_fd = np.stack([(finite.gradient(j, init + h * e) - finite.gradient(j, init - h * e)) / (2 * h)
                            for e in np.eye(3)])
        np.testing.assert_allclose(D[2][j], hess_fd, atol=1e-7)
    np.testing.assert_allclose(finite.mean_derivative(2), np.diag([2.0, 0.0, 1.0]), atol=1e-12)  # HELIX' H at z = 0
    # the valley is the circle of radius R: loss 0 and gradient 0 for every datum
    on = np.array([4 * math.cos(1.1), 4 * math.sin(1.1), 0.0])
    for j in range(2):
        assert finite.loss(j, on) == pytest.approx(0, abs=1e-12)


def test_sgd_minus_sde_at_a_minimum_matches_the_engine():
    """Closed form vs engine: SGD on a skewed landscape minus the Wiener-scaled SDE of a symmetric one."""
    base = "0.5*(t0**2 + 0.7*t1**2) + 0.2*t0**3 + 0.1*t0*t1**2"
    noise = "(t0 + 0.5*t1 + 0.3*t0*t1 - 0.2*t0**2)"  # θ-dependent noise: ∇C ≠ 0
    xs, probs = (-1.0, 0.0, 2.0), (0.4, 0.4, 0.2)  # mean 0, variance 1.2, third moment 1.2
    L = FiniteLandscape(2, [0.0, 0.0], list(probs), [f"{base} + ({x})*{noise}" for x in xs])
    st_ = named_statistics(L)
    assert np.allclose(st_.G, 0) and abs(st_.S).max() > 0.1
    sd_ = math.sqrt(1.2)

    def symmetric(scale: float) -> FiniteLandscape:
        return FiniteLandscape(2, [0.0, 0.0], [0.5, 0.5], [f"{base} + {s * scale * sd_}*{noise}" for s in (1, -1)])

    T = 3
    c_sgd = taylor_coefficients(L, sgd(T, 1, 1), 3)[3]
    ks = (2, 4, 8, 16)
    c_sde = [taylor_coefficients(symmetric(math.sqrt(k)), sgd(T * k, 1, 1), 3)[3] / k**3 for k in ks]
    limit = np.polyfit(1.0 / np.array(ks), c_sde, len(ks) - 1)[-1]
    closed = sgd_minus_sde_at_minimum(st_.C, st_.H, st_.J, st_.S, 1.0, T)
    assert c_sgd - limit == pytest.approx(closed["total"], rel=1e-8)
    c_sym = taylor_coefficients(symmetric(1.0), sgd(T, 1, 1), 3)[3]
    assert c_sgd - c_sym == pytest.approx(closed["skew"], rel=1e-8)


def test_sgd_minus_sde_at_order_two_is_time_discretization():
    """docs/discrepancies.md #6: SGD − SDE at order η² is −(T/2)·GηHηG, zero only at a critical point."""
    from authors_code import wiener_symmetric
    from conftest import random_landscape

    L = random_landscape(7, dim=2, points=3, polynomial=True)
    s = named_statistics(L)
    T, ks = 3, (2, 4, 8)
    c_sde = [taylor_coefficients(wiener_symmetric(L, k), sgd(T * k, 1, 1), 2)[2] / k**2 for k in ks]
    limit = np.polyfit(1.0 / np.array(ks), c_sde, len(ks) - 1)[-1]
    c_sgd = taylor_coefficients(L, sgd(T, 1, 1), 2)[2]
    ghg = float(s.G @ s.H @ s.G)
    assert abs(ghg) > 1e-3
    assert c_sgd - limit == pytest.approx(-T / 2 * ghg, rel=1e-8)


def test_gauss_sde_coefficients_have_the_closed_forms():
    assert sde_coefficients(1, 1)[3] == pytest.approx(0.0, abs=1e-15)  # k = 1 is SGD on the Gaussian counterpart
    limit = sde_limit_coefficients(1)
    assert limit[2] == pytest.approx(0.125) and limit[3] == pytest.approx(-1 / 16, rel=1e-9)
    st_ = named_statistics(Gauss().to_exact())
    closed = sgd_minus_sde_at_minimum(st_.C, st_.H, st_.J, st_.S, 1.0, 1)
    assert closed["skew"] == pytest.approx(-1 / 12) and closed["discretization"] == pytest.approx(1 / 16)


def test_coupled_rows_are_standard_normal_and_sum_to_the_gaussian_datum():
    w = torch.randn(200_000, 2, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x, z, sub = coupled_rows(w, 4)
    for v in (x.flatten(), z.flatten(), sub.flatten()):
        assert abs(float(v.mean())) < 0.01 and abs(float(v.var()) - 1) < 0.01
    torch.testing.assert_close(sub.reshape(-1, 2, 4).sum(dim=2), 2.0 * z)
    # z is a monotone function of x²
    order = torch.argsort(x[:, 0] ** 2)
    assert bool(torch.all(torch.diff(z[order, 0]) >= -1e-12))


MINE = ("helix", "helix-loop", "gauss-sde", "nongaussian", "cubic-chi")


@pytest.mark.slow
@pytest.mark.parametrize("name", MINE)
def test_quick_reproduction_meets_its_claims_shape(name, tmp_path):
    payload = run_reproduction(name, tmp_path, quick=True, seed=0, show_progress=False)
    assert payload["verdict"] in VERDICTS
    assert check_outputs(name, tmp_path) == []
    assert not (tmp_path / ".partial").exists()
