"""The authors' coefficient tables (bohrium/perturb ``code/coefficients.py``) against our engine.

See ``docs/authors_code.md``.  The engine is itself checked against a brute-force expansion
(``tests/test_series_bruteforce.py``); here it is the reference for four claims:

1. their order-2 one-epoch test-loss coefficient lacks C(T, 2)·GηHηG;
2. their order-3 generalization-gap table is wrong in 12 of the 16 names the expansion needs;
3. their SDE order-3 table is right with covariances where it uses moments;
4. their ``gd_minus_sgd`` is SGD − GD.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from authors_code import (
    ORDER3,
    binomial_basis,
    moments,
    their_gd_minus_sgd_order2,
    their_gen_order3_terms,
    their_sde_order3,
    their_test_order2,
    their_test_order3,
    wiener_symmetric,
)
from conftest import random_landscape

from sgd_diagrams.schedules import gd, sgd
from sgd_diagrams.theory import taylor_coefficients


@pytest.fixture(scope="module")
def landscapes():
    return [random_landscape(100 + s, dim=2, points=4, polynomial=True) for s in range(24)]


@pytest.fixture(scope="module")
def values(landscapes):
    return [moments(L) for L in landscapes]


def test_order2_test_loss_lacks_the_chain_term(landscapes, values):
    for T in (2, 3, 5):
        for L, v in zip(landscapes[:4], values[:4], strict=True):
            ours = taylor_coefficients(L, sgd(T, 1, 1), 2)[2]
            assert ours - their_test_order2(v, T) == pytest.approx(comb(T, 2) * v["Vpln"], rel=1e-9, abs=1e-12)
            assert abs(comb(T, 2) * v["Vpln"]) > 1e-6  # the missing term is not zero on these landscapes


def test_order3_test_loss_table_is_right(landscapes, values):
    for L, v in zip(landscapes[:4], values[:4], strict=True):
        assert taylor_coefficients(L, sgd(4, 1, 1), 3)[3] == pytest.approx(their_test_order3(v, 4), rel=1e-9)


def correct_gen_gap_order3(landscapes, values, Ts=(3, 4, 5, 6)) -> dict[str, np.ndarray]:
    """Our order-3 one-epoch gen-gap coefficient in their basis: per name, the multiples of
    C(T,3)/N, C(T,2)/N and T/N (N = T), recovered by exact linear algebra from the engine."""
    X = np.array([[v[n] for n in ORDER3] for v in values])
    assert np.linalg.matrix_rank(X, tol=1e-8) == len(ORDER3)  # the names are independent functionals
    per_T = []
    for T in Ts:
        y = np.array([taylor_coefficients(L, sgd(T, 1, 1), 3, "gen-gap")[3] for L in landscapes])
        a, *_ = np.linalg.lstsq(X, y, rcond=None)
        assert np.max(np.abs(X @ a - y)) < 1e-8 * (1 + np.max(np.abs(y)))
        per_T.append(a)
    B = np.array([binomial_basis(T, T) for T in Ts])
    return {n: np.linalg.lstsq(B, np.array([a[i] for a in per_T]), rcond=None)[0] for i, n in enumerate(ORDER3)}


def test_order3_gen_gap_table_is_wrong_in_12_of_16_names(landscapes, values):
    ours = correct_gen_gap_order3(landscapes, values)
    Ts = (3, 4, 5, 6)
    B = np.array([binomial_basis(T, T) for T in Ts])
    theirs = {n: np.linalg.lstsq(B, np.array([their_gen_order3_terms(T, T).get(n, 0.0) for T in Ts]),
                                 rcond=None)[0] for n in ORDER3}
    needed = [n for n in ORDER3 if np.max(np.abs(ours[n])) > 1e-9]
    wrong = [n for n in ORDER3 if not np.allclose(ours[n], theirs[n], atol=1e-9)]
    assert len(needed) == 16 and set(wrong) <= set(needed)
    assert sorted(set(needed) - set(wrong)) == ["Yall", "Ypln", "Zpln", "Ztwg"]
    assert len(wrong) == 12
    # e.g. the expansion has C(T,2)/N·(Zexc + Zsli + Zvee + Zsii) and C(T,3)/N·3·Zmid; the table has none / 2·Zmid
    np.testing.assert_allclose(ours["Zmid"], [3, 0, 0], atol=1e-9)
    np.testing.assert_allclose([ours[n][1] for n in ("Zexc", "Zsli", "Zvee", "Zsii")], [1, 1, 1, 1], atol=1e-9)


def test_sde_order3_table_needs_covariances_not_moments():
    L = random_landscape(200, dim=2, points=3, polynomial=True)
    T, ks = 3, (2, 4, 8, 16)
    c = [taylor_coefficients(wiener_symmetric(L, k), sgd(T * k, 1, 1), 3)[3] / k**3 for k in ks]
    sde = np.polyfit(1.0 / np.array(ks), c, len(ks) - 1)[-1]  # exact: a polynomial in 1/k of degree < 3
    assert their_sde_order3(moments(L, covariances=True), T) == pytest.approx(sde, rel=1e-8)
    assert abs(their_sde_order3(moments(L), T) - sde) > 1e-2 * abs(sde)


def test_gd_minus_sgd_is_sgd_minus_gd(landscapes, values):
    N = 4
    for L, v in zip(landscapes[:4], values[:4], strict=True):
        gd_minus_sgd = taylor_coefficients(L, gd(N, N), 2)[2] - taylor_coefficients(L, sgd(N, 1, 1), 2)[2]
        assert their_gd_minus_sgd_order2(v, N, N) == pytest.approx(-gd_minus_sgd, rel=1e-9, abs=1e-12)
        assert abs(gd_minus_sgd) > 1e-8
