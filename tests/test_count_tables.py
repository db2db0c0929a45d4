"""The shipped closed-form history counts (seed 001 Prop 2, App. A.3) against fits and exact sweeps."""

from __future__ import annotations

import json
import random
import time
from fractions import Fraction

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
from sgd_diagrams.theory.count_tables import (
    FORMAT_VERSION,
    TABLE_FAMILIES,
    count_table,
    default_table_path,
    fit_count_polynomial,
    load_count_table,
    structured_family,
    structured_history_count,
    table_diagrams,
    table_history_count,
    write_count_table,
)
from sgd_diagrams.theory.symbolic import symbolic_history_count
from sgd_diagrams.values import UvalueEvaluator

SMALL = [d for k in range(4) for d in enumerate_diagrams(k, "train")]  # test/displacement are among them
FOUR = enumerate_diagrams(4, "train")
FOUR_SAMPLE = random.Random(4).sample(FOUR, 24) + [parse("r(a(b)a(c))"), parse("r(a(b)a(b))"), parse("r(a(b)b(a))")]


def _structured_schedule(family: str, a: int, b: int, c: int) -> Schedule:
    if family == "gd":
        return gd(a, b)
    return sgd(a * b, b, c)  # N = M·B


sizes = st.tuples(st.sampled_from(("sgd", "gd")), st.integers(1, 4), st.integers(1, 5), st.integers(1, 3))


# -- the shipped file ------------------------------------------------------------------------
def test_shipped_table_covers_every_diagram_with_four_edges():
    path = default_table_path()
    assert path.stat().st_size < 2_000_000
    raw = json.loads(path.read_text())
    assert raw["format_version"] == FORMAT_VERSION and raw["max_edges"] == 4 and raw["package_version"]
    table = count_table()
    for family in TABLE_FAMILIES:
        for kind in ("test", "train", "displacement"):
            for k in range(5):
                for d in enumerate_diagrams(k, kind):
                    assert table.polynomial(d, family) is not None, (family, str(d))
    assert {str(d) for d in table_diagrams()} == set(raw["families"]["sgd"]["counts"])


def test_shipped_table_equals_fresh_fits():
    rng = random.Random(0)
    picks = [("sgd", d) for d in rng.sample(SMALL, 4) + rng.sample(FOUR, 2)]
    picks += [("gd", d) for d in rng.sample(SMALL, 3) + rng.sample(FOUR, 6)]
    table = count_table()
    for family, d in picks:
        assert table.polynomial(d, family) == fit_count_polynomial(d, family), (family, str(d))
        expr = symbolic_history_count(d, family)  # the sympy form agrees at an off-grid point
        values = {"N": 60, "B": 3, "E": 7} if family == "sgd" else {"N": 13, "T": 29}
        exact = expr.subs({s: values[str(s)] for s in expr.free_symbols})
        got = table.count(d, family, [values[v] for v in TABLE_FAMILIES[family]])
        assert got == Fraction(int(exact.p), int(exact.q))


# -- against exact sweeps -----------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(sizes)
def test_table_equals_exact_counts_up_to_three_edges(params):
    schedule = _structured_schedule(*params)
    family, values = structured_family(schedule)
    assert family == params[0]
    for d in SMALL:
        exact = history_count(d, schedule, exact=True)
        assert table_history_count(d, family, values) == exact, str(d)
        assert structured_history_count(d, schedule) == float(exact)


@settings(max_examples=12, deadline=None)
@given(sizes)
def test_table_equals_exact_counts_four_edges(params):
    schedule = _structured_schedule(*params)
    for d in FOUR_SAMPLE:
        exact = history_count(d, schedule, exact=True)
        assert structured_history_count(d, schedule) == float(exact), str(d)
        assert table_history_count(d, *structured_family(schedule)) == exact


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


# -- malformed files -----------------------------------------------------------------------------
def _good() -> dict:
    return json.loads(default_table_path().read_text())


def _corrupt(kind: str):
    obj = _good()
    sgd_counts = obj["families"]["sgd"]["counts"]
    if kind == "not-json":
        return "{not json"
    if kind == "list":
        return "[]"
    if kind == "version":
        obj["format_version"] = 99
    elif kind == "version-bool":
        obj["format_version"] = True
    elif kind == "extra-key":
        obj["extra"] = 1
    elif kind == "family":
        del obj["families"]["gd"]
    elif kind == "variables":
        obj["families"]["gd"]["variables"] = ["T", "N"]
    elif kind == "coefficient-float":
        sgd_counts["r(a)"] = [[[0, 0, 1], 1.0]]
    elif kind == "coefficient-text":
        sgd_counts["r(a)"] = [[[0, 0, 1], "1/0"]]
    elif kind == "exponent-bool":
        sgd_counts["r(a)"] = [[[0, True, 1], "1/1"]]
    elif kind == "exponent-count":
        sgd_counts["r(a)"] = [[[0, 1], "1/1"]]
    elif kind == "monomial":
        sgd_counts["r(a)"] = {"x": 1}
    elif kind == "deep":
        return "[" * 100_000 + "]" * 100_000
    return json.dumps(obj)


@pytest.mark.parametrize("kind", ["not-json", "list", "version", "version-bool", "extra-key", "family", "variables",
                                  "coefficient-float", "coefficient-text", "exponent-bool", "exponent-count",
                                  "monomial", "deep"])
def test_malformed_table_is_one_line_error(tmp_path, kind):
    path = tmp_path / "counts.json"
    path.write_text(_corrupt(kind))
    with pytest.raises(SgdDiagramsError) as err:
        load_count_table(path)
    message = str(err.value)
    assert "\n" not in message and "regenerate" in message and "python -m sgd_diagrams.theory.count_tables" in message
    with pytest.raises(SgdDiagramsError, match="cannot read count table"):
        load_count_table(tmp_path / "missing.json")


def test_write_is_atomic_and_round_trips(tmp_path):
    path = write_count_table(_good(), tmp_path / "counts.json")
    assert [p.name for p in tmp_path.iterdir()] == ["counts.json"]
    again = load_count_table(path)
    d = parse("r(a(b)a(c))")
    assert again.count(d, "sgd", (10, 2, 3)) == count_table().count(d, "sgd", (10, 2, 3))
    bad = _good()
    bad["max_edges"] = "4"
    with pytest.raises(SgdDiagramsError):
        write_count_table(bad, tmp_path / "other.json")
    assert [p.name for p in tmp_path.iterdir()] == ["counts.json"]


# -- in taylor_series ------------------------------------------------------------------------------
def _old_coefficients(landscape, schedule, order, quantity):
    """The coefficients with every count swept (the path before the tables)."""
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
