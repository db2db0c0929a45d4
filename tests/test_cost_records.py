"""Calibrated costs: the pilots that estimate CPU seconds run the real work without changing any result, and
results record estimated and measured CPU seconds; ``--threads`` sets the torch thread count."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import tiny_torch as _tiny_torch

import sgd_diagrams as sd
from sgd_diagrams.cli import main
from sgd_diagrams.estimation import krylov, predictions
from sgd_diagrams.optimizers import trials
from sgd_diagrams.schedules import sgd


def test_resummed_pilot_records_costs_and_changes_nothing(monkeypatch):
    land = _tiny_torch()
    kw = dict(samples=360, replications=3, krylov_dim=6, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = krylov.krylov_resummed_estimate(land, sgd(8, 2, 1), 2, [0.1], pilot=False, **kw)
        monkeypatch.setattr(krylov, "PILOT_ABOVE_SECONDS", 0.0)
        piloted = krylov.krylov_resummed_estimate(land, sgd(8, 2, 1), 2, [0.1], **kw)
    assert np.array_equal(plain.replicas, piloted.replicas)
    assert plain.details["estimate_from"] == "model" and piloted.details["estimate_from"] == "pilot"
    assert 0 < piloted.details["estimated_seconds"] < 600 and piloted.details["cpu_seconds"] > 0


def test_estimation_pilot_changes_nothing(monkeypatch):
    land = _tiny_torch()
    args = (land, "test", 2, 360)
    before = predictions.estimate_uvalues(*args, seed=1, method="matrix-free")
    monkeypatch.setattr(predictions, "ESTIMATION_PILOT_ABOVE_SECONDS", 0.0)
    after = predictions.estimate_uvalues(*args, seed=1, method="matrix-free")
    assert before.replicas.keys() == after.replicas.keys()
    for key, value in before.replicas.items():
        assert np.array_equal(value, after.replicas[key])
    diagrams = [d for k in range(3) for d in sd.enumerate_diagrams(k, "test")]
    seconds = predictions.piloted_estimation_seconds(land, diagrams, before.plan, "loss", 1)
    assert 0 < seconds < 600


def test_simulation_records_estimated_and_measured_seconds(monkeypatch):
    land = _tiny_torch()
    small = sd.simulate(land, sgd(6, 1, 1), ["sgd"], 0.1, 40, seed=3)
    assert small.seconds["estimated"] is None and small.seconds["measured"] > 0
    monkeypatch.setattr(trials, "_NO_PILOT_BELOW", 0.0)
    piloted = sd.simulate(land, sgd(6, 1, 1), ["sgd"], 0.1, 40, seed=3)
    assert piloted.seconds["estimated"] > 0
    assert piloted.summaries == small.summaries


def test_threads_option(capsys):
    before = torch.get_num_threads()
    try:
        args = ["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4,B=1,E=1", "--optimizer", "sgd",
                "--eta", "0.1", "--trials", "20", "--json", "--quiet"]
        assert main([*args, "--threads", "0"]) == 2
        assert "--threads must be a positive integer" in capsys.readouterr().err
        assert main([*args, "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
        assert '"cpu_seconds"' in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("order", [2, 3])
def test_history_cost_model_is_positive_and_grows(order):
    from sgd_diagrams.schedules.grid import lr_schedule
    from sgd_diagrams.schedules.histories import history_seconds

    diagrams = [d for k in range(order + 1) for d in sd.enumerate_diagrams(k, "test")]
    costs = []
    for N in (10, 40):
        schedule = sgd(N, 1, 1)
        costs.append(history_seconds(diagrams, schedule.with_lr(lr_schedule("cosine", schedule.T))))
    assert 0 < costs[0] < costs[1]


def test_estimation_pilot_drops_an_outlier_timing(monkeypatch):
    """A stall charged as CPU in one pilot pass (kernel reclaim under memory pressure) does not price a small
    estimate at hours: the cheaper one-block pass counts and a block never costs more than a one-block pass."""
    from sgd_diagrams.estimation.evaluators import plan_groups

    plan = plan_groups(1600, 4, None)
    # CPU seconds of the pilot's three passes: set-up pass, a one-block pass hit by a 1000 s stall, two blocks
    durations = iter([2.0, 1000.0, 3.0])
    clock = {"now": 0.0, "started": False}

    def fake_clock():
        if clock["started"]:
            clock["now"] += next(durations)
        clock["started"] = not clock["started"]
        return clock["now"]

    monkeypatch.setattr(predictions, "_matrix_free_replicas", lambda *a, **k: None)
    monkeypatch.setattr(predictions.time, "process_time", fake_clock)
    seconds = predictions.piloted_estimation_seconds(None, [], plan, "loss", 0)
    step = max(1, 256 // plan.per_group)
    passes = -(-plan.replications // step)
    # one = min(2, 1000) = 2, per block = min(3 - 2, 2) = 1, per pass = 1
    assert seconds == pytest.approx(passes * 1.0 + plan.replications * 1.0)
