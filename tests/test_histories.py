"""History counts: the fast time sweep against brute-force enumeration of labelled maps."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from conftest import random_schedule, seeds
from hypothesis import given, settings
from reference import brute_history_count

from sgd_diagrams.diagrams import enumerate_diagrams, parse
from sgd_diagrams.schedules import from_batches, gd, sgd
from sgd_diagrams.schedules.histories import has_history, history_count

SMALL = [sgd(3, 1, 1), sgd(2, 1, 3), sgd(4, 2, 2, shuffle_seed=5), gd(2, 3),
         from_batches(3, [[0], [1, 2], [0, 1, 2], [2]]), sgd(4, 2, 1)]


@pytest.mark.parametrize("schedule", SMALL, ids=repr)
@pytest.mark.parametrize("kind", ["test", "train"])
def test_exact_counts_equal_brute_force(schedule, kind):
    for edges in range(4):
        for d in enumerate_diagrams(edges, kind):
            assert history_count(d, schedule, exact=True) == brute_history_count(d, schedule), str(d)


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_float_counts_equal_brute_force_on_random_schedules(seed):
    schedule = random_schedule(seed, max_N=3, max_T=5)
    for d in enumerate_diagrams(3, "train") + enumerate_diagrams(2, "train"):
        ref = float(brute_history_count(d, schedule))
        assert math.isclose(history_count(d, schedule), ref, rel_tol=1e-12, abs_tol=1e-12), (str(d), schedule)


def test_order_four_two_tied_parts_against_brute_force():
    s = sgd(2, 1, 2, shuffle_seed=1)
    for d in enumerate_diagrams(4, "test"):
        assert history_count(d, s, exact=True) == brute_history_count(d, s)


def test_closed_forms():
    T = 37
    s = sgd(T, 1, 1)
    assert history_count(parse("r(a)"), s) == T  # Prop 0's T histories
    assert history_count(parse("r(a(b))"), s) == math.comb(T, 2)
    assert history_count(parse("r(a(b(c)))"), s) == math.comb(T, 3)
    assert history_count(parse("r(ab)"), s) == T * T / 2
    # E = B = 1: an ancestor-descendant pair in one part has no history (seed 001 §diagrams)
    assert history_count(parse("r(a(a))"), s) == 0
    assert not has_history(parse("r(a(b(a)))"), s)
    # M epochs, B = 1: C(M,2)·N histories of r(a(a)) (App. A.1)
    N, M = 5, 3
    assert history_count(parse("r(a(a))"), sgd(N, 1, M), exact=True) == math.comb(M, 2) * N
    # GD with T steps on N points: r(a(a)) counts C(T,2)/N
    assert history_count(parse("r(a(a))"), gd(N, 7), exact=True) == Fraction(math.comb(7, 2), N)
    # train: the root shares a row with its child: weight 1/N per history of the child
    assert history_count(parse("a(a)"), sgd(N, 1, M), exact=True) == Fraction(N * M, N)


def test_large_sgd_schedule_is_fast_and_matches_closed_forms():
    N = 3000
    s = sgd(N, 1, 2, shuffle_seed=0)
    T = s.T
    # r(a(a)) in two epochs: each row has 2 cells → one ordered pair per row
    assert history_count(parse("r(a(a))"), s) == N
    # r(aa): both leaves in one row (4 labelled maps per row) / |Aut| = 2
    assert history_count(parse("r(aa)"), s) == 2 * N
    assert history_count(parse("r(a(b))"), s) == math.comb(T, 2)
