"""Cumulants (outline rule) and uvalues (node, outline, edge rules)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_landscape, seeds
from hypothesis import given, settings

from sgd_diagrams.diagrams import parse
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import FiniteLandscape
from sgd_diagrams.values import UvalueEvaluator, joint_cumulant, set_partitions_of, uvalue


def test_set_partitions_are_bell_numbers():
    assert [sum(1 for _ in set_partitions_of(range(n))) for n in range(7)] == [1, 1, 2, 5, 15, 52, 203]


@settings(max_examples=30, deadline=None)
@given(seeds)
def test_scalar_cumulants_match_textbook_formulas(seed):
    rng = np.random.default_rng(seed)
    K = 4
    p = rng.dirichlet(np.ones(K))
    x = rng.normal(size=K)
    y = rng.normal(size=K)
    mx, my = p @ x, p @ y
    assert joint_cumulant([x], p) == pytest.approx(mx)
    assert joint_cumulant([x, y], p) == pytest.approx(p @ ((x - mx) * (y - my)))
    assert joint_cumulant([x, x, x], p) == pytest.approx(p @ (x - mx) ** 3)
    k4 = p @ (x - mx) ** 4 - 3 * (p @ (x - mx) ** 2) ** 2
    assert joint_cumulant([x, x, x, x], p) == pytest.approx(k4, abs=1e-12)


def test_cumulants_vanish_with_a_constant_and_for_a_point_mass():
    p = np.array([0.2, 0.8])
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    c = np.array([[5.0, 5.0], [5.0, 5.0]])
    np.testing.assert_allclose(joint_cumulant([x, c], p), 0, atol=1e-14)
    np.testing.assert_allclose(joint_cumulant([x, x, c], p), 0, atol=1e-13)


def test_named_uvalues_on_a_landscape():
    L = random_landscape(4, dim=2, points=3)
    D = L.derivative_tensors(3)
    p = L.probs
    G = p @ D[1]
    H = np.tensordot(p, D[2], axes=1)
    J = np.tensordot(p, D[3], axes=1)
    C = L.gradient_covariance
    S = np.einsum("j,ja,jb,jc->abc", p, D[1] - G, D[1] - G, D[1] - G)
    P = np.array([[0.7, 0.2], [0.2, 1.1]])
    ev = UvalueEvaluator(L, 3, metric=P)
    assert ev(parse("r(a)")) == pytest.approx(G @ P @ G)
    assert ev(parse("r(a(b))")) == pytest.approx(G @ P @ H @ P @ G)
    assert ev(parse("r(ab)")) == pytest.approx(np.einsum("ab,a,b->", H, P @ G, P @ G))
    assert ev(parse("r(aa)")) == pytest.approx(np.einsum("ab,ac,bd,cd->", C, P, P, H))
    assert ev(parse("r(aaa)")) == pytest.approx(np.einsum("abc,ad,be,cf,def->", S, P, P, P, J))
    np.testing.assert_allclose(ev(parse("r(a)"), root="displacement"), P @ G)
    np.testing.assert_allclose(ev(parse("r(a(bc))"), root="displacement"),
                               P @ np.einsum("abc,b,c->a", J, P @ G, P @ G))


def test_uvalue_function_and_displacement_validation():
    L = FiniteLandscape(1, [0.0], [0.5, 0.5], ["t0**2/2 + t0", "t0**2/2 - t0"])
    assert uvalue(parse("r(a)"), L) == pytest.approx(0.0)  # G = 0
    assert uvalue(parse("r(aa)"), L) == pytest.approx(1.0)  # C = 1, H = 1
    with pytest.raises(SgdDiagramsError, match="not a displacement diagram"):
        uvalue(parse("r(ab)"), L, root="displacement")
