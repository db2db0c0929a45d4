"""The resummed estimate's whole-space complement values come from a few vectorized passes over all
replications, not one pass per replication: the same values as the per-replication evaluator (to float64
rounding), every diagram the complement reads is among them, and a run repeats exactly for its seed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

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
