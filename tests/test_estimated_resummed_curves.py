"""Estimated resummed curves (issue #22): one estimate read at every step and by several schedules.

The matrix-free resummed curve from samples equals ``predict(..., method="resummed")`` on ``schedule.prefix(t)``
at every recorded t with the same seed (Krylov basis, projected tensors and complement values are schedule-free);
several schedules read from one estimate equal their separate estimates.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import tiny_torch

import sgd_diagrams as sd
from sgd_diagrams.estimation.krylov import CurveTarget, krylov_resummed_curves, krylov_resummed_estimate

RTOL = 1e-8


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


@pytest.mark.parametrize("lr, momentum", [(None, None), ("warmup:2+cosine", 0.5)])
def test_matrix_free_resummed_curve_equals_truncated_predictions(one_thread, lr, momentum):
    land = tiny_torch()
    schedule = sd.sgd(6, 1, 1)
    sampling = sd.Sampling(samples=120, seed=3, replications=3, krylov_dim=5)
    etas = [0.1, 0.4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = sd.predict(land, schedule, 2, etas, method="resummed", sampling=sampling, steps=[2, 5], lr=lr,
                           momentum=momentum)
        assert curve.steps.tolist() == [0, 2, 5, 6] and curve.value.shape == (4, 2)
        assert curve.details["estimator"] == "matrix-free" and curve.details["krylov_dim"] == 5
        assert len(curve.details["complement_curve"]["relative"]) == 4
        full = schedule.with_lr(lr) if lr else schedule
        full = full.with_momentum(momentum) if momentum else full
        for i, t in enumerate(curve.steps[1:], start=1):
            ref = sd.predict(land, full.prefix(int(t)), 2, etas, method="resummed", sampling=sampling)
            assert _relative(curve.value[i], ref.value) < RTOL
            assert _relative(curve.stderr[i], ref.stderr) < RTOL
    change = np.asarray(curve.details["change"]["value"])  # each step minus the same estimate of l(θ0)
    assert change.shape == (4, 2) and np.all(change[0] == 0)
    assert np.allclose(curve.value - change, curve.value[0], rtol=1e-12, atol=0)
    assert np.all(np.abs(curve.value[1:] - curve.value[0]) > 0)  # the curve moves after step 0


def test_one_estimate_serves_several_schedules(one_thread):
    """Every target of krylov_resummed_curves equals its own krylov_resummed_estimate (same rows, same Lanczos)."""
    land = tiny_torch()
    plain = sd.sgd(5, 1, 1)
    cosine = sd.sgd(5, 1, 1).with_lr("cosine")
    steps = np.array([0, 3, 5])
    kw = dict(samples=90, seed=2, replications=3, krylov_dim=4, force=True, pilot=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shared = krylov_resummed_curves(land, [CurveTarget(plain, np.array([0.2]), steps),
                                               CurveTarget(cosine, np.array([0.1, 0.3]))], 2, "test-loss", **kw)
        alone_curve = krylov_resummed_estimate(land, plain, 2, [0.2], steps=steps, **kw)
        alone_final = krylov_resummed_estimate(land, cosine, 2, [0.1, 0.3], **kw)
    assert shared[0].replicas.shape == (3, 3, 1) and shared[1].replicas.shape == (3, 2)
    assert _relative(shared[0].replicas, alone_curve.replicas) < RTOL
    assert _relative(shared[1].replicas, alone_final.replicas) < RTOL
    assert shared[0].details["shared_by_schedules"] == 2
    with pytest.raises(sd.SgdDiagramsError, match="not a curve"):
        krylov_resummed_estimate(land, plain, 1, [0.2], limit="epochs", steps=steps, **kw)


def test_displacement_curve_is_lifted_to_the_weights(one_thread):
    land = tiny_torch()
    schedule = sd.sgd(4, 1, 1)
    sampling = sd.Sampling(samples=80, seed=0, replications=2, krylov_dim=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = sd.predict(land, schedule, 1, [0.3], "displacement", "resummed", sampling=sampling, steps="all")
        ref = sd.predict(land, schedule.prefix(3), 1, [0.3], "displacement", "resummed", sampling=sampling)
    assert curve.value.shape == (5, 1, land.dim) and np.all(curve.value[0] == 0)
    assert _relative(curve.value[3], ref.value) < RTOL


def test_curve_refuses_krylov_options_that_do_not_apply():
    land = sd.landscape("mean-estimation")
    with pytest.raises(sd.SgdDiagramsError, match="resummed form"):
        sd.predict(land, sd.sgd(4, 1, 1), 1, 0.1, sampling=sd.Sampling(samples=40, krylov_dim=2), steps="all")


def test_cli_resummed_curve_from_samples(tmp_path, one_thread, capsys):
    from sgd_diagrams.cli import main

    out = tmp_path / "curve.json"
    args = ["predict", "--landscape", "logistic-digits", "--schedule", "sgd:N=4,B=1,E=1", "--order", "1", "--eta",
            "0.05", "--resum", "--samples", "60", "--replications", "2", "--krylov", "3", "--curve", "--every", "2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args + ["--json", "--out", str(out)]) == 0
        assert main(args) == 0
    record = json.loads(out.read_text())
    assert record["steps"] == [0, 2, 4]
    assert np.asarray(record["value"]).shape == (3, 1) and np.asarray(record["stderr"]).shape == (3, 1)
    text = capsys.readouterr().out
    assert "resummed (estimated) order-1 curve" in text and "matrix-free: Krylov dimension 3" in text
