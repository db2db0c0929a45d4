"""A resummed estimate's fixed cost per replication, cut without changing its numbers.

The whole-space complement values come from a few vectorized passes over all replications, not one pass per
replication: the same values as the per-replication evaluator (to float64 rounding), every diagram the
complement reads is among them, and a run repeats exactly for its seed.  The complement's link expansions are
built once (identical sums to the direct enumeration), and the projected tensors are prefetched batched over
groups (the per-group tensors to float64 rounding; the whole estimate equals the per-group path)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.diagrams import quantity
from sgd_diagrams.estimation.complement import complement_diagrams, complement_values_needed, reduced
from sgd_diagrams.estimation.evaluators import ReplicationValues, draw_rows, matrix_free_evaluator, replication_values
from sgd_diagrams.estimation.krylov import krylov_resummed_estimate

torch = pytest.importorskip("torch")


def _mlp_landscape():
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    x = torch.randn(300, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return sd.TorchLandscape(model, lambda o, t: ((o - t) ** 2).mean(), x, torch.sin(x[:, :1]))


@pytest.mark.parametrize("name, order, links", [("test-loss", 2, 1), ("displacement", 1, 2)])
def test_batched_replication_values_equal_one_pass_per_replication(name, order, links):
    land = _mlp_landscape()
    q = quantity(name)
    needed = complement_values_needed(q, order, links)
    for d in complement_diagrams(q, order, links):  # every value the complement reads is estimated up front
        assert all(reduced(d, s) in needed for k in range(len(d.links()) + 1)
                   for s in itertools.combinations(d.links(), k))
    R, G, S = 5, 4, 3
    rows = draw_rows(land, R * G * S, 7)
    rows = rows.reshape((R, G, S) + tuple(rows.shape[1:]))
    batched = replication_values(land, rows, needed, q.root)
    for r in range(R):
        one = matrix_free_evaluator(land, rows[r][None])
        ev = ReplicationValues(batched, r, q.root)
        for d in needed:
            np.testing.assert_allclose(ev(d, root=q.root), one(d, root=q.root), rtol=1e-12, atol=1e-14)
    with pytest.raises(sd.SgdDiagramsError, match="root"):
        ReplicationValues(batched, 0, q.root)(needed[0], root="displacement" if q.root == "loss" else "loss")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_resummed_estimate_repeats_exactly_for_its_seed():
    land = _mlp_landscape()
    runs = [krylov_resummed_estimate(land, sd.sgd(N=6), 2, [0.05, 0.2], samples=600, seed=3, krylov_dim=4,
                                     pilot=False) for _ in range(2)]
    assert runs[0].details["complement"] is not None
    assert np.array_equal(runs[0].replicas, runs[1].replicas)


def _complement_values_reference(values_of, q, order, mu, extra_links):
    """The complement's schedule-free sums computed the direct way: every diagram, every subset of its links."""
    out = []
    for m in range(1, order + extra_links + 1):
        for d in q.diagrams(m):
            if m > order and d.linkless_reduction().n_edges > order:
                continue
            links = d.links()
            value = 0.0
            for size in range(len(links) + 1):
                for subset in itertools.combinations(links, size):
                    value = value + (-mu) ** size * np.asarray(values_of(reduced(d, subset)), dtype=np.float64)
            out.append((d, value))
    return out


@given(st.sampled_from([("test-loss", 1, 3), ("test-loss", 2, 3), ("test-loss", 3, 1), ("gen-gap", 2, 2),
                        ("displacement", 1, 2)]),
       st.floats(-2.0, 2.0), st.integers(0, 2**31 - 1))
@settings(max_examples=12, deadline=None)
def test_cached_link_expansions_sum_like_the_direct_enumeration(case, mu, seed):
    from sgd_diagrams.estimation.complement import complement_values

    name, order, links = case
    q = quantity(name)
    rng = np.random.default_rng(seed)
    table: dict = {}

    def values_of(d):  # any diagram values will do: the sums are linear in them
        return table.setdefault(str(d), rng.standard_normal(3) if q.root == "displacement" else rng.standard_normal())

    got = complement_values(values_of, q, order, mu, links)
    want = _complement_values_reference(values_of, q, order, mu, links)
    assert [d for d, _ in got] == [d for d, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)  # the same terms in the same order: identical
    assert set(complement_values_needed(q, order, links)) == {reduced(d, s) for d, _ in want for k in
                                                              range(len(d.links()) + 1)
                                                              for s in itertools.combinations(d.links(), k)}


def _projected_source(land, Z, groups):
    from sgd_diagrams.estimation.tensor_sources import TorchGroupSource

    rows = draw_rows(land, groups * 4, 11)
    return TorchGroupSource(land, rows.reshape((groups, 4) + tuple(rows.shape[1:])), Z)


@pytest.mark.parametrize("name, order, links", [("test-loss", 2, 3), ("test-loss", 3, 1), ("displacement", 1, 2)])
@pytest.mark.parametrize("projected", [True, False])
def test_prefetched_tensors_equal_the_per_group_ones(name, order, links, projected):
    """The projected tensors batched over groups (``prepare``) are the per-group ones, and every tensor the
    estimates read is among them (nothing computed group by group afterwards, but a lone group's)."""
    from sgd_diagrams.estimation.group_statistic import GroupStatisticEvaluator

    land = _mlp_landscape()
    q = quantity(name)
    Z = np.linalg.qr(np.random.default_rng(0).standard_normal((land.dim, 4)))[0] if projected else None
    needed = [d for m in range(order + 1) for d in q.diagrams(m, linkless=True)] + complement_values_needed(
        q, order, links)
    groups = max(order, 2) + 1 + links  # as the estimate plans them
    old_source, new_source = _projected_source(land, Z, groups), _projected_source(land, Z, groups)
    old, new = GroupStatisticEvaluator(old_source), GroupStatisticEvaluator(new_source)
    new.prepare(needed, q.root)
    batched = set(new_source._means) | {("samples",) + k for k in new_source._samples}
    assert len(batched) > 2
    for d in needed:
        np.testing.assert_allclose(new(d, root=q.root), old(d, root=q.root), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new.part_cumulant((2,)), old.part_cumulant((2,)), rtol=1e-12, atol=1e-14)
    assert set(new_source._means) == set(old_source._means)
    assert set(new_source._samples) == set(old_source._samples)
    after = set(new_source._means) | {("samples",) + k for k in new_source._samples}
    lone = after - batched  # computed on demand: only degrees that a single group reads
    for key in lone:
        kind, degree = ("samples", key[2]) if key[0] == "samples" else ("mean", key[1])
        pool = new_source._samples if kind == "samples" else new_source._means
        assert sum(1 for k in pool if k[1] == degree) == 1
    for key, value in new_source._means.items():
        np.testing.assert_allclose(value, old_source._means[key], rtol=1e-12, atol=1e-14)
    for key, value in new_source._samples.items():
        np.testing.assert_allclose(value, old_source._samples[key], rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_resummed_estimate_with_prefetch_equals_the_per_group_path(monkeypatch):
    from sgd_diagrams.estimation.group_statistic import GroupStatisticEvaluator

    land = _mlp_landscape()
    kw = dict(samples=600, seed=5, krylov_dim=4, pilot=False)
    new = krylov_resummed_estimate(land, sd.sgd(N=6), 2, [0.05, 0.2], **kw)
    monkeypatch.setattr(GroupStatisticEvaluator, "prepare", lambda self, diagrams, root="loss": None)
    old = krylov_resummed_estimate(land, sd.sgd(N=6), 2, [0.05, 0.2], **kw)
    np.testing.assert_allclose(new.replicas, old.replicas, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(new.details["complement"]["value"], old.details["complement"]["value"],
                               rtol=1e-9, atol=1e-14)


@given(st.integers(1, 4), st.sampled_from(["test", "train", "displacement"]), st.integers(2, 5),
       st.integers(0, 2**31 - 1))
@settings(max_examples=15, deadline=None)
def test_cached_contraction_order_gives_identical_uvalues(edges, kind, dim, seed):
    """contract_uvalue's contraction order is found once per (expression, shapes): the same numbers, bit for
    bit, as numpy's greedy search on every call."""
    from sgd_diagrams.diagrams import enumerate_diagrams
    from sgd_diagrams.values.uvalue import contract_uvalue, contracted_parts

    rng = np.random.default_rng(seed)
    root = "displacement" if kind == "displacement" else "loss"
    for d in enumerate_diagrams(edges, kind)[:6]:
        parts = {m: rng.standard_normal((dim,) * sum(d.degree(v) for v in m)) for m in contracted_parts(d, root)}
        for _ in range(2):  # the second call reads the cached order
            got = contract_uvalue(d, parts, None, root)
            assert np.array_equal(got, _contract_searching(d, parts, root))


def _contract_searching(d, parts, root):
    """contract_uvalue with numpy searching the greedy order on this call (the previous code path)."""
    import importlib

    uv = importlib.import_module("sgd_diagrams.values.uvalue")  # the module (the package re-exports a function)
    cached = uv._greedy_path
    try:
        uv._greedy_path = lambda expr, shapes: "greedy"
        return uv.contract_uvalue(d, parts, None, root)
    finally:
        uv._greedy_path = cached


def test_batched_hessian_products_give_the_same_noise_curvature():
    from sgd_diagrams.estimation.complement import complement_curvature
    from sgd_diagrams.estimation.krylov import _torch_hvp
    from sgd_diagrams.estimation.lanczos import lanczos_ritz

    land = _mlp_landscape()
    rows = draw_rows(land, 40, 3)[None]
    hvp, G = _torch_hvp(land, rows)
    basis = lanczos_ritz(hvp, land.dim, 3, G, 0)
    noise = np.random.default_rng(1).standard_normal((8, land.dim))
    batched = complement_curvature(noise, basis.vectors, hvp, basis.values, with_captured=True)
    one_by_one = complement_curvature(noise, basis.vectors, lambda v: hvp(v), basis.values, with_captured=True)
    assert batched[1] is not None and batched[1] != 1.0  # the captured share was computed from products
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-12)
    np.testing.assert_allclose(hvp.rows(noise[:3]), np.stack([hvp(v) for v in noise[:3]]), rtol=1e-12, atol=1e-15)
