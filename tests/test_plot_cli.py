"""``sgd-diagrams plot`` and :func:`sgd_diagrams.plots.theory_vs_simulation`: a simulate + predict
pair becomes a PNG; malformed or mismatched files are one-line errors (exit 2)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgd_diagrams.cli import main
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.plots import load_prediction, load_simulation, theory_vs_simulation

pytest.importorskip("matplotlib")

LAND = ["--landscape", "gauss:init=0.5", "--schedule", "sgd:N=4,B=1,E=1", "--eta", "0.05,0.1,0.2"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("pair")
    assert main(["simulate", *LAND, "--optimizer", "sgd", "gd", "--trials", "200", "--quiet",
                 "--out", str(d / "S.json")]) == 0
    for order in (1, 2):
        out = str(d / f"P{order}.json")
        assert main(["predict", *LAND, "--order", str(order), "--json", "--quiet", "--out", out]) == 0
    return d


def _plot(argv, capsys):
    rc = main(["plot", *argv])
    return rc, capsys.readouterr()


def test_valid_pair_writes_a_png(pair, capsys):
    out = pair / "fig.png"
    rc, io = _plot(["--simulation", str(pair / "S.json"), "--prediction", str(pair / "P1.json"),
                    "--prediction", str(pair / "P2.json"), "--out", str(out)], capsys)
    assert rc == 0, io.err
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 5000
    assert "wrote" in io.out


def test_loaders_read_the_numbers_the_files_hold(pair, capsys):
    sim = json.loads((pair / "S.json").read_text())["result"]
    sweep = load_simulation(pair / "S.json", "test-loss", "gd")
    assert sweep.T == 4 and list(sweep.eta) == sim["eta"]
    assert list(sweep.mean) == [s["optimizers"]["gd"]["test-loss"]["mean"] for s in sim["sweep"]]
    diff = load_simulation(pair / "S.json", "test-loss", "gd - sgd")
    assert list(diff.mean) == [s["differences"]["gd - sgd"]["test-loss"]["mean"] for s in sim["sweep"]]
    quantity, curve = load_prediction(pair / "P2.json")
    assert quantity == "test-loss" and list(curve.value) == json.loads((pair / "P2.json").read_text())["value"]


def test_python_helper_accepts_dicts(pair, tmp_path):
    sim = json.loads((pair / "S.json").read_text())["result"]
    pred = json.loads((pair / "P2.json").read_text())
    path = theory_vs_simulation(pred, sim, tmp_path / "f.png", optimizer="sgd")
    assert path.read_bytes()[:8] == PNG


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("bad,needle", [
    ('{"quantity": "test-loss", "eta": [0.1', "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"quantity": "test-loss", "eta": [0.05, 0.1, 0.2], "value": [1, 2]}', "has 2 entries"),
    ('{"quantity": "test-loss", "eta": [0.05, 0.1, 0.2], "value": [1, NaN, 2]}', "finite number"),
    ('{"quantity": "loss", "eta": [0.1], "value": [1]}', "no valid 'quantity'"),
    ('{"quantity": "test-loss", "eta": [0.1], "value": ["x"]}', "finite number"),
])
def test_malformed_prediction_is_one_line_exit_2(pair, tmp_path, capsys, bad, needle):
    rc, io = _plot(["--simulation", str(pair / "S.json"), "--prediction", _write(tmp_path, "P.json", bad),
                    "--out", str(tmp_path / "f.png")], capsys)
    assert rc == 2
    assert io.err.startswith("sgd-diagrams plot: error: ") and io.err.count("\n") == 1 and needle in io.err
    assert not (tmp_path / "f.png").exists()


def test_mismatched_or_unfinished_files_are_one_line_errors(pair, tmp_path, capsys):
    sim = json.loads((pair / "S.json").read_text())
    unfinished = _write(tmp_path, "U.json", json.dumps({**sim, "complete": False}))
    for argv, needle in (
        (["--simulation", unfinished], "unfinished"),
        (["--simulation", str(pair / "S.json"), "--optimizer", "adam"], "no optimizer 'adam'"),
        (["--simulation", str(pair / "P1.json")], "no 'meta'"),
        (["--simulation", _write(tmp_path, "L.json", json.dumps({"meta": {"eta": 0.1}, "optimizers": [1]}))],
         "'optimizers' must be a non-empty object"),
        (["--simulation", str(tmp_path / "missing.json")], "cannot read"),
        (["--simulation", str(pair / "S.json"), "--coordinate", "-1"], "--coordinate"),
    ):
        rc, io = _plot([*argv, "--prediction", str(pair / "P1.json"), "--out", str(tmp_path / "f.png")], capsys)
        assert rc == 2 and io.err.count("\n") == 1 and needle in io.err, io.err


json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obj=st.dictionaries(st.sampled_from(["quantity", "eta", "value", "stderr", "form", "order", "meta", "sweep",
                                            "result", "complete", "optimizers"]), json_values, max_size=6))
def test_arbitrary_json_objects_fail_only_with_one_line_errors(obj, tmp_path):
    for loader in (lambda o: load_prediction(o), lambda o: load_simulation(o, "test-loss")):
        try:
            loader(obj)
        except SgdDiagramsError as exc:
            assert "\n" not in str(exc)


def test_public_name():
    import sgd_diagrams as sd

    assert sd.theory_vs_simulation is theory_vs_simulation
