"""Hostile input: every reader bounded, every file a regular file, no silent tampering.

The cases live in ``tests/hostile_cases.py`` (one catalog, also counted by
``benchmarks/hostile_input_census.py``); here each is a test.  Special files (FIFOs, links to /dev/zero and
/dev/urandom, folders) run in a child process with a timeout and a memory cap, so a regression that hangs
or fills memory fails the test instead of blocking the suite.  A property test feeds random JSON values to
every JSON reader: each gives a result or a one-line ``SgdDiagramsError``, never another exception.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import hostile_cases as hc  # noqa: E402

from sgd_diagrams.errors import SgdDiagramsError  # noqa: E402
from sgd_diagrams.io import parse_untrusted_json, read_untrusted_json, terminal_safe  # noqa: E402

CASES = [c for c in hc.all_cases() if c.surface != "special files"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return hc.Workspace(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.surface}: {c.name}"[:90])
def test_case_keeps_the_contract(case, ws):
    assert case.check(ws) is None, case.check(ws)


_CHILD = """
import json, resource, signal, sys
sys.path.insert(0, {tests!r})
resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
import hostile_cases as hc
ws = hc.Workspace({root!r})
def alarm(*_):
    raise TimeoutError("hang")
signal.signal(signal.SIGALRM, alarm)
out = {{}}
for case in hc.all_cases():
    if case.surface != "special files":
        continue
    signal.alarm(20)
    try:
        out[case.name] = case.check(ws)
    except BaseException as exc:
        out[case.name] = f"{{type(exc).__name__}}: {{exc}}"
    finally:
        signal.alarm(0)
print(json.dumps(out))
"""


def test_special_files_for_every_file_option(tmp_path):
    """FIFOs, /dev/zero and /dev/urandom links and folders given to every file option: one line, at once."""
    code = _CHILD.format(tests=str(Path(__file__).parent), root=str(tmp_path))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = [c.name for c in hc.all_cases() if c.surface == "special files"]
    assert sorted(results) == sorted(expected)
    broken = {name: why for name, why in results.items() if why is not None}
    assert not broken, broken


# -- the reading layer itself ----------------------------------------------------------------------------------------
def test_read_untrusted_json_reads_plain_json_exactly(tmp_path):
    value = {"a": [1, 2.5, None, True, "x"], "b": {"c": -3e-300}, "n": 10**299}
    p = tmp_path / "v.json"
    p.write_text(json.dumps(value))
    assert read_untrusted_json(p, what="test", max_bytes=1000) == value


def test_read_untrusted_json_byte_cap_holds_without_stat(tmp_path):
    p = tmp_path / "v.json"
    p.write_text("[" + "0," * 600 + "0]")
    with pytest.raises(SgdDiagramsError, match="over the limit"):
        read_untrusted_json(p, what="test", max_bytes=1000)
    assert read_untrusted_json(p, what="test", max_bytes=1203) == [0] * 601  # exactly the size: fine


@pytest.mark.parametrize("depth,ok", [(64, True), (65, False)])
def test_depth_bound_is_exact(depth, ok):
    text = "[" * depth + "]" * depth
    if ok:
        assert parse_untrusted_json(text, what="t") is not None
    else:
        with pytest.raises(SgdDiagramsError, match="nested too deeply"):
            parse_untrusted_json(text, what="t")


def test_number_bounds():
    assert parse_untrusted_json("9" * 300, what="t") == int("9" * 300)
    with pytest.raises(SgdDiagramsError, match="301 digits"):
        parse_untrusted_json("9" * 301, what="t")
    assert parse_untrusted_json("1.7e308", what="t") == 1.7e308
    with pytest.raises(SgdDiagramsError, match="beyond float64"):
        parse_untrusted_json("1.8e308", what="t")
    assert parse_untrusted_json("[NaN]", what="t", allow_nan=True)[0] != 0


def test_terminal_safe_escapes_controls_only():
    assert terminal_safe("a\x1b[2J\nb\x07 é ∑") == "a\\x1b[2J\\x0ab\\x07 é ∑"
    assert terminal_safe("x\ny\tz\r", keep_newlines=True) == "x\ny\tz\\x0d"
    assert terminal_safe("\u202eevil") == "\\u202eevil"


def test_cache_entry_checksums_accept_their_own_entry(ws):
    """An untouched cache entry is used (no warning, same value): the checksum matches what was written."""
    folder, entry, value = hc._fresh_cache(ws, "cache-own")
    rc, out, err = hc._cache_run(ws, folder)
    assert rc == 0 and json.loads(out)["value"] == value and "warning" not in err
    stored = json.loads(entry.read_text())
    assert set(stored) == {"key", "request_sha256", "content_sha256", "replicas"}


# -- random JSON for every reader ------------------------------------------------------------------------------------
_leaves = (st.none() | st.booleans() | st.integers(-10**40, 10**40) | st.floats(allow_nan=False)
           | st.text(max_size=12))
_json = st.recursive(_leaves, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                          max_size=4), max_leaves=16)


def _shaped(reader: str) -> st.SearchStrategy:
    """Random values in the reader's own keys (deeper than a top-level type error)."""
    keys = {"landscape": ["kind", "dim", "init", "points", "name"],
            "schedule": ["N", "B", "E", "T", "gd", "batches", "lr", "momentum", "shuffle_seed"],
            "statistics": ["format", "schema", "version", "landscape", "samples", "seed", "order", "method", "plan",
                           "uvalues", "tensors", "lambda_max"],
            "prediction": ["quantity", "eta", "value", "stderr", "form", "order"],
            "simulation": ["meta", "eta", "sweep", "result", "complete", "chunks"]}[reader]
    return st.fixed_dictionaries({}, optional={k: _json for k in keys})


@pytest.mark.parametrize("reader", hc.JSON_READERS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_json_gives_a_result_or_one_line(reader, data, ws):
    _read_gives_result_or_one_line(ws, reader, data.draw(_json | _shaped(reader)))


def _read_gives_result_or_one_line(ws, reader: str, value) -> None:
    p = ws.path(f"random-{reader.replace(' ', '_')}.json")
    p.write_text(json.dumps(value))
    try:
        hc._json_readers(ws)[reader](p)
    except SgdDiagramsError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("reader", ["statistics", "prediction", "simulation"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_values_in_valid_files(reader, data, ws):
    """A valid file with one field replaced by a random JSON value: a result or one line, never a crash."""
    source = {"statistics": lambda: ws.stats_json, "prediction": lambda: json.loads(ws.pred_file.read_text()),
              "simulation": lambda: json.loads(ws.sim_file.read_text())}[reader]()
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, list) and node:
            walk(node[0], path + (0,))

    walk(source, ())
    path = data.draw(st.sampled_from(paths[1:]))
    node = source
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = data.draw(_json)
    _read_gives_result_or_one_line(ws, reader, source)
