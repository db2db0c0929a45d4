"""Schedules and landscapes: constructors, JSON forms and one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import FiniteLandscape, landscape_from_json, load_landscape_file
from sgd_diagrams.schedules import (
    from_batches,
    gd,
    load_schedule,
    parse_schedule_spec,
    schedule_from_json,
    sgd,
)


def test_sgd_schedule_shapes():
    s = sgd(6, 2, 3)
    assert s.T == 9 and s.N == 6
    assert s.batches[:3] == ((0, 1), (2, 3), (4, 5))
    g = s.grid()
    assert g.shape == (6, 9) and (g.sum(axis=0) == 2).all() and (g.sum(axis=1) == 3).all()
    shuffled = sgd(6, 2, 3, shuffle_seed=4)
    assert shuffled == sgd(6, 2, 3, shuffle_seed=4) and shuffled != s
    assert (shuffled.grid().sum(axis=1) == 3).all()
    np.testing.assert_allclose(s.cell_weights().sum(axis=0), 1.0)


def test_gd_and_explicit():
    assert gd(3, 4).is_gd() and gd(3, 4).T == 4
    s = from_batches(3, [[2, 0], [1]])
    assert s.batches == ((0, 2), (1,)) and list(s.batch_sizes) == [2, 1]


def test_json_forms_round_trip(tmp_path):
    s = sgd(4, 2, 2, shuffle_seed=3)
    assert schedule_from_json(s.to_json()) == s
    assert schedule_from_json({"N": 4, "B": 2, "E": 2, "shuffle_seed": 3}) == s
    f = tmp_path / "g.json"
    f.write_text(json.dumps({"N": 3, "batches": [[0], [1, 2]]}))
    assert load_schedule(f) == from_batches(3, [[0], [1, 2]])
    assert parse_schedule_spec("sgd:N=4,B=2,E=2,seed=3") == s
    assert parse_schedule_spec("gd:N=3,T=2") == gd(3, 2)


@pytest.mark.parametrize("bad", [
    {"N": 5, "B": 2, "E": 1}, {"N": 0, "B": 1}, {"N": 3, "batches": [[0], []]},
    {"N": 3, "batches": [[0, 0]]}, {"N": 3, "batches": [[3]]}, {"B": 1}, [1, 2],
    {"N": 3, "batches": []}, {"N": 3, "B": 1, "E": 0}, {"N": 3, "X": 1}, {"N": 2.5},
    {"N": 3, "batches": [["a"]]}, {"N": 3, "B": 1, "shuffle_seed": "x"},
])
def test_impossible_schedules_are_one_line_errors(bad):
    with pytest.raises(SgdDiagramsError) as exc:
        schedule_from_json(bad)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("spec", ["sgd:B=1", "sgd:N=x", "adam:N=3", "gd:N=3", "sgd:N=3,B"])
def test_bad_specs(spec):
    with pytest.raises(SgdDiagramsError):
        parse_schedule_spec(spec)


def test_malformed_files(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("{not json")
    with pytest.raises(SgdDiagramsError, match="not valid JSON"):
        load_schedule(f)
    with pytest.raises(SgdDiagramsError, match="not valid JSON"):
        load_landscape_file(f)
    with pytest.raises(SgdDiagramsError, match="cannot read"):
        load_landscape_file(tmp_path / "missing.json")


def test_landscape_derivatives_match_finite_differences():
    L = FiniteLandscape(2, [0.3, -0.4], [0.25, 0.75], ["exp(t0)*sin(t1) + t0**3", "log(2 + t0*t1) + tanh(t1)"])
    D = L.derivative_tensors(2)
    h = 1e-6
    for j in range(2):
        for a in range(2):
            e = np.zeros(2)
            e[a] = h
            fd = (L.gradient(j, L.init + e) - L.gradient(j, L.init - e)) / (2 * h)
            np.testing.assert_allclose(D[2][j, a], fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(D[1][j], L.gradient(j, L.init), rtol=1e-12)
    assert L.test_loss(L.init) == pytest.approx(L.probs @ D[0])


@pytest.mark.parametrize("obj,msg", [
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 1, "loss": "__import__('os')"}]}, "unknown name"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 1, "loss": "t0.real"}]}, "unexpected"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 1, "loss": "t1"}]}, "unknown name"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 0.5, "loss": "t0"}]}, "sum to"),
    ({"kind": "finite", "dim": 2, "init": [0], "points": [{"prob": 1, "loss": "t0"}]}, "init has"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 1, "loss": "log(t0)"}]}, "non-finite"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 1, "loss": "1/t0"}]}, "non-finite"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": []}, "non-empty"),
    ({"kind": "torus", "dim": 1, "init": [0], "points": []}, "not supported"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": 1, "loss": "t0 +"}]}, "cannot parse"),
    ({"kind": "finite", "dim": 1, "init": [0], "points": [{"prob": -1, "loss": "t0"}, {"prob": 2, "loss": "t0"}]},
     "positive"),
])
def test_bad_landscapes_are_one_line_errors(obj, msg):
    with pytest.raises(SgdDiagramsError, match=msg) as exc:
        landscape_from_json(obj)
    assert "\n" not in str(exc.value)


def test_non_string_losses_are_never_evaluated(tmp_path):
    """A loss given as a list, dict or nested list is refused before anything parses it (no code runs)."""
    import json as _json

    from sgd_diagrams.cli import main

    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    for loss in ([payload], {"x": payload}, [[payload]], True, None):
        path = tmp_path / "evil.json"
        path.write_text(_json.dumps({"kind": "finite", "dim": 1, "init": [0.0],
                                     "points": [{"prob": 1.0, "loss": loss}]}))
        assert main(["series", "--landscape", str(path), "--schedule", "sgd:N=2", "--order", "1"]) == 2
        assert not marker.exists()
