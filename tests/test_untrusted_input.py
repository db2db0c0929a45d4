"""Untrusted input, as an attacker or a careless user would give it (issue: untrusted input).

Every field of every input kind — landscape files, schedule files and specs, command-line numbers, data
directories, cache and result files — with wrong types, injection payloads, non-finite and enormous
values.  Each case must: exit with status 2 and one line on stderr (no traceback), run no code (a marker
file never appears), leave no output file claiming completeness, and answer within seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgd_diagrams.cli import main

SECONDS = 20.0  # generous on a loaded CI machine; the typical case answers in well under a second


def _payloads(marker: Path) -> list:
    code = f"__import__('os').system('touch {marker}')"
    return [code, [code], {"x": code}, [[code]], f"exec({code!r})", "t0.__class__", "lambda: 0", "t0; t0",
            "`t0`", "'t0'", "t0[0]", "9**9**9", "10**10**10", "-" * 10000 + "t0", "(" * 2000 + "t0" + ")" * 2000,
            "+".join(["t0"] * 100000), "t0**" * 2000 + "2", "exp(exp(exp(exp(10))))", "1e999", None, True]


def _run(argv: list[str], capsys) -> tuple[int, str, float]:
    start = time.perf_counter()
    rc = main(argv)
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    return rc, err, elapsed


def _assert_refused(argv: list[str], capsys, needle: str | None = None) -> str:
    rc, err, elapsed = _run(argv, capsys)
    lines = [line for line in err.strip().splitlines() if ": warning:" not in line]
    assert rc == 2, (argv, rc, err)
    assert len(lines) == 1 and "Traceback" not in err and ": error:" in lines[0], (argv, err)
    assert elapsed < SECONDS, (argv, elapsed)
    if needle:
        assert needle in lines[0], (argv, lines[0])
    return lines[0]


def _landscape(tmp_path: Path, obj) -> str:
    path = tmp_path / "land.json"
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(path)


GOOD = {"kind": "finite", "dim": 1, "init": [0.5], "points": [{"prob": 0.5, "loss": "t0**2"},
                                                               {"prob": 0.5, "loss": "(t0 - 1)**2"}]}


def _variants(marker: Path):
    """(description, landscape object) for every field with bad values."""
    for payload in _payloads(marker):
        yield "loss", {**GOOD, "points": [{"prob": 1.0, "loss": payload}]}
    bad_values = ["1", None, True, [], {}, 1.5, -1, 0, 10**9, float("nan"), "__import__('os')"]
    for v in bad_values:
        yield "dim", {**GOOD, "dim": v}
        yield "init", {**GOOD, "init": v}
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v != v:  # numbers are valid weights
            yield "init-entry", {**GOOD, "init": [v]}
        yield "prob", {**GOOD, "points": [{"prob": v, "loss": "t0"}]}
        yield "points", {**GOOD, "points": v}
        yield "kind", {**GOOD, "kind": v}
    yield "init-huge", {**GOOD, "init": [1e308]}
    yield "probs-sum", {**GOOD, "points": [{"prob": 0.3, "loss": "t0"}]}
    yield "not-object", [GOOD]
    yield "not-json", "{'kind': 'finite'"
    yield "extra-point-key", {**GOOD, "points": [{"prob": 1.0, "loss": "t0", "code": "x"}, ]}


@pytest.mark.parametrize("command", ["series", "predict", "simulate"])
def test_landscape_files_are_data_and_every_field_is_checked(tmp_path, capsys, command):
    marker = tmp_path / "pwned"
    for what, obj in _variants(marker):
        path = _landscape(tmp_path, obj)
        argv = {"series": ["series", "--order", "2"],
                "predict": ["predict", "--order", "2", "--eta", "0.01"],
                "simulate": ["simulate", "--optimizer", "sgd", "--eta", "0.01", "--trials", "4", "--quiet"]}[command]
        rc, err, elapsed = _run([*argv, "--landscape", path, "--schedule", "sgd:N=2"], capsys)
        assert not marker.exists(), what
        assert "Traceback" not in err and elapsed < SECONDS, (what, err, elapsed)
        assert rc == 2 and len(err.strip().splitlines()) == 1, (what, obj, rc, err)


def test_unknown_keys_in_a_point_are_refused(tmp_path, capsys):
    path = _landscape(tmp_path, {**GOOD, "points": [{"prob": 1.0, "loss": "t0", "code": "x"}]})
    _assert_refused(["series", "--order", "1", "--landscape", path, "--schedule", "sgd:N=2"], capsys, "code")


SCHEDULES = [
    {"N": 3, "T": 5}, {"N": 3, "T": 5, "gd": "yes"}, {"N": 3, "B": 2}, {"N": 0}, {"N": -1}, {"N": 1.5},
    {"N": "3"}, {"N": True}, {"N": 10**9}, {"N": 10, "E": 10**9}, {"N": 10**8, "T": 10**8, "gd": True},
    {"N": 3, "shuffle_seed": -1}, {"N": 3, "shuffle_seed": "0"}, {"N": 3, "batches": []},
    {"N": 3, "batches": [[5]]}, {"N": 3, "batches": [[0, 0]]}, {"N": 3, "batches": [["0"]]},
    {"N": 3, "batches": [[0]], "B": 1}, {"N": 3, "batches": "[[0]]"}, {"B": 1}, [], "x", None,
]


@pytest.mark.parametrize("obj", SCHEDULES, ids=lambda o: json.dumps(o)[:40])
def test_schedule_files_every_field(tmp_path, capsys, obj):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(obj))
    _assert_refused(["series", "--order", "1", "--grid", str(grid)], capsys)


@pytest.mark.parametrize("spec", ["sgd:N=1000000000", "sgd:N=10,E=1000000000", "gd:N=100000000,T=100000000",
                                  "sgd:N=1e8", "sgd:N=-3", "sgd:N=4,seed=-1", "sgd:N=4,X=1", "adam:N=4",
                                  "sgd:N=4,B=3", "gd:N=4", "sgd", ""])
def test_schedule_specs(capsys, spec):
    _assert_refused(["series", "--order", "1", "--schedule", spec], capsys)


CLI_CASES = [
    (["enumerate", "--edges", "8"], "never"),
    (["enumerate", "--edges", "7"], "--force"),
    (["enumerate", "--edges", "-1"], None),
    (["series", "--order", "6", "--schedule", "sgd:N=100,E=2,seed=1"], "--force"),  # swept: fixed reshuffle
    (["series", "--order", "99", "--schedule", "sgd:N=4"], "order"),
    (["series", "--order", "1", "--schedule", "sgd:N=4", "--metric", "nan,0;0,1"], "metric"),
    (["series", "--order", "1", "--schedule", "sgd:N=4", "--metric", "1,2,3"], "metric"),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "-0.1"], "positive"),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "nan"], None),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "inf"], None),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "1e400"], None),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "0.1", "--samples", "100000000000"], "limit"),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "0.1", "--samples", "100", "--seed", "-1"],
     None),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "0.1", "--resum", "--continuous", "--limit",
      "epochs"], "choose one"),
    (["predict", "--order", "2", "--schedule", "sgd:N=4", "--eta", "0.1", "--replications", "3"], "--samples"),
    (["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1",
      "--trials", "1000000000000"], "limit"),
    (["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sde", "--eta", "0.1",
      "--substeps", "1000000000"], "substeps"),
    (["simulate", "--landscape", "helix", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1",
      "--trials", "100000000", "--chunk", "100000000"], "chunk"),
    (["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "gdc", "--eta", "0.1",
      "--gdc-coefficient", "nan"], "finite"),
    (["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "stic", "--eta", "0.1",
      "--stic-weight", "inf"], "finite"),
    (["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "momentum", "--eta", "0.1",
      "--momentum", "1.5"], "momentum"),
    (["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1",
      "--seed", "-5"], "seed"),
    (["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1",
      "--trials", "0"], None),
    (["simulate", "--landscape", "gauss:init=nan", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1"],
     None),
    (["simulate", "--landscape", "helix:H=2", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1"], None),
    (["simulate", "--landscape", "convnet-cifar10", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1"],
     "--data-dir"),
    (["draw", "r(abcdefghijkl)", "-o", "OUT/x.svg"], "too large"),
    (["draw", "r" + "(a" * 5000 + ")" * 5000, "-o", "OUT/x.svg"], None),
    (["draw", "r(a)", "-o", "OUT/x.svg", "--schedule", "sgd:N=4", "--history", "[[0," * 3000 + "]" * 3000], None),
    (["stats", "--landscape", "gauss", "--samples", "-5"], None),
    (["stats", "--landscape", "gauss", "--order", "9"], "order"),
    (["coefficients", "--order", "9"], None),
    (["coefficients", "--order", "2", "--at", "B=-1"], None),
]


@pytest.mark.parametrize("argv,needle", CLI_CASES, ids=lambda a: " ".join(a)[:60] if isinstance(a, list) else None)
def test_command_line_numbers_and_sizes(tmp_path, capsys, argv, needle):
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    _assert_refused(argv, capsys, needle)
    assert not list(tmp_path.glob("*.svg"))


def test_crafted_cache_and_result_files(tmp_path, capsys):
    # a result file with the right fingerprint but corrupt chunks: one line, exit 2, nothing claims completeness
    out = tmp_path / "r.json"
    argv = ["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta", "0.1",
            "--trials", "20", "--chunk", "10", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    saved = json.loads(out.read_text())
    for corrupt in ({"0": "x"}, {"0": {"optimizers": 5}}, {"0": [1, 2]}, {"x:y": {}}, {"0": {"optimizers": {}}}):
        out.write_text(json.dumps({**saved, "complete": False, "chunks": corrupt}))
        _assert_refused(argv, capsys)
        assert not json.loads(out.read_text())["complete"]
    out.write_text("\x00\x01 not json")
    _assert_refused(argv, capsys, "not a results file")
    # a malformed estimate cache is ignored with a warning, never a failure or a wrong answer
    cache = tmp_path / "cache"
    pred = ["predict", "--schedule", "sgd:N=4", "--order", "1", "--eta", "0.01", "--samples", "200", "--json",
            "--cache", str(cache), "--quiet"]
    assert main(pred) == 0
    first = json.loads(capsys.readouterr().out)
    for f in cache.rglob("*.json"):
        f.write_text(json.dumps({"key": json.loads(f.read_text())["key"], "replicas": {"r": [[1e308] * 9]}}))
    assert main(pred) == 0
    assert json.loads(capsys.readouterr().out)["value"] == first["value"]
    # an unwritable cache directory is a warning, the result still arrives
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    assert main([*pred[:-3], "--cache", str(blocked)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["value"] == first["value"] and "warning" in captured.err


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_landscape_like = st.fixed_dictionaries(
    {}, optional={"kind": _json_values, "dim": _json_values, "init": _json_values, "points": _json_values},
)
_schedule_like = st.fixed_dictionaries(
    {}, optional={"N": _json_values, "B": _json_values, "E": _json_values, "T": _json_values, "gd": _json_values,
                  "shuffle_seed": _json_values, "batches": _json_values},
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(land=_landscape_like | _json_values, sched=_schedule_like | _json_values)
def test_random_malformed_json_never_crashes(tmp_path, capsys, land, sched):
    lpath = tmp_path / "l.json"
    gpath = tmp_path / "g.json"
    lpath.write_text(json.dumps(land))
    gpath.write_text(json.dumps(sched))
    rc, err, elapsed = _run(["series", "--order", "1", "--landscape", str(lpath), "--grid", str(gpath)], capsys)
    assert rc in (0, 2) and "Traceback" not in err and "internal error" not in err, (land, sched, err)
    assert elapsed < SECONDS


def test_a_large_finite_landscape_is_refused_before_its_derivatives(tmp_path, capsys):
    dim = 150
    obj = {"kind": "finite", "dim": dim, "init": [0.1] * dim,
           "points": [{"prob": 0.5, "loss": "+".join(f"t{i}**2" for i in range(dim))},
                      {"prob": 0.5, "loss": "+".join(f"t{i}**3" for i in range(dim))}]}
    path = _landscape(tmp_path, obj)
    _assert_refused(["series", "--landscape", path, "--schedule", "sgd:N=4", "--order", "3"], capsys,
                    "symbolic derivatives")
