"""The model reproductions (convnet-test-loss, convnet-gen-gap, gdc, sde-ode): their shared helpers, their
verdict rules, and each experiment run in quick mode with its JSON checked against the claim's shape."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.experiments.reproduce import check_outputs, load, run_reproduction
from sgd_diagrams.experiments.reproduce.estimated_series import (
    agrees_through,
    fit_eta2_eta3,
    refined_schedule,
    z_score,
)
from sgd_diagrams.schedules import parse_schedule_spec

MINE = ("convnet-test-loss", "convnet-gen-gap", "gdc", "sde-ode")


@given(st.floats(-5, 5), st.floats(-50, 50))
@settings(max_examples=25, deadline=None)
def test_fit_recovers_an_exact_eta2_eta3_curve(a, b):
    etas = np.array([0.02, 0.05, 0.1, 0.2])
    fit = fit_eta2_eta3(etas, a * etas**2 + b * etas**3, np.full(4, 1e-6))
    assert fit["a"] == pytest.approx(a, abs=1e-6)
    assert fit["b"] == pytest.approx(b, abs=1e-5)


def test_fit_standard_errors_match_scatter():
    rng = np.random.default_rng(0)
    etas = np.array([0.05, 0.1, 0.15, 0.2])
    sem = 1e-3 * etas
    fits = [fit_eta2_eta3(etas, 0.3 * etas**2 + sem * rng.standard_normal(4), sem) for _ in range(2000)]
    a = np.array([f["a"] for f in fits])
    assert a.mean() == pytest.approx(0.3, abs=4 * fits[0]["a_se"] / np.sqrt(2000))
    assert a.std() == pytest.approx(fits[0]["a_se"], rel=0.1)


def test_agrees_through_stops_at_the_first_departure():
    assert agrees_through([0.1, 0.3, 0.7, 1.0], [0.5, -1.0, 2.5, 0.1]) == 0.3
    assert agrees_through([0.1, 0.3], [3.0, 0.0]) == 0.0
    assert agrees_through([0.1, 0.3], [0.0, float("nan")]) == 0.1
    assert z_score(3.0, 0.3, 3.0, 0.4) == 0.0
    assert z_score(1.0, 0.3, 0.0, 0.4) == pytest.approx(2.0)


def test_refined_schedule_repeats_each_batch():
    s = parse_schedule_spec("sgd:N=4,B=2,E=1")
    r = refined_schedule(s, 3)
    assert r.T == 3 * s.T and r.N == s.N
    assert r.batches == tuple(b for b in s.batches for _ in range(3))


def test_verdict_rules_follow_the_thresholds():
    ctl, cgg = load("convnet-test-loss"), load("convnet-gen-gap")
    assert ctl.verdict_of([1.2, 1.0])[0] == "confirmed"
    assert ctl.verdict_of([1.2, 0.7])[0] == "confirmed with a correction"
    assert ctl.verdict_of([0.3, 1.0])[0] == "refuted"
    assert ctl.verdict_of([1.2, 1.0], [0.3, 1.0])[0] == "confirmed with a correction"  # agreement not resolved
    assert ctl.resolved_through([0.1, 0.5, 1.0], [0.001, 0.0019, 0.01], [0.001, 0.001, 0.001]) == 0.5
    assert cgg.verdict_of([0.5, 0.7])[0] == "confirmed"
    assert cgg.verdict_of([0.3])[0] == "confirmed with a correction"
    assert cgg.verdict_of([0.1])[0] == "refuted"
    sde = load("sde-ode")
    assert sde.verdict_of(0.5, [1.0], [10.0])[0] == "confirmed with a correction"
    assert sde.verdict_of(0.5, [1.0], [1.0])[0] == "confirmed"
    assert sde.verdict_of(4.0, [1.0], [10.0])[0] == "refuted"


@pytest.fixture(scope="module")
def quick_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproductions")
    payloads = {name: run_reproduction(name, out, quick=True, seed=0, show_progress=False) for name in MINE}
    return out, payloads


@pytest.mark.slow
@pytest.mark.parametrize("name", MINE)
def test_quick_run_meets_the_claims_shape(quick_outputs, name):
    out, payloads = quick_outputs
    assert check_outputs(name, out) == []
    payload = json.loads((out / f"{name}.json").read_text())
    assert payload["verdict"] == load(name).assess(payload["data"]).verdict  # the common rule decides
    assert "digits" in payload["measured"]
    assert (out / f"{name}.md").read_text().count(payload["verdict"]) >= 1
    assert not (out / ".partial").exists() or not any((out / ".partial").iterdir())


@pytest.mark.slow
def test_checks_catch_a_tampered_result(quick_outputs):
    out, payloads = quick_outputs
    data = json.loads((out / "gdc.json").read_text())["data"]
    data["models"][0]["fits"]["gd - sgd"]["a"] = -50 * abs(data["models"][0]["predicted_a"]) - 1.0
    assert load("gdc").check(data)
    data = json.loads((out / "convnet-test-loss.json").read_text())["data"]
    data["verdict_rule"] = "refuted" if data["verdict_rule"] != "refuted" else "confirmed"
    assert load("convnet-test-loss").check(data)
    data = json.loads((out / "sde-ode.json").read_text())["data"]
    data["sgd_minus_sde"]["simulated"][0]["mean"] += 100 * data["sgd_minus_sde"]["simulated"][0]["sem"]
    assert load("sde-ode").check(data)
