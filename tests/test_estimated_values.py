"""Estimated uvalues: exact unbiasedness by enumeration, matrix-free == dense, CLI."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.estimation.evaluators import dense_evaluator, matrix_free_evaluator
from sgd_diagrams.landscapes.sampled import FiniteTorchLandscape
from sgd_diagrams.values import UvalueEvaluator

KINDS = (("test", "loss"), ("train", "loss"), ("displacement", "displacement"))


def _diagrams(max_edges: int = 3):
    for kind, root in KINDS:
        for k in range(0 if kind != "displacement" else 1, max_edges + 1):
            for d in enumerate_diagrams(k, kind):
                yield d, root


@pytest.mark.slow
def test_dense_estimator_is_exactly_unbiased_by_enumeration(curved_finite):
    """Average the estimate over every assignment of the 2 support points to 4 groups × S=2 samples."""
    exact = UvalueEvaluator(curved_finite, 4)
    diagrams = list(_diagrams(3))
    G, S = 4, 2
    totals = [0.0 * np.asarray(exact(d, root=r)) for d, r in diagrams]
    for rows in itertools.product(range(2), repeat=G * S):
        weight = float(np.prod(curved_finite.probs[list(rows)]))
        ev = dense_evaluator(curved_finite, np.array(rows).reshape(1, G, S), 4)
        for i, (d, r) in enumerate(diagrams):
            totals[i] = totals[i] + weight * np.asarray(ev(d, root=r))
    for (d, r), total in zip(diagrams, totals, strict=True):
        np.testing.assert_allclose(total, exact(d, root=r), rtol=1e-9, atol=1e-11, err_msg=f"{d} {r}")


def test_matrix_free_matches_dense_on_the_same_samples(curved_finite):
    """One sample per group: both compute App. C.6's statistic.  S = 3: equal wherever every part is a singleton."""
    import torch

    torch_land = FiniteTorchLandscape(curved_finite)
    rng = np.random.default_rng(3)
    for S in (1, 3):
        rows = rng.choice(2, size=(1, 4, S), p=curved_finite.probs)  # 1 block of 4 groups of S samples
        dense = dense_evaluator(curved_finite, rows, 4)
        dense_torch = dense_evaluator(torch_land, torch.as_tensor(rows), 4)
        free = matrix_free_evaluator(torch_land, torch.as_tensor(rows), chunk=2, relabel=False)
        for d, r in _diagrams(3):
            a = np.asarray(dense(d, root=r))
            np.testing.assert_allclose(np.asarray(dense_torch(d, root=r)), a, rtol=1e-9, atol=1e-11, err_msg=str(d))
            if S == 1 or all(len(m) == 1 for m in d.part_members):
                np.testing.assert_allclose(np.asarray(free(d, root=r)), a, rtol=1e-9, atol=1e-11, err_msg=str(d))


@pytest.mark.slow
def test_matrix_free_estimator_with_groups_is_exactly_unbiased_by_enumeration(curved_finite):
    """Group means and per-sample (zipped) products with S = 2: average over all 2^8 sample assignments."""
    import torch

    exact = UvalueEvaluator(curved_finite, 4)
    G, S = 4, 2
    rows = np.array(list(itertools.product(range(2), repeat=G * S)))
    weights = torch.as_tensor(np.prod(curved_finite.probs[rows], axis=1))
    free = matrix_free_evaluator(FiniteTorchLandscape(curved_finite), torch.as_tensor(rows.reshape(-1, G, S)),
                                 chunk=64)
    for kind, root in KINDS:
        diagrams = [d for d, r in _diagrams(3) if r == root and d.is_kind(kind)]
        per_block = free.per_block(diagrams, root)
        means = (weights[:, None] * per_block).sum(dim=0).numpy()
        width = 1 if root == "loss" else curved_finite.dim
        for i, d in enumerate(diagrams):
            np.testing.assert_allclose(means[i * width:(i + 1) * width], np.ravel(exact(d, root=root)),
                                       rtol=1e-9, atol=1e-11, err_msg=f"{d} {root}")


def _pooled_z_scores(finite, landscape, seeds, samples: int, method: str) -> np.ndarray:
    from sgd_diagrams.estimation.predictions import estimate_uvalues

    exact = UvalueEvaluator(finite, 4)
    zs = []
    for seed in seeds:
        for kind, root in KINDS:
            est = estimate_uvalues(landscape, kind, 3, samples, seed=seed, method=method)
            for k in range(1 if kind == "displacement" else 0, 4):
                for d in enumerate_diagrams(k, kind):
                    se = np.ravel(est.stderr(d))
                    ok = se > 1e-12
                    zs.extend(((np.ravel(est.mean(d)) - np.ravel(exact(d, root=root)))[ok] / se[ok]).tolist())
    return np.asarray(zs)


@pytest.mark.slow
def test_matrix_free_z_scores_look_standard_normal(curved_finite):
    """The large-group matrix-free plan: (estimate − exact)/stderr pools to roughly N(0, 1) too."""
    zs = _pooled_z_scores(curved_finite, FiniteTorchLandscape(curved_finite), range(4), 1600, "matrix-free")
    assert abs(zs.mean()) < 0.3, zs.mean()
    assert 0.75 < zs.std() < 1.35, zs.std()
    assert np.mean(np.abs(zs) > 3) < 0.04


@pytest.mark.slow
def test_z_scores_against_exact_values_look_standard_normal(curved_finite):
    """Over independent runs (fixed seeds), (estimate − exact)/stderr pools to roughly N(0, 1)."""
    zs = _pooled_z_scores(curved_finite, curved_finite, range(12), 1600, "auto")
    # t_19-distributed z's, correlated within a run: loose, honest bounds.
    assert abs(zs.mean()) < 0.25, zs.mean()
    assert 0.8 < zs.std() < 1.3, zs.std()
    assert np.mean(np.abs(zs) > 3) < 0.03


def test_estimates_converge_to_exact(curved_finite):
    from sgd_diagrams.estimation.predictions import estimate_uvalues

    exact = UvalueEvaluator(curved_finite, 3)
    est = estimate_uvalues(curved_finite, "test", 2, 400000, seed=1)
    for k in range(3):
        for d in enumerate_diagrams(k, "test"):
            assert abs(est.mean(d) - exact(d)) < 5 * est.stderr(d) + 1e-12
            assert abs(est.mean(d) - exact(d)) < 0.03 * (1 + abs(exact(d)))


def test_estimated_prediction_errors_and_cli(tmp_path, monkeypatch, capsys):
    import json

    from sgd_diagrams.cli import main

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the library never writes there unasked
    args = ["predict", "--schedule", "sgd:N=4,B=1,E=2", "--order", "2", "--eta", "0.01,0.05", "--json",
            "--samples", "600", "--seed", "3", "--cache", str(tmp_path / "cache")]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["stderr"]) == 2 and all(s > 0 for s in out["stderr"])
    assert main(args) == 0  # from the cache: identical
    assert json.loads(capsys.readouterr().out)["value"] == out["value"]
    assert list((tmp_path / "cache").rglob("*.json")) and not (tmp_path / "home").exists()
    assert main(args + ["--resum"]) == 0
    assert len(json.loads(capsys.readouterr().out)["stderr"]) == 2
    assert main(["stats", "--landscape", "gauss", "--samples", "400", "--order", "2", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["statistics"]
    assert [s["notation"] for s in stats][:2] == ["r", "r(a)"]
    assert main(["predict", "--schedule", "sgd:N=4,B=1,E=2", "--order", "2", "--eta", "0.01", "--samples", "3"]) == 2
    assert "too few" in capsys.readouterr().err


def test_convnet_experiment_rejects_bad_input_in_one_line(tmp_path, capsys):
    from sgd_diagrams.experiments.convnet_predictions import main

    out = tmp_path / "p.png"
    assert main(["--samples", "7", "-o", str(out)]) == 2
    assert main(["--eta", "0.1,x", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "too few" in err[0] and "--eta" in err[1]
    assert not out.exists() and not out.with_suffix(".json").exists()
