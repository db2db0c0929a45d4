"""Measure once, predict everywhere: the statistics file (issue 14).

Saved per-replication diagram values must give predictions identical to estimating directly with the same
samples, seed and replications (finite landscape: Taylor, resummed, metric, every quantity; a small torch
model: the matrix-free path), round-trip exactly, and a malformed file is one line, never a traceback.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.cli import main
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.estimation.statistics import load_statistics, statistics_from_json

SAMPLES, SEED = 1200, 3


@pytest.fixture(scope="module")
def example():
    return sd.landscape("example")


@pytest.fixture(scope="module")
def stats(example):
    return sd.measure(example, 3, samples=SAMPLES, seed=SEED)


@pytest.fixture(scope="module")
def small_json(example):
    """A small file's JSON (order 2, few samples) for the malformed-file tests."""
    return sd.measure(example, 2, samples=300, seed=1).to_json()


@pytest.fixture(scope="module")
def stats_file(stats, tmp_path_factory):
    path = tmp_path_factory.mktemp("stats") / "S.json"
    stats.save(path)
    return path


def test_round_trip_is_exact(stats, stats_file):
    back = load_statistics(stats_file)
    assert back.to_json() == stats.to_json()
    assert back.plan == stats.plan and back.kinds == ("test", "train", "displacement")
    for kind in stats.kinds:
        for name, arr in stats.uvalues[kind].items():
            assert np.array_equal(back.uvalues[kind][name], arr)
    assert set(back.tensors.parts) == set(stats.tensors.parts)
    assert back.landscape["theta0_sha256"] == stats.landscape["theta0_sha256"]
    assert back.lambda_max == pytest.approx(stats.lambda_max, rel=0, abs=0)


def test_measured_values_are_the_estimators(example, stats):
    """Each saved replica is what estimate_uvalues returns for that kind (same plan, same seed)."""
    from sgd_diagrams.estimation.predictions import estimate_uvalues

    for kind in ("test", "displacement"):
        est = estimate_uvalues(example, kind, 3, SAMPLES, SEED)
        assert est.plan == stats.plan
        for name, arr in est.replicas.items():
            assert np.array_equal(stats.uvalues[kind][name], arr)
    # the mean of the saved estimates is near the exact value (unbiased; a few standard errors)
    exact = sd.predict(example, sd.sgd(N=6, B=2, E=2), 3, [0.02], "test-loss")
    est = sd.predict(stats, sd.sgd(N=6, B=2, E=2), 3, [0.02], "test-loss")
    assert abs(est.value[0] - exact.value[0]) < 4 * est.stderr[0]


@pytest.mark.parametrize("quantity", ["test-loss", "train-loss", "gen-gap", "displacement"])
def test_identity_with_direct_estimation(example, stats_file, quantity):
    loaded = sd.load_statistics(stats_file)
    sched = sd.sgd(N=8, B=2, E=3)
    direct = sd.predict(example, sched, 3, [0.005, 0.02, 0.1], quantity, samples=SAMPLES, seed=SEED)
    saved = sd.predict(loaded, sched, 3, [0.005, 0.02, 0.1], quantity)
    assert np.array_equal(direct.value, saved.value) and np.array_equal(direct.stderr, saved.stderr)
    assert direct.to_json() == saved.to_json()


def _without_seconds(details: dict) -> dict:
    # what the run cost, not its result; and the routing of a direct estimate (a replay has no choice: dense)
    skipped = ("seconds", "cpu_seconds", "estimated_seconds", "estimate_from", "routing")
    return {k: v for k, v in details.items() if k not in skipped}


@pytest.mark.parametrize("quantity", ["test-loss", "displacement"])
def test_identity_resummed_and_metric(example, stats_file, quantity):
    """Resummed (the dense path of krylov_resummed_estimate), its T -> infinity limit and a metric: identical."""
    loaded = sd.load_statistics(stats_file)
    sched = sd.sgd(N=6, B=1, E=2, shuffle_seed=4)
    cases = [(sched, [0.01, 0.05], {"method": "resummed"}), (sched, [0.01, 0.05], {"metric": [[1.0, 0.2], [0.2, 2.0]]}),
             (sd.sgd(N=4, B=2, E=1), [0.3, 0.6], {"method": "limit"}),
             (sd.sgd(N=4, B=1, E=1), [0.4], {"method": "limit", "limit": "samples"})]
    for schedule, etas, kw in cases:
        direct = sd.predict(example, schedule, 3, etas, quantity, samples=SAMPLES, seed=SEED, **kw)
        saved = sd.predict(loaded, schedule, 3, etas, quantity, **kw)
        assert np.array_equal(direct.value, saved.value) and np.array_equal(direct.stderr, saved.stderr), kw
        assert _without_seconds(direct.details) == _without_seconds(saved.details), kw
        assert direct.form == saved.form and direct.warnings == saved.warnings, kw
    assert saved.details["horizon"] > 1 and saved.details["basis"] == "dense"


def test_saved_hessian_is_the_sample_mean_hessian(example, stats):
    """Ĥ of each replication is the mean exact Hessian of its sampled points; lambda_max that of all of them."""
    from sgd_diagrams.estimation.evaluators import draw_rows

    plan = stats.tensors.plan
    rows = draw_rows(example, plan.used, SEED).reshape(plan.replications, -1)
    per_point = example.derivative_tensors(2)[2]
    expect = np.stack([per_point[r].mean(axis=0) for r in rows])
    np.testing.assert_allclose(stats.tensors.hessian, expect, rtol=1e-12, atol=1e-14)
    H = expect.mean(axis=0)
    assert stats.lambda_max == pytest.approx(np.max(np.abs(np.linalg.eigvalsh(H))), rel=1e-12)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(N=st.sampled_from([4, 6, 12]), B=st.sampled_from([1, 2]), E=st.integers(1, 3),
       shuffle=st.sampled_from([None, 1, "average"]), eta=st.floats(1e-3, 0.05))
def test_identity_on_random_schedules(example, stats, N, B, E, shuffle, eta):
    sched = sd.sgd_reshuffled(N, B, E) if shuffle == "average" else sd.sgd(N, B, E, shuffle_seed=shuffle)
    direct = sd.predict(example, sched, 3, [eta], "gen-gap", samples=SAMPLES, seed=SEED)
    saved = sd.predict(stats, sched, 3, [eta], "gen-gap")
    assert np.array_equal(direct.value, saved.value) and np.array_equal(direct.stderr, saved.stderr)


def test_lower_order_is_the_truncation(stats):
    """Order d < D reuses the order-D replicas: the difference of orders is the last Taylor term per replica."""
    sched = sd.sgd(N=8, B=2, E=2)
    p3 = sd.predict(stats, sched, 3, [0.01], "test-loss")
    p2 = sd.predict(stats, sched, 2, [0.01], "test-loss")
    series = [sd.predict(stats, sched, k, [1.0], "test-loss").value[0] for k in range(4)]
    assert p3.value[0] - p2.value[0] == pytest.approx((series[3] - series[2]) * 0.01**3, rel=1e-9, abs=1e-15)


def test_identity_on_a_torch_model():
    """Matrix-free estimates on a small logistic model: the saved file predicts exactly what --samples does."""
    pytest.importorskip("torch")
    land = sd.landscape("logistic-digits")
    saved = sd.measure(land, 2, samples=120, seed=2, kinds=["train"])
    assert saved.method == "matrix-free" and saved.tensors is None
    sched = sd.sgd(N=10, B=2, E=1)
    direct = sd.predict(land, sched, 2, [0.01, 0.1], "gen-gap", samples=120, seed=2)
    back = statistics_from_json(json.loads(json.dumps(saved.to_json())))
    got = sd.predict(back, sched, 2, [0.01, 0.1], "gen-gap")
    # float32 model: the direct path estimates only the schedule's diagrams in its vmapped pass, so the
    # same numbers may differ in the last float32 bits
    np.testing.assert_allclose(got.value, direct.value, rtol=1e-6)
    np.testing.assert_allclose(got.stderr, direct.stderr, rtol=1e-5)
    assert saved.lambda_max > 0
    with pytest.raises(SgdDiagramsError, match="test diagrams"):
        sd.predict(back, sched, 2, [0.01], "test-loss")
    with pytest.raises(SgdDiagramsError, match="part cumulants"):
        sd.predict(back, sched, 2, [0.01], "gen-gap", method="resummed")


def test_power_iteration_finds_the_top_curvature(example):
    """The matrix-free λ_max (HVP power iteration) equals the exact mean Hessian's max |λ| on a finite law."""
    pytest.importorskip("torch")
    import torch

    from sgd_diagrams.estimation.statistics import top_hessian_eigenvalue

    land = sd.as_sampled(example)
    counts = np.round(np.asarray(example.probs) * 10).astype(int)  # the law as 10 equally weighted rows
    assert np.allclose(counts / 10, example.probs)
    rows = torch.as_tensor(np.repeat(np.arange(example.n_points), counts))
    H = np.einsum("k,kij->ij", np.asarray(example.probs), example.derivative_tensors(2)[2])
    assert top_hessian_eigenvalue(land, rows, iterations=200, chunk=3) == pytest.approx(
        np.max(np.abs(np.linalg.eigvalsh(H))), rel=1e-3)  # stops once the quotient moves < 1e-6


def test_refusals(stats):
    sched = sd.sgd(N=4)
    with pytest.raises(SgdDiagramsError, match="measured to order 3"):
        sd.predict(stats, sched, 4, [0.01])
    with pytest.raises(SgdDiagramsError, match="already fix"):
        sd.predict(stats, sched, 2, [0.01], samples=100)
    with pytest.raises(SgdDiagramsError, match="taylor and resummed"):
        sd.predict(stats, sched, 2, [0.01], method="continuous")
    with pytest.raises(SgdDiagramsError, match="taylor and resummed"):
        sd.predict(stats, sched, 2, [0.01], "test-loss-variance")
    with pytest.raises(SgdDiagramsError, match="dense resummed path"):
        sd.predict(stats, sched, 2, [0.01], method="resummed", resummation="matrix-free")


def test_cli_stats_then_predict_is_identical(tmp_path, capsys):
    out = tmp_path / "S.json"
    assert main(["stats", "--order", "2", "--samples", "600", "--seed", "5", "--out", str(out), "--quiet"]) == 0
    assert "saved to" in capsys.readouterr().out
    def predict_args(order="2", quantity="gen-gap"):
        return ["predict", "--schedule", "sgd:N=6,B=2,E=2", "--order", order, "--eta", "0.01,0.04", "--json",
                "--quantity", quantity, "--quiet"]

    assert main(predict_args() + ["--samples", "600", "--seed", "5"]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert main(predict_args() + ["--stats", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == direct
    assert main(predict_args() + ["--stats", str(out), "--landscape", "example"]) == 0  # the measured one: fine
    capsys.readouterr()
    for args, message in ((predict_args("3"), "measured to order 2"), (predict_args() + ["--seed", "5"], "drop --seed"),
                          (predict_args() + ["--landscape", "gauss"], "another landscape")):
        assert main(args + ["--stats", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert main(["stats", "--order", "1", "--samples", "300", "--kind", "test", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(predict_args("1", "train-loss") + ["--stats", str(out)]) == 2
    assert "train diagrams" in capsys.readouterr().err


# -- malformed files ----------------------------------------------------------------------------------
def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def _mutations(base: dict):
    first = next(iter(base["uvalues"]["test"]))
    bad = []

    def m(fn):
        obj = copy.deepcopy(base)
        fn(obj)
        bad.append(obj)

    m(lambda o: o.pop("plan"))
    m(lambda o: o.update(extra=1))
    m(lambda o: o.update(format="something-else"))
    m(lambda o: o.update(schema=3))
    m(lambda o: o.update(samples="1200"))
    m(lambda o: o.update(seed=True))
    m(lambda o: o.update(order=9))
    m(lambda o: o["landscape"].update(dim=0))
    m(lambda o: o["landscape"].update(theta0_sha256="xyz"))
    m(lambda o: o["plan"].update(replications=1))
    m(lambda o: o["plan"].update(groups=7))
    m(lambda o: o["plan"].update(per_group=o["plan"]["per_group"] - 1))  # not the estimator's split
    m(lambda o: o["tensors"].pop("hessian"))
    m(lambda o: o["tensors"].update(hessian=o["tensors"]["hessian"][1:]))
    m(lambda o: o["tensors"].update(hessian=[[[0.0]]] * len(o["tensors"]["hessian"])))
    m(lambda o: o["uvalues"]["test"].pop(first))
    m(lambda o: o["uvalues"]["test"].update({"r(a)": ["0.1"] * len(o["uvalues"]["test"]["r(a)"])}))
    m(lambda o: o["uvalues"]["test"].update({"r(a)": [True] * len(o["uvalues"]["test"]["r(a)"])}))
    m(lambda o: o["uvalues"]["test"].update({"r(a)": [0.5] * 10**5}))  # huge array
    m(lambda o: o["uvalues"]["displacement"].update({"r(a)": [[0.1]] * len(o["uvalues"]["test"]["r"])}))
    m(lambda o: o["uvalues"].update(bogus={}))
    m(lambda o: o["uvalues"].update(test=[1, 2]))
    m(lambda o: o.update(lambda_max=-1.0))
    m(lambda o: o["tensors"].update(max_degree=5))
    m(lambda o: o["tensors"]["parts"][0].update(members=[0, 0]))
    m(lambda o: o["tensors"]["parts"].append(copy.deepcopy(o["tensors"]["parts"][0])))
    m(lambda o: o["tensors"].update(parts=[p for p in o["tensors"]["parts"] if p["degrees"] != [2]]))
    m(lambda o: o.update(method="matrix-free"))
    return bad


def test_malformed_files_are_one_line_errors(small_json, tmp_path):
    base = small_json
    for i, obj in enumerate(_mutations(base)):
        path = _write(tmp_path / f"bad{i}.json", obj)
        with pytest.raises(SgdDiagramsError) as info:
            load_statistics(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value), (i, info.value)
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(base).replace(repr(base["uvalues"]["test"]["r"][0]), "NaN", 1))
    texts = {"nan": nan, "not-json": tmp_path / "x.json", "list": _write(tmp_path / "l.json", [1, 2])}
    texts["not-json"].write_text("{ nope")
    for path in texts.values():
        with pytest.raises(SgdDiagramsError, match="statistics file"):
            load_statistics(path)
    with pytest.raises(SgdDiagramsError, match="cannot read"):
        load_statistics(tmp_path / "missing.json")


def test_old_schema_is_refused_with_one_line(small_json, tmp_path, capsys):
    """Schema 1 (the per-sample blocks estimator) is not what direct estimation computes: measure again."""
    path = _write(tmp_path / "old.json", {**copy.deepcopy(small_json), "schema": 1})
    with pytest.raises(SgdDiagramsError, match="measure the statistics again") as info:
        load_statistics(path)
    assert "\n" not in str(info.value)
    assert main(["predict", "--stats", str(path), "--schedule", "sgd:N=4", "--order", "1", "--eta", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "schema" in err[0] and "measure the statistics again" in err[0]


def test_oversized_file_is_refused_before_parsing(stats_file, monkeypatch):
    import sgd_diagrams.estimation.statistics as module

    monkeypatch.setattr(module, "MAX_STATISTICS_BYTES", 1000)
    with pytest.raises(SgdDiagramsError, match="over the limit"):
        load_statistics(stats_file)


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=4),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                     max_leaves=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_fields_never_crash(small_json, data):
    """Any field replaced by any JSON value: either a valid file or an SgdDiagramsError-worthy rejection."""
    from sgd_diagrams.estimation.statistics import _Bad

    obj = copy.deepcopy({**small_json, "tensors": None})
    target = obj
    path = data.draw(st.lists(st.sampled_from(["landscape", "plan", "uvalues", "test", "r", "r(a)", "dim"]),
                              max_size=3))
    for key in path:
        if isinstance(target, dict) and key in target and isinstance(target[key], (dict, list)):
            target = target[key]
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    key = data.draw(st.sampled_from(keys))
    target[key] = data.draw(_JSON)
    try:
        statistics_from_json(obj)
    except _Bad as exc:
        assert "\n" not in str(exc)


def test_cli_malformed_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "sgd-diagrams-statistics"}')
    assert main(["predict", "--stats", str(bad), "--schedule", "sgd:N=4", "--order", "1", "--eta", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sgd-diagrams predict: error: statistics file") and "lacks" in err[0]
