"""Estimated uvalues: exact unbiasedness by enumeration, matrix-free == dense, CLI."""

from __future__ import annotations

import itertools

import numpy as np

from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.landscapes.protocol import FiniteTorchLandscape
from sgd_diagrams.values import UvalueEvaluator
from sgd_diagrams.values.estimated import dense_evaluator, matrix_free_evaluator

KINDS = (("test", "loss"), ("train", "loss"), ("displacement", "displacement"))


def _diagrams(max_edges: int = 3):
    for kind, root in KINDS:
        for k in range(0 if kind != "displacement" else 1, max_edges + 1):
            for d in enumerate_diagrams(k, kind):
                yield d, root


def test_dense_estimator_is_exactly_unbiased_by_enumeration(curved_finite):
    """Average the estimate over every assignment of the 2 support points to 4 groups × S=2 samples."""
    exact = UvalueEvaluator(curved_finite, 4)
    diagrams = list(_diagrams(3))
    G, S = 4, 2
    totals = [0.0 * np.asarray(exact(d, root=r)) for d, r in diagrams]
    for rows in itertools.product(range(2), repeat=G * S):
        weight = float(np.prod(curved_finite.probs[list(rows)]))
        ev = dense_evaluator(curved_finite, [list(rows[g * S:(g + 1) * S]) for g in range(G)], 4)
        for i, (d, r) in enumerate(diagrams):
            totals[i] = totals[i] + weight * np.asarray(ev(d, root=r))
    for (d, r), total in zip(diagrams, totals, strict=True):
        np.testing.assert_allclose(total, exact(d, root=r), rtol=1e-9, atol=1e-11, err_msg=f"{d} {r}")


def test_matrix_free_matches_dense_on_the_same_samples(curved_finite):
    torch_land = FiniteTorchLandscape(curved_finite)
    rng = np.random.default_rng(3)
    rows = rng.choice(2, size=(4, 3), p=curved_finite.probs)
    import torch

    group_rows = [torch.as_tensor(r) for r in rows]
    dense = dense_evaluator(curved_finite, [list(r) for r in rows], 4)
    dense_torch = dense_evaluator(torch_land, group_rows, 4)
    free = matrix_free_evaluator(torch_land, group_rows, chunk=2)
    for d, r in _diagrams(3):
        a = np.asarray(dense(d, root=r))
        np.testing.assert_allclose(np.asarray(dense_torch(d, root=r)), a, rtol=1e-9, atol=1e-11, err_msg=str(d))
        np.testing.assert_allclose(np.asarray(free(d, root=r)), a, rtol=1e-9, atol=1e-11, err_msg=str(d))
