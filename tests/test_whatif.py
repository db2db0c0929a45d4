"""What-if grids (issue 14): every cell is ``predict(stats, row schedule, ...)``; trust masks; PNG and JSON."""

from __future__ import annotations

import contextlib
import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.cli import main
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.what_if import parse_axis_values, vary_schedule, whatif


@pytest.fixture(scope="module")
def stats():
    return sd.measure(sd.landscape("example"), 3, samples=900, seed=2, kinds=["test", "train"])


@pytest.fixture(scope="module")
def stats_file(stats, tmp_path_factory):
    path = tmp_path_factory.mktemp("whatif") / "S.json"
    stats.save(path)
    return path


ETAS = [0.005, 0.02, 0.06, 0.2]


@pytest.mark.parametrize("axis, values", [("batch", [1, 2, 3, 6]), ("epochs", [1, 2, 4])])
def test_cells_equal_predict_cell_by_cell(stats, axis, values):
    base = sd.sgd(N=6, B=2, E=2)
    grid = whatif(stats, base, 3, ETAS, axis, values)
    assert grid.value["test-loss"].shape == (len(values), len(ETAS))
    for i, v in enumerate(values):
        sched = sd.sgd(N=6, B=int(v) if axis == "batch" else 2, E=int(v) if axis == "epochs" else 2)
        for q in ("test-loss", "gen-gap"):
            with _quiet():
                p = sd.predict(stats, sched, 3, ETAS, q)
                for j, eta in enumerate(ETAS):  # one cell at a time: the same numbers (to the mean's rounding)
                    cell = sd.predict(stats, sched, 3, [eta], q)
                    assert grid.value[q][i, j] == pytest.approx(cell.value[0], rel=1e-13, abs=1e-15)
                    assert grid.stderr[q][i, j] == pytest.approx(cell.stderr[0], rel=1e-10, abs=1e-15)
                    assert grid.trusted[q][i, j] == cell.trusted[0]  # whatif and predict: the same flag per cell
            assert np.array_equal(grid.value[q][i], p.value) and np.array_equal(grid.stderr[q][i], p.stderr)
            assert np.array_equal(grid.trusted[q][i], p.trusted)


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_trust_mask_shades_large_eta(stats):
    grid = whatif(stats, sd.sgd(N=6, B=1, E=2), 3, [0.001, 0.5, 3.0 / stats.lambda_max], "batch", [1, 6])
    t = grid.trusted["test-loss"]
    assert t[:, 0].all()  # tiny η: the series converges and the orders agree
    assert not t[:, 2].any()  # η·λ_max = 3 > 2: descent diverges
    assert not t[0, 1]  # η = 0.5 with B = 1: the Taylor series is far outside its range


def test_momentum_axis(stats):
    base = sd.sgd(N=6, B=2, E=2)
    betas = [0.0, 0.5, 0.9]
    grid = whatif(stats, base, 3, ETAS, "momentum", betas)
    for i, b in enumerate(betas):
        with _quiet():
            p = sd.predict(stats, base.with_momentum(b), 3, ETAS, "test-loss")
        assert np.array_equal(grid.value["test-loss"][i], p.value)
    with _quiet():
        plain = sd.predict(stats, base, 3, ETAS, "test-loss")
    assert np.allclose(grid.value["test-loss"][0], plain.value, rtol=1e-12)


def test_vary_schedule_keeps_the_family():
    assert vary_schedule(sd.sgd(N=12, B=2, E=3, shuffle_seed=5), "batch", 4) == sd.sgd(N=12, B=4, E=3, shuffle_seed=5)
    avg = vary_schedule(sd.sgd_reshuffled(N=12, B=2, E=3), "epochs", 1)
    assert avg.description == sd.sgd_reshuffled(N=12, B=2, E=1).description
    for base, axis, value, message in ((sd.gd(N=4, T=3), "batch", 2, "SGD schedule"),
                                       (sd.sgd(N=6), "batch", 4, "does not divide"),
                                       (sd.sgd(N=6), "width", 4, "unknown")):
        with pytest.raises(SgdDiagramsError, match=message):
            vary_schedule(base, axis, value)


@settings(max_examples=40, deadline=None)
@given(start=st.floats(1e-4, 1.0), ratio=st.floats(1.5, 100.0), count=st.integers(2, 30),
       log=st.booleans())
def test_axis_ranges(start, ratio, count, log):
    stop = start * ratio
    values = parse_axis_values(f"{start!r}:{stop!r}:{count}" + (":log" if log else ""), "--eta")
    assert len(values) == count and values[0] == pytest.approx(start) and values[-1] == pytest.approx(stop)
    steps = np.diff(np.log(values)) if log else np.diff(values)
    assert np.allclose(steps, steps[0], rtol=1e-9)


def test_axis_parsing_errors():
    assert parse_axis_values("1:32:6:log", "--vary batch", integer=True).tolist() == [1, 2, 4, 8, 16, 32]
    assert parse_axis_values("1,2,4", "--vary batch", integer=True).tolist() == [1, 2, 4]
    for text, message in (("0.1:0.5", "START:STOP:COUNT"), ("0:1:5:log", "log range"), ("a:b:3", "numbers"),
                          ("0.1:0.2:100000", "COUNT"), ("0.1:0.2:3:lin", "START:STOP"), ("1,1", "twice")):
        with pytest.raises(SgdDiagramsError, match=message):
            parse_axis_values(text, "--eta")
    with pytest.raises(SgdDiagramsError, match="whole numbers"):
        parse_axis_values("1.5,2", "--vary batch", integer=True)


def test_refusals(stats):
    base = sd.sgd(N=6, B=2, E=2)
    with pytest.raises(SgdDiagramsError, match="cells"):
        whatif(stats, base, 2, np.linspace(0.001, 0.1, 1000), "epochs", list(range(1, 200)))
    with pytest.raises(SgdDiagramsError, match="order 3"):
        whatif(stats, base, 4, ETAS, "batch", [1, 2])
    with pytest.raises(SgdDiagramsError, match="displacement"):
        whatif(stats, base, 2, ETAS, "batch", [1, 2], quantities=["displacement"])
    with pytest.raises(SgdDiagramsError, match="measured statistics"):
        whatif(sd.landscape("example"), base, 2, ETAS, "batch", [1, 2])
    # the cost is estimated before anything runs: a grid of long history sweeps is refused
    with pytest.raises(SgdDiagramsError, match="what-if grid .* would take"):
        whatif(stats, sd.sgd(N=10000, B=1, E=1, shuffle_seed=0), 3, ETAS, "epochs", [1, 2, 3, 4])


def test_cli_png_json_and_exit_codes(stats_file, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "w.png"
    args = ["whatif", "--stats", str(stats_file), "--schedule", "sgd:N=6,B=2,E=2", "--order", "3",
            "--eta", "0.005:0.2:5:log", "--vary", "batch=1,2,3,6", "-o", str(png), "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "trusted cells" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(png.with_suffix(".json").read_text())
    assert saved["axis"] == "batch" and saved["values"] == [1, 2, 3, 6] and len(saved["eta"]) == 5
    grid = whatif(sd.load_statistics(stats_file), sd.sgd(N=6, B=2, E=2), 3, np.geomspace(0.005, 0.2, 5), "batch",
                  [1, 2, 3, 6])
    assert saved["quantities"]["gen-gap"]["value"] == grid.value["gen-gap"].tolist()
    assert saved["quantities"]["test-loss"]["trusted"] == grid.trusted["test-loss"].tolist()
    bad = [(["--vary", "width=1,2"], "AXIS=VALUES"), (["--vary", "batch=4"], "does not divide"),
           (["--eta", "0.1:0.2"], "START:STOP"), (["--order", "4"], "measured to order 3"),
           (["--vary", "batch=1,2", "--samples", "100"], "drop --samples"), (["-o", str(tmp_path / "w.svg")], ".png"),
           (["--quantity", "test-loss,displacement"], "displacement"),
           (["--vary", "epochs=1:4:4", "--schedule", "sgd:N=10000,B=1,E=1,seed=0"], "would take")]
    for extra, message in bad:
        argv = list(args)
        for k in range(0, len(extra), 2):
            flag = extra[k]
            if flag in argv:
                argv[argv.index(flag) + 1] = extra[k + 1]
            else:
                argv += extra[k:k + 2]
        assert main(argv) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("sgd-diagrams whatif: error:") and message in err[0], (extra, err)
    assert main(["whatif", "--schedule", "sgd:N=6", "--order", "1", "--eta", "0.1", "--vary", "batch=1"]) == 2
    assert "--stats" in capsys.readouterr().err


def test_cli_from_samples_measures_once(tmp_path, capsys):
    argv = ["whatif", "--samples", "400", "--seed", "1", "--schedule", "sgd:N=4,B=1,E=1", "--order", "2",
            "--eta", "0.01,0.03", "--vary", "epochs=1,2", "--json", "--quiet", "--quantity", "test-loss"]
    assert main(argv) == 0
    got = json.loads(capsys.readouterr().out)
    stats = sd.measure(sd.landscape("example"), 2, samples=400, seed=1, kinds=["test"])
    with _quiet():
        p = sd.predict(stats, sd.sgd(N=4, B=1, E=2), 2, [0.01, 0.03], "test-loss")
    assert got["quantities"]["test-loss"]["value"][1] == p.value.tolist()
    assert got["statistics"]["samples"] == 400 and "gen-gap" not in got["quantities"]


def test_momentum_axis_refuses_beta_one(stats):
    base = sd.sgd(N=6, B=2, E=2)
    with pytest.raises(SgdDiagramsError, match=r"\[0, 1\)"):
        whatif(stats, base, 2, ETAS, "momentum", [0.5, 1.0])


def test_whatif_curves_equal_predicted_curves_and_cli(stats, stats_file, tmp_path, capsys):
    """whatif --curve: each row's curve is predict(stats, row schedule, steps=...), at one eta."""
    from sgd_diagrams.what_if import whatif_curves

    base = sd.sgd(N=6, B=1, E=2)
    result = whatif_curves(stats, base, 3, [0.02], "batch", [1, 3], every=2)
    for v, p in zip(result.values, result.predictions, strict=True):
        sched = vary_schedule(base, "batch", v)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = sd.predict(stats, sched, 3, [0.02], steps=list(range(0, sched.T + 1, 2)))
        assert np.array_equal(p.steps, want.steps) and np.allclose(p.value, want.value, rtol=1e-12)
    with pytest.raises(SgdDiagramsError, match="one eta"):
        whatif_curves(stats, base, 3, [0.01, 0.02], "batch", [1, 3])
    out = tmp_path / "w.png"
    assert main(["whatif", "--stats", str(stats_file), "--schedule", "sgd:N=6,B=1,E=2", "--order", "3",
                 "--eta", "0.02", "--vary", "momentum=0,0.5", "--curve", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "one per momentum" in text and out.exists()
    assert json.loads(out.with_suffix(".json").read_text())["values"] == [0.0, 0.5]
    assert main(["whatif", "--stats", str(stats_file), "--schedule", "sgd:N=6,B=1,E=2", "--order", "3",
                 "--eta", "0.02", "--vary", "batch=1,2", "--every", "2"]) == 2
    assert "--curve" in capsys.readouterr().err
