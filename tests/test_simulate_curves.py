"""Simulated training curves (issue #22): ``simulate(steps=..., record_every=K)`` against the exact resummed curve,
and the record's bookkeeping (paired steps, resumable chunks, JSON round trip, CLI)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sgd_diagrams as sd
from sgd_diagrams.cli import main
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.optimizers import make_optimizer
from sgd_diagrams.optimizers.trials import simulate as simulate_trials
from sgd_diagrams.schedules.prefixes import check_steps

LAND = "mean-estimation:H=2,S=1"


@pytest.mark.parametrize("schedule", [sd.sgd(20, 1, 1), sd.sgd(10, 2, 2).with_lr([1.0] * 5 + [0.5] * 5),
                                      sd.sgd(12, 3, 1).with_momentum(0.5)], ids=["sgd20", "lr-steps", "momentum"])
def test_simulated_curve_matches_the_exact_resummed_curve(schedule):
    """Mean estimation is quadratic with one Hessian: the order-2 resummed curve is exact for every η, so the
    simulated mean is within 4 SE of it at every recorded step (20 steps, two η, 4000 paired trials)."""
    land = sd.landscape(LAND)
    etas = [0.05, 0.2]
    pred = sd.predict(land, schedule, 2, etas, method="resummed", steps="all")
    sim = sd.simulate(land, schedule, ["sgd"], etas, trials=4000, seed=1, steps="all")
    assert sim.steps.tolist() == pred.details["steps"] == list(range(schedule.T + 1))
    mean, sem = sim.curve(), sim.curve(key="sem")
    assert mean.shape == pred.value.shape == (schedule.T + 1, 2)
    assert np.all(mean[0] == 0.0) and np.all(pred.value[0] == 0.0)  # θ0 is the minimum of the test loss
    z = np.abs(mean[1:] - pred.value[1:]) / sem[1:]
    assert np.all(z < 4.0), z
    assert np.allclose(mean[-1], sim.mean()) and np.allclose(sem[-1], sim.sem())  # the curve ends at the final point


def test_curve_steps_every_k_and_lists():
    land, schedule = sd.landscape(LAND), sd.sgd(10, 1, 1)
    sim = sd.simulate(land, schedule, ["sgd", "gd"], 0.1, trials=50, record_every=4)
    assert sim.steps.tolist() == [0, 4, 8, 10]
    assert sim.curve("test-loss", "gd - sgd").shape == (4, 1)
    assert sim.curve("displacement").shape == (4, 1, 1)
    listed = sd.simulate(land, schedule, ["sgd", "gd"], 0.1, trials=50, steps=[3, 4, 8])
    assert listed.steps.tolist() == [0, 3, 4, 8, 10]
    both = [sim.curve("test-loss", n)[[0, 2, 4 - 1]] for n in ("sgd", "gd")]
    assert np.allclose(both[0][[0, 1]], listed.curve("test-loss", "sgd")[[0, 3]])  # same seed: same trials
    assert np.allclose(both[1][-1], listed.curve("test-loss", "gd")[-1])
    with pytest.raises(SgdDiagramsError, match="every"):
        sd.simulate(land, schedule, ["sgd"], 0.1, trials=5, steps=[1], record_every=2)
    with pytest.raises(SgdDiagramsError, match="0..10"):
        sd.simulate(land, schedule, ["sgd"], 0.1, trials=5, steps=[11])
    with pytest.raises(SgdDiagramsError, match="recorded no steps|no 'test-loss'"):
        sd.Simulation.from_json({"eta": [0.1], "sweep": [{"optimizers": {"sgd": {}}}],
                                 "meta": {"optimizers": ["sgd"]}}).curve()


def test_curve_is_resumable_and_round_trips():
    """Chunks merge exactly at every step (a resumed run is the uninterrupted one); JSON keeps the curve."""
    land = sd.as_sampled(sd.landscape(LAND))
    schedule, opts = sd.sgd(8, 2, 1), [make_optimizer("sgd"), make_optimizer("gd")]
    steps = list(range(schedule.T + 1))
    saved = {}
    whole = simulate_trials(land, schedule, opts, 0.2, 30, seed=3, chunk=10, record_steps=steps,
                            on_chunk=lambda c, s: saved.__setitem__(c, s))
    resumed = simulate_trials(land, schedule, opts, 0.2, 30, seed=3, chunk=10, record_steps=steps,
                              completed={c: saved[c] for c in (0, 2)})
    assert json.dumps(whole.summary(), sort_keys=True) == json.dumps(resumed.summary(), sort_keys=True)
    sim = sd.simulate(land, schedule, ["sgd", "gd"], [0.1, 0.2], trials=30, seed=3, chunk=10, steps="all")
    record = sim.to_json()
    assert record["steps"] == steps
    back = sd.Simulation.from_json(json.loads(json.dumps(record)))
    assert np.array_equal(back.curve("train-loss", "gd"), sim.curve("train-loss", "gd"))
    assert "steps" not in sd.simulate(land, schedule, ["sgd"], 0.1, trials=5).to_json()  # old shape unchanged


def test_cli_record_every_resumes_and_writes_steps(tmp_path, capsys):
    out = tmp_path / "r.json"
    args = ["simulate", "--landscape", LAND, "--schedule", "sgd:N=6,B=1,E=1", "--optimizer", "sgd",
            "--eta", "0.1", "--trials", "40", "--chunk", "20", "--record-every", "2", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "recorded steps" in text
    first = json.loads(out.read_text())
    assert first["complete"] and first["result"]["steps"] == [0, 2, 4, 6]
    assert main(args + ["--json"]) == 0  # every chunk already there: resumed, same numbers
    again = json.loads(capsys.readouterr().out)
    assert again["sweep"] == first["result"]["sweep"]
    assert main(args[:-4] + ["--record-every", "0"]) == 2
    assert "record-every" in capsys.readouterr().err


def test_plot_curve_from_files_and_objects(tmp_path, capsys):
    """plot --curve reads the CLI's files (and sd.curves_vs_simulation the objects); bad inputs are one line."""
    land, schedule = sd.landscape(LAND), sd.sgd(8, 1, 1)
    pred = sd.predict(land, schedule, 2, [0.1, 0.4], steps="all", band=True)
    sim = sd.simulate(land, schedule, ["sgd", "gd"], [0.1, 0.4], trials=60, steps="all")
    png = sd.curves_vs_simulation([pred], sim, out=tmp_path / "o.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    p_file, s_file = tmp_path / "p.json", tmp_path / "s.json"
    p_file.write_text(json.dumps(pred.to_json()))
    s_file.write_text(json.dumps(sim.to_json()))
    out = tmp_path / "f.png"
    assert main(["plot", "--curve", "--prediction", str(p_file), "--simulation", str(s_file), "--out", str(out),
                 "--panels", "optimizer", "--title", "$\\frac{1}{0}$"]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
    final = tmp_path / "final.json"
    final.write_text(json.dumps(sd.predict(land, schedule, 2, [0.1]).to_json()))
    assert main(["plot", "--curve", "--prediction", str(final), "--simulation", str(s_file),
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "not a curve" in capsys.readouterr().err and not (tmp_path / "x.png").exists()
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps(sd.simulate(land, schedule, ["sgd"], 0.1, trials=5).to_json()))
    assert main(["plot", "--curve", "--prediction", str(p_file), "--simulation", str(flat),
                 "--out", str(tmp_path / "y.png")]) == 2
    assert "record-every" in capsys.readouterr().err


def test_record_every_past_the_end_is_refused(tmp_path, capsys):
    """K > T would record only steps 0 and T: refused with one line (simulate and predict, CLI and Python), nothing
    written; K = T records exactly 0 and T."""
    land, schedule = sd.landscape(LAND), sd.sgd(6, 1, 1)
    with pytest.raises(SgdDiagramsError, match="more than the schedule's T = 6"):
        sd.simulate(land, schedule, ["sgd"], 0.1, trials=5, record_every=7)
    with pytest.raises(SgdDiagramsError, match="more than the schedule's T = 6"):
        check_steps("all", 6, 7)  # the rule predict --every and simulate share
    assert sd.simulate(land, schedule, ["sgd"], 0.1, trials=5, record_every=6).steps.tolist() == [0, 6]
    out = tmp_path / "r.json"
    assert main(["simulate", "--landscape", LAND, "--schedule", "sgd:N=6,B=1,E=1", "--optimizer", "sgd", "--eta",
                 "0.1", "--trials", "10", "--record-every", "7", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--record-every = 7 is more than the schedule's T = 6" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["predict", "--landscape", LAND, "--schedule", "sgd:N=6,B=1,E=1", "--order", "2", "--eta", "0.1",
                 "--curve", "--every", "9"]) == 2
    assert "--every = 9 is more than the schedule's T = 6" in capsys.readouterr().err
