"""The simulate subcommand: JSON shape, paired differences, atomic --out and resume, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sgd_diagrams.cli import main


def _run(argv, capsys):
    rc = main(["simulate", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


BASE = ["--landscape", "gauss", "--schedule", "sgd:N=4,B=1,E=1", "--eta", "0.1", "--quiet"]


def test_single_optimizer_json(capsys):
    rc, out, _ = _run(
        [*BASE, "--optimizer", "sgd", "--trials", "50", "--steps", "2", "--json"], capsys
    )
    assert rc == 0
    full = json.loads(out)  # one shape for every run: a sweep of length one, one optimizer
    assert full["eta"] == [0.1] and list(full["sweep"][0]["optimizers"]) == ["sgd"]
    res = full["sweep"][0]["optimizers"]["sgd"]
    for metric in ("test-loss", "train-loss", "gen-gap", "displacement"):
        assert set(res[metric]) >= {"mean", "sem", "ci95"}
    lo, hi = res["test-loss"]["ci95"]
    assert lo < res["test-loss"]["mean"] < hi
    assert len(res["displacement"]["mean"]) == 1 and len(res["displacement"]["ci95"][0]) == 2
    assert set(res["at_steps"]) == {"2", "4"}


def test_paired_differences(capsys):
    rc, out, _ = _run([*BASE, "--optimizer", "sgd", "gd", "--trials", "60", "--json"], capsys)
    res = json.loads(out)["sweep"][0]
    assert rc == 0 and set(res["optimizers"]) == {"sgd", "gd"}
    d = res["differences"]["gd - sgd"]["test-loss"]["mean"]
    diff = (
        res["optimizers"]["gd"]["test-loss"]["mean"] - res["optimizers"]["sgd"]["test-loss"]["mean"]
    )
    assert abs(d - diff) < 1e-12


def test_out_is_resumable_and_refuses_other_args(tmp_path, capsys):
    out_file = tmp_path / "r.json"
    args = [
        *BASE,
        "--optimizer",
        "sgd",
        "--trials",
        "40",
        "--chunk",
        "15",
        "--json",
        "--out",
        str(out_file),
    ]
    rc, first, _ = _run(args, capsys)
    saved = json.loads(out_file.read_text())
    assert rc == 0 and saved["complete"] and set(saved["chunks"]) == {"0", "1", "2"}
    rc, second, _ = _run(args, capsys)
    a, b = json.loads(first), json.loads(second)
    assert b["meta"]["resumed_chunks"] == [0, 1, 2]
    assert a["sweep"] == b["sweep"]
    # A partially finished file resumes only the missing chunks and reproduces the result.
    del saved["chunks"]["2"]
    saved["complete"] = False
    out_file.write_text(json.dumps(saved))
    rc, third, _ = _run(args, capsys)
    c = json.loads(third)
    assert c["meta"]["resumed_chunks"] == [0, 1] and c["sweep"] == a["sweep"]
    other = [a if a != "0.1" else "0.2" for a in args]
    rc, _, err = _run(other, capsys)
    assert rc == 2 and "different arguments" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "extra",
    [
        ["--optimizer", "adam", "--eta", "0.1"],
        ["--optimizer", "sgd", "--eta", "-1"],
        ["--optimizer", "sgd", "--eta", "abc"],
        ["--optimizer", "sgd", "--trials", "0"],
        ["--optimizer", "sgd", "--steps", "99"],
        ["--optimizer", "sgd", "--param", "nokey"],
        ["--optimizer", "sde", "--substeps", "0"],
        ["--optimizer", "momentum", "--momentum", "1.5"],
    ],
)
def test_bad_inputs_give_one_line_and_status_2(extra, capsys):
    rc, out, err = _run([*BASE, *extra], capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1 and "error:" in err


def test_unknown_landscape_and_bad_grid(tmp_path, capsys):
    rc, _, err = _run(
        ["--landscape", "nope", "--schedule", "sgd:N=2", "--optimizer", "sgd", "--eta", "0.1"],
        capsys,
    )
    assert rc == 2 and "unknown landscape" in err
    grid = tmp_path / "g.json"
    grid.write_text("{not json")
    rc, _, err = _run(
        ["--landscape", "gauss", "--grid", str(grid), "--optimizer", "sgd", "--eta", "0.1"], capsys
    )
    assert rc == 2 and "not valid JSON" in err


def test_divergent_trials_are_reported_not_averaged(capsys):
    # GAUSS with a huge η: exp(−h) overflows for the trials whose first x² is small.
    rc, out, _ = _run(
        [
            "--landscape",
            "gauss",
            "--schedule",
            "sgd:N=4",
            "--optimizer",
            "sgd",
            "--eta",
            "2000",
            "--trials",
            "60",
            "--json",
            "--quiet",
        ],
        capsys,
    )
    res = json.loads(out)
    assert rc == 0
    s = res["sweep"][0]["optimizers"]["sgd"]["test-loss"]
    assert 0 < s["nonfinite"] < 60 and s["n"] + s["nonfinite"] == 60
    assert s["mean"] is not None and np.isfinite(s["mean"])
