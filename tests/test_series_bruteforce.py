"""Theorem 1's series against the Key Lemma by brute force (the ground truth).

The reference enumerates every training sequence of a small finite landscape,
runs SGD on truncated power series in η and averages; it never sees a diagram.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_landscape, random_schedule, seeds
from hypothesis import given, settings
from reference import brute_series

from sgd_diagrams.schedules import from_batches, gd, sgd
from sgd_diagrams.theory import QUANTITIES, taylor_coefficients

QUANTITY_LIST = list(QUANTITIES)


def assert_series_match(landscape, schedule, order, metric=None):
    ref = brute_series(landscape, schedule, order, metric=metric)
    for q in QUANTITY_LIST:
        got = np.array(taylor_coefficients(landscape, schedule, order, q, metric=metric), dtype=np.float64)
        scale = max(1.0, float(np.max(np.abs(ref[q]))))
        np.testing.assert_allclose(got, ref[q], rtol=0, atol=1e-9 * scale, err_msg=f"{q} {schedule}")


@pytest.mark.parametrize(
    "schedule",
    [sgd(3, 1, 1), sgd(2, 1, 2), sgd(4, 2, 2, shuffle_seed=7), gd(3, 2),
     from_batches(3, [[0], [1, 2], [0, 1, 2], [2]]), sgd(2, 1, 3, shuffle_seed=3)],
    ids=repr,
)
def test_order_four_all_quantities(schedule):
    assert_series_match(random_landscape(11, dim=2, points=3), schedule, 4)


@settings(max_examples=12, deadline=None)
@given(seeds, seeds)
def test_random_landscapes_and_schedules_order_three(seed_l, seed_s):
    assert_series_match(random_landscape(seed_l), random_schedule(seed_s, max_N=3, max_T=5), 3)


def test_three_dimensional_landscape_order_four():
    assert_series_match(random_landscape(5, dim=3, points=2), sgd(3, 1, 1), 4)


def test_matrix_learning_rate():
    landscape = random_landscape(3, dim=2, points=3)
    metric = np.array([[1.0, 0.3], [0.3, 0.5]])
    assert_series_match(landscape, sgd(2, 1, 2), 3, metric=metric)
