"""Closed-form counts derived from weak orders of node times (seed 001 App. A.3, Prop 2).

Checked three ways: term by term against an exact fit of exact sweeps (``reference.fitted_count_polynomial``:
every diagram with ≤ 3 edges, a sample with 4), against the exact history sweep at sizes no fit ever saw
(5 edges, in-order SGD with B > 1 and E > 1, and GD), and the strict order polynomial against brute-force
enumeration.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import fitted_count_polynomial

from sgd_diagrams.diagrams import enumerate_diagrams, parse
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import example_landscape
from sgd_diagrams.schedules import gd, sgd
from sgd_diagrams.schedules.histories import history_count
from sgd_diagrams.schedules.sweep import history_sweep
from sgd_diagrams.theory import taylor_series
from sgd_diagrams.theory.order_polynomials import derived_count_polynomial, strict_order_polynomial
from sgd_diagrams.theory.structured_counts import (
    COUNT_FAMILIES,
    structured_count,
    structured_history_count,
)

FIVE = enumerate_diagrams(5, "train")  # test and displacement diagrams are among them
_rng = random.Random(5)
FIVE_TWO_TIED = [d for d in FIVE if len(history_sweep(d).tied_parts) >= 2]
FIVE_PICK = _rng.sample(FIVE, 3) + _rng.sample(FIVE_TWO_TIED, 3) + [
    parse("r(a(b)a(b)c)"),  # two tied parts of two nodes, one child each
    parse("a(a(b(b(c))))"),  # train root tied to its child, a chain
]


SMALL = {str(d): d for k in range(4) for kind in ("test", "train", "displacement") for d in enumerate_diagrams(k, kind)}
FOUR_FIT = random.Random(4).sample(enumerate_diagrams(4, "train"), 6) + [parse("r(a(b)a(c))"), parse("a(a(b)b)")]


@pytest.mark.parametrize("family", sorted(COUNT_FAMILIES))
def test_derived_polynomials_equal_an_exact_fit_of_the_sweeps(family):
    """Every diagram with ≤ 3 edges and a sample with 4, term by term against the interpolated exact sweeps."""
    for d in [*SMALL.values(), *FOUR_FIT]:
        assert derived_count_polynomial(d, family) == fitted_count_polynomial(d, family), (family, str(d))


@settings(max_examples=6, deadline=None)
@given(d=st.sampled_from(FIVE_PICK), size=st.sampled_from([(4, 2, 2), (3, 1, 2), (6, 3, 1), (4, 4, 2)]))
def test_five_edge_counts_equal_the_exact_sweep_on_in_order_sgd(d, size):
    N, B, E = size
    assert structured_count(d, "sgd", size) == history_count(d, sgd(N, B, E), exact=True)


@pytest.mark.parametrize("d", FIVE_PICK[:4])
def test_five_edge_counts_equal_the_exact_sweep_on_gd(d):
    assert structured_count(d, "gd", (3, 7)) == history_count(d, gd(3, 7), exact=True)


def test_five_edge_counts_at_a_larger_unseen_size_match_the_float_sweep():
    d = parse("r(a(b)a(b)c)")
    got = structured_history_count(d, sgd(40, 4, 3))
    assert got == pytest.approx(history_count(d, sgd(40, 4, 3)), rel=1e-12)


def test_series_of_order_five_reads_the_closed_forms():
    """Every term's count is the exact sweep's, on a grid small enough to sweep."""
    series = taylor_series(example_landscape(), sgd(4, 2, 2), 5)
    five = [t for t in series.terms if t.diagram.n_edges == 5]
    assert five
    for term in _rng.sample(five, 4):
        assert term.count == pytest.approx(history_count(term.diagram, sgd(4, 2, 2)), rel=1e-12)


def test_series_of_order_five_at_n_one_thousand_needs_no_sweep():
    """The cost guard is never consulted: every order-5 count has a closed form (no force needed)."""
    series = taylor_series(example_landscape(), sgd(1000, 10, 2), 5)
    assert len(series.coefficients) == 6


def _brute_strict(n: int, edges, x: int) -> int:
    return sum(all(f[u] < f[w] for u, w in edges) for f in itertools.product(range(x), repeat=n))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 4), data=st.data())
def test_strict_order_polynomial_counts_strictly_increasing_maps(n, data):
    pairs = [(u, w) for u in range(n) for w in range(n) if u < w]
    edges = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    s = strict_order_polynomial(n, edges)
    for x in range(5):
        assert sum(sj * math.comb(x, j) for j, sj in enumerate(s)) == _brute_strict(n, edges, x)


def test_cycles_and_bad_input():
    assert strict_order_polynomial(2, [(0, 1), (1, 0)]) == (0, 0, 0)
    assert strict_order_polynomial(1, [(0, 0)]) == (0, 0)
    with pytest.raises(SgdDiagramsError, match="vertices"):
        strict_order_polynomial(2, [(0, 2)])
    with pytest.raises(SgdDiagramsError, match="family"):
        derived_count_polynomial(parse("r(a)"), "adam")
    with pytest.raises(SgdDiagramsError, match="positive integers"):
        structured_count(parse("r(a)"), "sgd", (10, 0, 1))
    seven = parse("r(a(b(c(d(e(f(g)))))))")
    with pytest.raises(SgdDiagramsError, match="edges"):
        derived_count_polynomial(seven, "sgd")
    assert structured_count(seven, "sgd", (10, 1, 1)) is None
