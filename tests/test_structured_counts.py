"""The derived closed-form history counts of in-order SGD and GD (seed 001 Prop 2, App. A.3) against exact sweeps."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.diagrams import enumerate_diagrams, parse
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import example_landscape
from sgd_diagrams.schedules import Schedule, from_batches, gd, sgd
from sgd_diagrams.schedules.histories import history_count
from sgd_diagrams.theory import taylor_series
from sgd_diagrams.theory.structured_counts import structured_count, structured_family, structured_history_count
from sgd_diagrams.values import UvalueEvaluator

SMALL = [d for k in range(4) for d in enumerate_diagrams(k, "train")]  # test/displacement are among them
FOUR = enumerate_diagrams(4, "train")
FOUR_SAMPLE = random.Random(4).sample(FOUR, 24) + [parse("r(a(b)a(c))"), parse("r(a(b)a(b))"), parse("r(a(b)b(a))")]


def _structured_schedule(family: str, a: int, b: int, c: int) -> Schedule:
    if family == "gd":
        return gd(a, b)
    return sgd(a * b, b, c)  # N = M·B


sizes = st.tuples(st.sampled_from(("sgd", "gd")), st.integers(1, 4), st.integers(1, 5), st.integers(1, 3))


# -- against exact sweeps -----------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(sizes)
def test_closed_form_equals_exact_counts_up_to_three_edges(params):
    schedule = _structured_schedule(*params)
    family, values = structured_family(schedule)
    assert family == params[0]
    for d in SMALL:
        exact = history_count(d, schedule, exact=True)
        assert structured_count(d, family, values) == exact, str(d)
        assert structured_history_count(d, schedule) == float(exact)


@settings(max_examples=12, deadline=None)
@given(sizes)
def test_closed_form_equals_exact_counts_four_edges(params):
    schedule = _structured_schedule(*params)
    for d in FOUR_SAMPLE:
        exact = history_count(d, schedule, exact=True)
        assert structured_history_count(d, schedule) == float(exact), str(d)
        assert structured_count(d, *structured_family(schedule)) == exact


def test_not_structured_gives_none():
    d = parse("r(a(b)a(c))")
    plain = sgd(6, 2, 2)
    assert structured_history_count(d, plain) is not None
    assert structured_history_count(d, sgd(6, 2, 2, shuffle_seed=0)) is None
    assert structured_history_count(d, from_batches(6, plain.batches)) is None
    # a copied description on other batches is caught by the O(T) check
    forged = Schedule(6, tuple(reversed(plain.batches)), dict(plain.description))
    assert structured_history_count(d, forged) is None
    assert structured_history_count(d, Schedule(3, ((0, 1, 2),) * 2, {"N": 3, "T": 3, "gd": True})) is None
    assert structured_history_count(d, Schedule(3, ((0, 1),) * 2, {"N": 3, "T": 2, "gd": True})) is None
    seven = parse("r(a(b(c(d(e(f(g)))))))")  # beyond the derived closed forms (6 edges)
    assert structured_history_count(seven, plain) is None and structured_history_count(seven, gd(3, 4)) is None
    assert structured_history_count(d, gd(3, 4)) == float(history_count(d, gd(3, 4), exact=True))


# -- in taylor_series ------------------------------------------------------------------------------
def _old_coefficients(landscape, schedule, order, quantity):
    """The coefficients with every count swept (no closed forms)."""
    from sgd_diagrams.diagrams import quantity as as_quantity

    q = as_quantity(quantity)
    ev = UvalueEvaluator(landscape, order)
    out = []
    for k in range(order + 1):
        c = np.zeros(landscape.dim) if q.is_vector else 0.0
        for d in q.diagrams(k):
            count = history_count(d, schedule)
            if count:
                c = c + q.sign * (-1) ** k * count * ev(d, root=q.root)
        out.append(c)
    return out


@pytest.mark.parametrize("schedule", [sgd(40, 1, 1), sgd(20, 2, 3), gd(40, 40)], ids=repr)
@pytest.mark.parametrize("quantity", ["test-loss", "train-loss", "displacement"])
def test_series_equals_swept_counts(schedule, quantity):
    land = example_landscape()
    new = taylor_series(land, schedule, 4, quantity).coefficients
    old = _old_coefficients(land, schedule, 4, quantity)
    for a, b in zip(new, old, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


def test_order_four_at_realistic_n_is_fast():
    land = example_landscape()
    for schedule in (sgd(100_000, 1, 1), gd(100_000, 100_000)):
        start = time.perf_counter()
        series = taylor_series(land, schedule, 4, "test-loss")  # the sweep would need ~10^10 row pairs
        assert time.perf_counter() - start < 30
        assert all(np.isfinite(c) for c in series.coefficients)
    with pytest.raises(SgdDiagramsError):  # reshuffled over two epochs: still swept, still guarded
        taylor_series(land, sgd(100_000, 1, 2, shuffle_seed=0), 4, "test-loss")


def test_one_reshuffled_epoch_is_in_order_sgd_relabelled():
    """sgd(N, B, 1, seed) visits every row once: its counts are in-order SGD's, served by the closed forms."""
    schedule = sgd(12, 3, 1, shuffle_seed=5)
    assert structured_family(schedule) == ("sgd", (12, 3, 1))
    for d in [parse("r(a(b)a(b))"), parse("r(a(b)b(a))"), parse("a(a(b)b)"), *FOUR_SAMPLE[:3]]:
        assert structured_history_count(d, schedule) == float(history_count(d, schedule, exact=True)), str(d)
    # a forged description (a row twice) is caught
    forged = Schedule(12, ((0, 1, 2),) * 4, dict(schedule.description))
    assert structured_family(forged) is None
