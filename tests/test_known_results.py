"""The papers' closed forms that the unresummed series must reproduce.

Where the printed text and the brute-force expansion disagree the expansion
wins (see docs/discrepancies.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_landscape
from reference import brute_series

from sgd_diagrams.schedules import gd, sgd
from sgd_diagrams.theory import taylor_coefficients


def stats(landscape):
    """G, H and ∇C (∇_ρ C_{μλ}) from exact derivatives at θ0."""
    D = landscape.derivative_tensors(2)
    p = landscape.probs
    g, h = D[1], D[2]
    G = p @ g
    H = np.tensordot(p, h, axes=1)
    # ∇_ρ C_{μλ} = E[∇²_{ρμ} l ∇_λ l] + E[∇_μ l ∇²_{ρλ} l] − H_{ρμ} G_λ − G_μ H_{ρλ}
    Ehg = np.einsum("j,jrm,jl->rml", p, h, g)
    gradC = Ehg + Ehg.transpose(0, 2, 1) - np.einsum("rm,l->rml", H, G) - np.einsum("m,rl->rml", G, H)
    return G, H, gradC


@pytest.mark.parametrize("schedule", [sgd(4, 1, 1), sgd(4, 2, 3, shuffle_seed=1), gd(3, 5)], ids=repr)
def test_prop0_first_order_is_minus_T_G_eta_G(schedule):
    landscape = random_landscape(21, dim=2)
    G, _, _ = stats(landscape)
    c = taylor_coefficients(landscape, schedule, 1, "test-loss")
    assert c[1] == pytest.approx(-schedule.T * G @ G, rel=1e-12)
    # displacement: −T·ηG
    d = taylor_coefficients(landscape, schedule, 1, "displacement")
    np.testing.assert_allclose(d[1], -schedule.T * G, rtol=1e-12)


@pytest.mark.parametrize("N,M", [(3, 1), (3, 2), (4, 3)])
def test_app_a7_gd_exceeds_sgd_by_the_gradC_term(N, M):
    # App. A.7: pure GD (T = MN full-batch steps) minus E=M, B=1 SGD, at order η²,
    # equals M(N−1)/4 · G^ν ∇_ν C^μ_μ (trace taken through η).
    landscape = random_landscape(8, dim=2, points=3)
    G, _, gradC = stats(landscape)
    c_gd = taylor_coefficients(landscape, gd(N, M * N), 2, "test-loss")
    c_sgd = taylor_coefficients(landscape, sgd(N, 1, M), 2, "test-loss")
    expected = M * (N - 1) / 4 * np.einsum("r,rmm->", G, gradC)
    assert c_gd[1] == pytest.approx(c_sgd[1], rel=1e-12)
    assert c_gd[2] - c_sgd[2] == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("N,M0", [(3, 2), (4, 3), (5, 2)])
def test_app_a1_epochs_comparison_full_form(N, M0):
    # Question 2: M0-epoch SGD at η0/M0 minus 1-epoch SGD at η0, both B = 1.  The printed answer
    # keeps only (M0−1)/(4M0)·N·G∇C; the full expansion (and Prop 2) adds N(M0−1)/(2M0)·GηHηG.
    landscape = random_landscape(14, dim=2, points=3)
    G, H, gradC = stats(landscape)
    c_multi = taylor_coefficients(landscape, sgd(N, 1, M0), 2, "test-loss")
    c_one = taylor_coefficients(landscape, sgd(N, 1, 1), 2, "test-loss")
    assert c_multi[1] / M0 == pytest.approx(c_one[1], rel=1e-12)  # order η0: equal by the scaling
    diff = c_multi[2] / M0**2 - c_one[2]
    printed = (M0 - 1) / (4 * M0) * N * np.einsum("r,rmm->", G, gradC)
    curvature = N * (M0 - 1) / (2 * M0) * G @ H @ G
    assert diff == pytest.approx(printed + curvature, rel=1e-10, abs=1e-12)
    if abs(curvature) > 1e-6:
        assert diff != pytest.approx(printed, rel=1e-6)


def test_app_a1_against_brute_force_too():
    landscape = random_landscape(14, dim=2, points=3)
    N, M0 = 3, 2
    ref_multi = brute_series(landscape, sgd(N, 1, M0), 2)["test-loss"]
    ref_one = brute_series(landscape, sgd(N, 1, 1), 2)["test-loss"]
    G, H, gradC = stats(landscape)
    diff = ref_multi[2] / M0**2 - ref_one[2]
    assert diff == pytest.approx((M0 - 1) / (4 * M0) * N * np.einsum("r,rmm->", G, gradC)
                                 + N * (M0 - 1) / (2 * M0) * G @ H @ G, rel=1e-9)


def test_prop2_order_two_for_batched_multi_epoch_sgd():
    # Order η² of in-order SGD with N points, batch B | N, E epochs (T = E·N/B), assembled from
    # hand-derived history counts of the four two-edged diagrams (compare Prop 2 / Table 2).
    landscape = random_landscape(2, dim=2, points=2)
    N, B, E = 4, 2, 3
    T = E * N // B
    D = landscape.derivative_tensors(2)
    p = landscape.probs
    G, H, _ = stats(landscape)
    g, h = D[1], D[2]
    C = np.einsum("j,ja,jb->ab", p, g - G, g - G)
    kappa_hg = np.einsum("j,jab,jc->abc", p, h - H, g - G)  # cumulant ⟨∇²l, ∇l⟩
    ghg = G @ H @ G
    hgg = np.einsum("ab,a,b->", H, G, G)
    chh = np.einsum("ab,ab->", C, H)
    chain_tied = np.einsum("a,abc,bc->", G, kappa_hg, np.eye(2))
    # history counts: r(a(b)) C(T,2); r(ab) T²/2; r(aa) N·(E/B)²/2... per row E cells of weight 1/B
    count_chain = T * (T - 1) / 2
    count_cherry = T * T / 2
    count_cherry_tied = N * (E / B) ** 2 / 2
    count_chain_tied = N * E * (E - 1) / 2 / B**2
    expected = (count_chain * ghg + count_cherry * hgg + count_cherry_tied * chh
                + count_chain_tied * chain_tied)
    c = taylor_coefficients(landscape, sgd(N, B, E), 2)
    assert c[2] == pytest.approx(expected, rel=1e-12)
