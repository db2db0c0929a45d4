"""The command line: exact JSON forms, tables, and one-line errors with non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sgd_diagrams.cli import main
from sgd_diagrams.landscapes import landscape_from_json
from sgd_diagrams.schedules import from_batches
from sgd_diagrams.theory import taylor_coefficients

LANDSCAPE = {"kind": "finite", "dim": 2, "init": [0.1, -0.2],
             "points": [{"prob": 0.4, "loss": "exp(t0)*t1 + t0**2"}, {"prob": 0.6, "loss": "cos(t0 - t1) + t1**2/2"}]}
GRID = {"N": 3, "batches": [[0], [1, 2], [0, 1, 2], [2]]}


@pytest.fixture
def files(tmp_path):
    lf = tmp_path / "L.json"
    gf = tmp_path / "G.json"
    lf.write_text(json.dumps(LANDSCAPE))
    gf.write_text(json.dumps(GRID))
    return str(lf), str(gf)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_enumerate_json(capsys):
    code, out, _ = run(capsys, "enumerate", "--edges", "3", "--kind", "test", "--json")
    data = json.loads(out)
    assert code == 0 and data["count"] == 17 == len(data["diagrams"])
    assert set(data["diagrams"][0]) == {"notation", "edges", "parts", "automorphisms"}
    code, out, _ = run(capsys, "enumerate", "--edges", "2", "--kind", "test", "--linkless", "--json")
    assert json.loads(out)["count"] == 3


def test_enumerate_with_grid_keeps_diagrams_with_histories(capsys, tmp_path):
    g = tmp_path / "g.json"
    g.write_text(json.dumps({"N": 3, "B": 1, "E": 1}))
    code, out, _ = run(capsys, "enumerate", "--edges", "2", "--kind", "test", "--grid", str(g), "--json")
    notations = {d["notation"] for d in json.loads(out)["diagrams"]}
    assert notations == {"r(ab)", "r(a(b))", "r(aa)"}  # r(a(a)) has no history when E = B = 1


@pytest.mark.parametrize("quantity", ["test-loss", "train-loss", "gen-gap", "displacement"])
def test_series_json_equals_library(capsys, files, quantity):
    lf, gf = files
    code, out, _ = run(capsys, "series", "--landscape", lf, "--grid", gf, "--order", "3",
                       "--quantity", quantity, "--json")
    assert code == 0
    got = json.loads(out)["coefficients"]
    ref = taylor_coefficients(landscape_from_json(LANDSCAPE), from_batches(3, GRID["batches"]), 3, quantity)
    assert len(got) == 4
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(ref, dtype=float), rtol=1e-12)


def test_tables_and_out_file(capsys, files, tmp_path):
    lf, gf = files
    code, out, _ = run(capsys, "series", "--landscape", lf, "--grid", gf, "--order", "2", "--terms")
    assert code == 0 and "c_2" in out and "r(a(b))" in out
    target = tmp_path / "sub" / "s.json"
    code, out, _ = run(capsys, "series", "--landscape", lf, "--schedule", "sgd:N=3,B=1,E=2", "--order", "2",
                       "--json", "--out", str(target))
    assert code == 0 and out == "" and len(json.loads(target.read_text())["coefficients"]) == 3
    assert not list(target.parent.glob(".*tmp"))


@pytest.mark.parametrize("argv,needle", [
    (["series", "--order", "2", "--grid", "missing.json"], "cannot read"),
    (["series", "--order", "2"], "no schedule"),
    (["series", "--order", "-1", "--schedule", "sgd:N=2"], "order"),
    (["series", "--order", "2", "--schedule", "sgd:N=5,B=2"], "does not divide"),
    (["series", "--order", "2", "--schedule", "sgd:N=2", "--quantity", "loss"], "invalid choice"),
    (["enumerate", "--edges", "2", "--kind", "weird"], "invalid choice"),
    (["series", "--order", "1", "--schedule", "sgd:N=2", "--metric", "1,0;0"], "metric"),
])
def test_errors_are_one_line_nonzero_without_traceback(argv, needle):
    proc = subprocess.run([sys.executable, "-m", "sgd_diagrams.cli", *argv], capture_output=True, text=True)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr


def test_malformed_landscape_file(tmp_path):
    bad = tmp_path / "L.json"
    bad.write_text(json.dumps({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 1, "loss": "os.system"}]}))
    proc = subprocess.run([sys.executable, "-m", "sgd_diagrams.cli", "series", "--landscape", str(bad),
                           "--schedule", "sgd:N=2", "--order", "1"], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_demo_runs(capsys):
    code, out, _ = run(capsys, "demo", "--N", "3", "--E", "1", "--order", "2")
    assert code == 0 and "exact" in out


def test_predict_json_taylor_and_resummed(capsys, files):
    lf, gf = files
    code, out, _ = run(capsys, "predict", "--landscape", lf, "--grid", gf, "--order", "2", "--eta", "0.01,0.02",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["eta"] == [0.01, 0.02] and len(data["value"]) == 2
    ref = taylor_coefficients(landscape_from_json(LANDSCAPE), from_batches(3, GRID["batches"]), 2)
    assert data["value"][0] == pytest.approx(sum(c * 0.01**k for k, c in enumerate(ref)), rel=1e-12)
    code, out, _ = run(capsys, "predict", "--landscape", lf, "--grid", gf, "--order", "2", "--eta", "0.01",
                       "--resum", "--quantity", "displacement", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["value"][0]) == 2


def test_predict_eta_too_large_is_an_error():
    proc = subprocess.run([sys.executable, "-m", "sgd_diagrams.cli", "predict", "--schedule", "sgd:N=3",
                           "--order", "2", "--eta", "1e6", "--resum"], capture_output=True, text=True)
    assert proc.returncode == 2 and "eta too large" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# -- one dialect: the same options mean the same thing in every command ---------------------------------------
def test_simulate_takes_landscape_specs_and_an_eta_sweep(tmp_path, capsys):
    import json as _json

    args = ["simulate", "--landscape", "mean-estimation:H=2,S=1", "--schedule", "sgd:N=4,B=1,E=1",
            "--optimizer", "sgd", "gd", "--eta", "0.01,0.05", "--trials", "300", "--json", "--quiet"]
    assert main(args) == 0
    out = _json.loads(capsys.readouterr().out)
    assert out["eta"] == [0.01, 0.05] and len(out["sweep"]) == 2
    # paired across eta: one η alone gives the same numbers as its entry in the sweep
    assert main([*args[:9], "0.05", *args[10:]]) == 0
    single = _json.loads(capsys.readouterr().out)
    assert single["sweep"][0]["optimizers"]["sgd"]["test-loss"] == out["sweep"][1]["optimizers"]["sgd"]["test-loss"]
    # a finite landscape file and the bundled example simulate too; --out is atomic and resumable
    target = tmp_path / "r.json"
    assert main(["simulate", "--landscape", "example", "--schedule", "sgd:N=3", "--optimizer", "sgd",
                 "--eta", "0.01,0.02", "--trials", "40", "--chunk", "20", "--out", str(target), "--quiet"]) == 0
    saved = _json.loads(target.read_text())
    assert saved["complete"] and set(saved["chunks"]) == {"0:0", "0:1", "1:0", "1:1"}


def test_negative_values_and_quiet_everywhere(tmp_path, capsys):
    # a metric or eta starting with '-' is a value, not an option
    assert main(["series", "--schedule", "sgd:N=3", "--order", "1", "--metric", "-1,0;0,-1", "--json"]) == 0
    flipped = json.loads(capsys.readouterr().out)["coefficients"][1]
    assert main(["series", "--schedule", "sgd:N=3", "--order", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["coefficients"][1] == pytest.approx(-flipped)
    assert main(["predict", "--schedule", "sgd:N=3", "--order", "1", "--eta", "-0.1"]) == 2
    assert "positive" in capsys.readouterr().err
    for cmd in (["enumerate", "--edges", "1"], ["series", "--schedule", "sgd:N=3", "--order", "1"],
                ["predict", "--schedule", "sgd:N=3", "--order", "1", "--eta", "0.01"],
                ["coefficients", "--order", "1"]):
        out = tmp_path / f"{cmd[0]}.txt"
        assert main([*cmd, "--out", str(out), "--quiet"]) == 0, cmd
        assert out.read_text().strip()


def test_contradictory_forms_are_refused(capsys):
    assert main(["predict", "--schedule", "sgd:N=3", "--order", "1", "--eta", "0.01", "--resum", "--continuous"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sgd-diagrams predict: error:") and "choose one form" in err


def test_progress_lines_when_stderr_is_not_a_terminal(capsys):
    from sgd_diagrams.io import LineProgress, progress_bar

    bar = progress_bar(10, "simulating", "trial-steps")  # pytest's stderr is not a terminal
    assert isinstance(bar, LineProgress)
    assert progress_bar(10, "x", "y", enabled=False) is None
    bar.interval = 0.0
    for _ in range(4):
        bar.update(2.5)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("simulating: 100% (10/10 trial-steps)")
