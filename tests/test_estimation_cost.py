"""The cheaper per-sample evaluation of tied parts gives the same values (seed 001 App. C.3, C.6).

Per-sample (zipped) products now run all S samples of a block in one vectorized call (memory
permitting) instead of 64 at a time; estimates must not change beyond float rounding, for every
diagram with ≤ 3 edges and every root.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sgd_diagrams.diagrams import enumerate_diagrams, parse
from sgd_diagrams.estimation.evaluators import MatrixFreeEstimatedEvaluator, matrix_free_evaluator

torch = pytest.importorskip("torch")

KINDS = (("test", "loss"), ("train", "loss"), ("displacement", "displacement"))


def _tied_by_root():
    """Diagrams with a part of two or more nodes (the only ones evaluated per sample), by root.

    Every such test diagram with ≤ 3 edges; train (root sharing its part) and displacement ones with ≤ 2.
    """
    for kind, root in KINDS:
        max_edges = 3 if kind == "test" else 2
        yield root, [d for k in range(1, max_edges + 1) for d in enumerate_diagrams(k, kind)
                     if any(len(m) > 1 for m in d.part_members) and (kind != "train" or not d.root_alone)]


def test_one_call_per_block_equals_small_chunks_on_a_finite_landscape(curved_finite):
    from sgd_diagrams.landscapes.sampled import FiniteTorchLandscape

    land = FiniteTorchLandscape(curved_finite)
    rows = torch.as_tensor(np.random.default_rng(7).choice(2, size=(1, 4, 3), p=curved_finite.probs))
    for root, diagrams in _tied_by_root():
        old = matrix_free_evaluator(land, rows, chunk=2, sample_chunk=2).per_block(diagrams, root)
        new = matrix_free_evaluator(land, rows, chunk=2).per_block(diagrams, root)
        np.testing.assert_allclose(new.numpy(), old.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.slow
def test_one_call_per_block_equals_small_chunks_on_the_digits_convnet():
    from sgd_diagrams.landscapes.registry import resolve_landscape

    land = resolve_landscape("convnet-digits")
    rows = land.sample_training_sets(torch.Generator().manual_seed(3), 1, 4 * 6)[0].reshape(1, 4, 6)
    diagrams = [parse("r(aa)"), parse("r(a(a))"), parse("a(a)")]  # the last: a train root sharing its part
    old = matrix_free_evaluator(land, rows, sample_chunk=4).per_block(diagrams)
    new = matrix_free_evaluator(land, rows).per_block(diagrams)
    np.testing.assert_allclose(new.numpy(), old.numpy(), rtol=2e-5, atol=1e-6)


def test_samples_per_call_respect_the_memory_budget():
    blocks = torch.zeros(3, 4, 500, dtype=torch.long)
    small = MatrixFreeEstimatedEvaluator(SimpleNamespace(dim=3290), blocks)
    assert small._samples_per_call() == 500  # all S in one call
    huge = MatrixFreeEstimatedEvaluator(SimpleNamespace(dim=10**6), blocks, chunk=2)
    assert huge._samples_per_call() == (1 << 24) // (10**6 * 2)
    assert MatrixFreeEstimatedEvaluator(SimpleNamespace(dim=10**9), blocks)._samples_per_call() == 1
    assert MatrixFreeEstimatedEvaluator(SimpleNamespace(dim=5), blocks, sample_chunk=7)._samples_per_call() == 7


def test_forward_mode_scalars_equal_forward_over_reverse(curved_finite):
    """∇^m l[v_1..v_m] by nested forward mode equals ⟨∇^m l[v_1..v_{m−1}, ·], v_m⟩ (float64, m = 1..4)."""
    from sgd_diagrams.estimation.matrix_free import node_scalar, node_vector
    from sgd_diagrams.landscapes.sampled import FiniteTorchLandscape

    land = FiniteTorchLandscape(curved_finite)
    rows = torch.as_tensor([0, 1, 1])
    gen = torch.Generator().manual_seed(2)
    for m in range(1, 5):
        msgs = [torch.randn(land.dim, generator=gen, dtype=torch.float64) for _ in range(m)]
        got = node_scalar(lambda th: land.batch_loss(th, rows), land.init, msgs)
        want = torch.dot(node_vector(lambda th: land.batch_loss(th, rows), land.init, msgs[:-1]), msgs[-1])
        assert float(got) == pytest.approx(float(want), rel=1e-12, abs=1e-12)
