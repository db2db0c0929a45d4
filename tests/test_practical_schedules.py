"""The practical-schedules experiment (issue 14, "Simulation"): one quick run, its JSON and its numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.experiments.practical_schedules import CONFIGURATIONS, Settings, first_order_count, main

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("practical")
    assert main(["--out", str(out), "--quick", "--no-progress"]) == 0
    return out, json.loads((out / "practical_schedules.json").read_text())


@pytest.mark.slow
def test_quick_run_structure(quick):
    out, data = quick
    assert (out / "practical_schedules.png").stat().st_size > 10_000
    assert not (out / ".partial").exists()  # finished pieces are removed after a successful run
    s = Settings.for_mode(True)
    assert data["quick"] and data["order"] == 3 and data["samples"] == s.samples
    assert data["replications"] == s.replications and data["trials"] == s.trials
    assert [c["key"] for c in data["configurations"]] == [c.key for c in CONFIGURATIONS]
    for c, config in zip(data["configurations"], CONFIGURATIONS, strict=True):
        n = len(s.eta_k1)
        assert len(c["eta"]) == len(c["eta_T"]) == len(c["simulated"]) == n
        assert set(c["predictions"]) == set(c["agreement"]) == {"1", "2", "3"}
        assert all(len(p["change"]) == len(p["stderr"]) == n for p in c["predictions"].values())
        assert all(p > 0 for p in c["predictions"]["3"]["stderr"])
        assert all(sim["n"] == s.trials and sim["nonfinite"] == 0 and sim["sem"] > 0 for sim in c["simulated"])
        assert c["T"] == config.schedule().T
        np.testing.assert_allclose(np.array(c["eta"]) * c["K1"], s.eta_k1, rtol=1e-12)
        np.testing.assert_allclose(np.array(c["eta"]) * c["T"], c["eta_T"], rtol=1e-12)
        assert c["momentum"] == config.momentum and len(c["lr_multipliers"]) == c["T"]
        curve = c["curve"]  # the drawn polynomials: same statistics, a fine grid up to the largest simulated eta
        assert curve["eta"][-1] == pytest.approx(c["eta"][-1]) and set(curve["orders"]) == {"1", "2", "3"}
        assert all(len(p["change"]) == len(curve["eta"]) for p in curve["orders"].values())


@pytest.mark.slow
def test_measure_once_order_one_is_eta_K1_times_the_same_value(quick):
    """All predictions come from one measurement: the order-1 change is −η·K₁·|G|² with one |G|², so at equal
    η·K₁ it is the same number in every configuration, and constant lr scales it by T/K₁."""
    _, data = quick
    first = [np.array(c["predictions"]["1"]["change"]) for c in data["configurations"]]
    for other in first[1:]:
        np.testing.assert_allclose(other, first[0], rtol=1e-9)
    assert np.all(first[0] < 0)
    for c in data["configurations"]:
        const = np.array(c["constant_lr"]["predictions"]["1"]["change"])
        np.testing.assert_allclose(const, np.array(c["predictions"]["1"]["change"]) * c["T"] / c["K1"], rtol=1e-9)
        assert c["constant_lr"]["K1"] == pytest.approx(c["T"])


@pytest.mark.slow
def test_order_three_agrees_with_sgd_at_the_smallest_eta(quick):
    _, data = quick
    for c in data["configurations"]:
        pred, sim = c["predictions"]["3"], c["simulated"][0]
        z = (pred["change"][0] - sim["change"]) / np.hypot(pred["stderr"][0], sim["sem"])
        assert abs(z) < 4.0, (c["key"], z)
        assert c["agreement"]["3"]["z"][0] == pytest.approx(z)


@given(N=st.integers(1, 30), beta=st.sampled_from([0.0, 0.5, 0.9]), spec=st.sampled_from(
    ["constant", "cosine", "warmup:3", "step:0.1@2", "warmup:2+cosine"]))
@settings(max_examples=30, deadline=None)
def test_first_order_count_is_the_double_sum(N, beta, spec):
    schedule = sd.sgd(N, 1, 1).with_lr(spec).with_momentum(beta)
    m = schedule.lr_multipliers()
    T = schedule.T
    brute = sum(m[t] * beta ** (t - s) for s in range(T) for t in range(s, T))
    assert first_order_count(schedule) == pytest.approx(brute, rel=1e-12)
    if spec == "constant" and beta:  # docs/momentum.md: K₁ = γT − γ²β(1 − β^T)
        g = 1 / (1 - beta)
        assert first_order_count(schedule) == pytest.approx(g * T - g * g * beta * (1 - beta**T), rel=1e-12)


def test_bad_seed_is_one_line_error(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--seed" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_killed_run_resumes_where_it_stopped(quick, tmp_path, monkeypatch):
    """Kill the run at its third simulated eta point: the rerun reuses the saved statistics and the two finished
    points, simulates only the rest, and writes the same numbers as an uninterrupted run."""
    import sgd_diagrams.experiments.practical_schedules as ps

    real, calls = ps._simulate, []

    def dying(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ps, "_simulate", dying)
    with pytest.raises(KeyboardInterrupt):
        main(["--out", str(tmp_path), "--quick", "--no-progress"])
    assert (tmp_path / ".partial").exists() and not (tmp_path / "practical_schedules.json").exists()
    import sgd_diagrams.api

    def no_measure(*a, **k):
        raise AssertionError("the statistics must be read back from the partial folder")

    monkeypatch.setattr(sgd_diagrams.api, "measure", no_measure)
    calls.clear()
    monkeypatch.setattr(ps, "_simulate", lambda *a, **k: (calls.append(a[2]), real(*a, **k))[1])
    assert main(["--out", str(tmp_path), "--quick", "--no-progress"]) == 0
    n = len(Settings.for_mode(True).eta_k1) * len(CONFIGURATIONS)
    assert len(calls) == n - 2
    resumed = json.loads((tmp_path / "practical_schedules.json").read_text())
    _, full = quick
    for a, b in zip(resumed["configurations"], full["configurations"], strict=True):
        assert a["simulated"] == b["simulated"] and a["predictions"] == b["predictions"]
