"""Symbolic coefficients (seed 001 Prop 0, Prop 2, Table 2) against exact numeric history counts."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.diagrams import enumerate_diagrams, parse
from sgd_diagrams.diagrams.value_names import value_name
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import FiniteLandscape
from sgd_diagrams.schedules import gd, sgd
from sgd_diagrams.schedules.histories import history_count
from sgd_diagrams.theory import taylor_series
from sgd_diagrams.theory.interpolation import evaluate_polynomial, fit_polynomial
from sgd_diagrams.theory.symbolic import (
    B,
    E,
    N,
    T,
    family_schedule,
    in_steps,
    symbolic_history_count,
    symbolic_series,
)
from sgd_diagrams.theory.symbolic_format import FORMATS, format_series
from sgd_diagrams.values import UvalueEvaluator

TEST_DIAGRAMS = [d for k in range(4) for d in enumerate_diagrams(k, "test")]
TRAIN_SHARED = [d for k in range(1, 4) for d in enumerate_diagrams(k, "train") if not d.root_alone]


def _at(expr, **values) -> Fraction:
    v = expr.subs({sp.Symbol(k, positive=True): x for k, x in values.items()})
    if not isinstance(v, sp.Rational):  # sympy 1.14's nsimplify mangles some Rationals (1455/2), so only here
        v = sp.nsimplify(v)
    return Fraction(int(v.p), int(v.q))


# -- the formulas equal exact history counts, also off the fitting grid ------------------------
@settings(max_examples=40, deadline=None)
@given(
    d=st.sampled_from(TEST_DIAGRAMS + TRAIN_SHARED),
    M=st.integers(1, 7),
    b=st.integers(1, 5),
    e=st.integers(1, 6),
)
def test_sgd_formula_equals_exact_count(d, M, b, e):
    expr = symbolic_history_count(d, "sgd")
    assert _at(expr, N=M * b, B=b, E=e) == history_count(d, sgd(M * b, b, e), exact=True)


@settings(max_examples=30, deadline=None)
@given(d=st.sampled_from(TEST_DIAGRAMS + TRAIN_SHARED), n=st.integers(1, 6), t=st.integers(1, 9))
def test_gd_formula_equals_exact_count(d, n, t):
    expr = symbolic_history_count(d, "gd")
    assert _at(expr, N=n, T=t) == history_count(d, gd(n, t), exact=True)


def test_term_evaluate_matches_history_count_with_sign():
    series = symbolic_series(3, "sgd", "test-loss")
    for term in series.terms:
        exact = history_count(term.diagram, sgd(6, 2, 3), exact=True)
        assert term.evaluate(N=6, B=2, E=3) == (-1) ** term.edges * exact


def test_gen_gap_sign():
    series = symbolic_series(2, "gd", "gen-gap")
    a_a = next(t for t in series.terms if t.notation == "a(a)")
    # seed 001 Corollary 6, second part: +C/N per step to leading order (test − train)
    assert sp.simplify(a_a.coefficient - T / N) == 0


# -- Prop 0 and Prop 2 --------------------------------------------------------------------------
def test_prop0_coefficient_is_minus_T():
    series = symbolic_series(1)
    term = next(t for t in series.terms if t.notation == "r(a)")
    assert sp.simplify(term.coefficient + E * N / B) == 0
    assert sp.simplify(in_steps(term.coefficient) + T) == 0


def test_prop2_reproduced():
    """Seed 001 Prop 2 with M = T/N = E/B: l − T·GG + T(T−½)·GHG + T(M/2)·CH + T(M − 1/B)/2 · (∇C)G/2."""
    terms = {t.notation: in_steps(t.coefficient) for t in symbolic_series(2).terms}
    M = T / N
    assert terms["r"] == 1
    assert sp.simplify(terms["r(a)"] + T) == 0
    # r(ab) and r(a(b)) both evaluate to G_μ H^μ_ν G^ν
    assert sp.simplify(terms["r(ab)"] + terms["r(a(b))"] - T * (T - sp.Rational(1, 2))) == 0
    assert sp.simplify(terms["r(aa)"] - T * M / 2) == 0
    # r(a(a)) has value ½ G_μ ∇^μ C^ν_ν = (∇_μ C^ν_ν) G^μ / 2
    assert sp.simplify(terms["r(a(a))"] - T * (M - 1 / B) / 2) == 0


def test_table2_embedding_counts():
    """Table 2 counts embeddings weighted by 1/|Aut_f|; the count divides by B per node."""
    Mx = E / B  # seed 001's M
    c = {t.notation: t.coefficient for t in symbolic_series(2).terms}
    cells = Mx * N * B
    assert sp.simplify(c["r(a(b))"] - sp.binomial(Mx * N, 2).expand(func=True) * B**2 / B**2) == 0
    assert sp.simplify(c["r(a(a))"] - N * sp.binomial(Mx * B, 2).expand(func=True) / B**2) == 0
    assert sp.simplify(c["r(ab)"] - (cells * (cells - 1) / 2 + cells / 2) / B**2) == 0


# -- shuffling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("quantity_kind", ["test", "train", "displacement"])
def test_shuffled_sgd_has_same_counts_through_order_3(quantity_kind):
    for k in range(4):
        for d in enumerate_diagrams(k, quantity_kind):
            for n, b, e in [(4, 1, 3), (6, 2, 2)]:
                want = _at(symbolic_history_count(d, "sgd"), N=n, B=b, E=e)
                for seed in (0, 1):
                    assert history_count(d, sgd(n, b, e, shuffle_seed=seed), exact=True) == want


def test_shuffled_sgd_differs_at_order_4_even_with_batch_1():
    d = parse("r(a(b)a(c))")
    in_order = history_count(d, sgd(4, 1, 3), exact=True)
    assert _at(symbolic_history_count(d, "sgd"), N=4, B=1, E=3) == in_order
    assert any(history_count(d, sgd(4, 1, 3, shuffle_seed=s), exact=True) != in_order for s in range(4))


# -- the symbolic series reproduces the numeric series ----------------------------------------
def _landscape() -> FiniteLandscape:
    return FiniteLandscape(
        2,
        [0.3, -0.2],
        [0.5, 0.3, 0.2],
        ["t0**2 + sin(t1) + t0*t1", "exp(0.5*t0) - t1**3", "cos(t0 - t1) + 0.3*t1**2"],
    )


@pytest.mark.parametrize(
    ("family", "numbers", "quantity"),
    [
        ("sgd", {"N": 4, "B": 2, "E": 3}, "test-loss"),
        ("sgd", {"N": 3, "B": 1, "E": 2}, "train-loss"),
        ("sgd", {"N": 6, "B": 3, "E": 2}, "gen-gap"),
        ("gd", {"N": 3, "T": 4}, "test-loss"),
        ("sgd", {"N": 4, "B": 2, "E": 2}, "displacement"),
    ],
)
def test_symbolic_series_equals_numeric_series(family, numbers, quantity):
    land = _landscape()
    schedule = family_schedule(family, **numbers)
    numeric = taylor_series(land, schedule, 3, quantity)
    series = symbolic_series(3, family, quantity)
    ev = UvalueEvaluator(land, 3)
    root = "displacement" if quantity == "displacement" else "loss"
    values = {t.diagram: ev(t.diagram, root=root) for t in series.terms}
    got = series.coefficients(values, **numbers)
    for a, b in zip(got, numeric.coefficients, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# -- interpolation, formats, errors ---------------------------------------------------------
def test_fit_polynomial_recovers_laurent_polynomial():
    def f(x, y):
        return 3 * x**2 * y - Fraction(1, 2) * x / y + 7

    poly = fit_polynomial(f, [[1, 2, 3], [Fraction(1), Fraction(2), Fraction(3)]], [(0, 2), (-1, 1)])
    assert evaluate_polynomial(poly, [Fraction(5), Fraction(7)]) == f(Fraction(5), Fraction(7))


def test_formats():
    series = symbolic_series(2)
    for fmt in FORMATS:
        out = format_series(series, fmt)
        assert "r(a(a))" in out or fmt == "latex"
    obj = json.loads(format_series(series, "json"))
    assert obj["schedule"] == "sgd" and obj["order"] == 2 and obj["quantity"] == "test-loss"
    row = next(t for t in obj["terms"] if t["notation"] == "r(a)")
    assert sp.sympify(row["coefficient"], locals={"N": N, "B": B, "E": E}) == -E * N / B
    assert row["edges"] == 1 and row["name"] == "G_μ G^μ"
    assert r"\begin{align*}" in format_series(series, "latex")
    md = format_series(series, "markdown", pictures={parse("r(a)"): "d/r_a.png"})
    assert '<img src="d/r_a.png" alt="r(a)"' in md


def test_substitute_and_names():
    s = symbolic_series(2).substitute(E=1)
    assert all(t.notation != "r(a(a))" for t in s.terms)  # one epoch: no same-row chain
    d = parse("r(a(b)a(c))")  # 4 edges: fallback name, formula still exact
    assert value_name(d) == "uvalue[r(a(b)a(c))]"
    assert _at(symbolic_history_count(d, "sgd"), N=10, B=2, E=3) == history_count(d, sgd(10, 2, 3), exact=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda: symbolic_series(2, "adam"),
        lambda: symbolic_series(9),
        lambda: symbolic_series(-1),
        lambda: symbolic_series(2, "sgd", "loss"),
        lambda: symbolic_series(2).substitute(T=3),
        lambda: symbolic_series(1).terms[1].evaluate(N=3),
        lambda: family_schedule("sgd", N=3, B=2, E=1),
        lambda: family_schedule("gd", N=3),
        lambda: format_series(symbolic_series(1), "pdf"),
        lambda: symbolic_history_count("r(a)", "sgd"),
    ],
)
def test_bad_input_raises_one_line_error(call):
    with pytest.raises(SgdDiagramsError) as info:
        call()
    assert "\n" not in str(info.value)
