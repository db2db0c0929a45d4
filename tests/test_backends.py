"""Backends: a Ray run gives exactly the local run's statistics (chunk seeds depend on (seed, chunk) only),
finished chunks are reported as they arrive (resume files), and bad backend input is a one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sgd_diagrams as sd
from sgd_diagrams.cli import main


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_backend_equals_local_and_resumes(local_ray, tmp_path, capsys):
    land, sched = sd.landscape("example"), sd.sgd(N=6)
    local = sd.simulate(land, sched, ["sgd", "gd"], eta=[0.02, 0.05], trials=300, seed=4, chunk=70)
    remote = sd.simulate(land, sched, ["sgd", "gd"], eta=[0.02, 0.05], trials=300, seed=4, chunk=70, backend="ray")
    assert remote.summaries == local.summaries
    # the CLI: a Ray run resumed from a partial result file finishes with the local answer
    out = tmp_path / "r.json"
    argv = ["simulate", "--landscape", "example", "--schedule", "sgd:N=6", "--optimizer", "sgd", "--eta", "0.05",
            "--trials", "200", "--chunk", "50", "--json", "--quiet"]
    assert main(argv) == 0
    expected = json.loads(capsys.readouterr().out)
    assert main([*argv, "--backend", "ray", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["sweep"] == expected["sweep"]
    saved = json.loads(out.read_text())
    del saved["chunks"]["3"]
    saved["complete"] = False
    out.write_text(json.dumps(saved))
    assert main([*argv, "--backend", "ray", "--out", str(out)]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["meta"]["resumed_chunks"] == [0, 1, 2]
    assert resumed["sweep"] == expected["sweep"]


def test_backend_errors_are_one_line(capsys):
    with pytest.raises(sd.SgdDiagramsError, match="unknown backend"):
        sd.simulate(sd.landscape("example"), sd.sgd(N=4), eta=0.1, trials=10, backend="spark")
    with pytest.raises(sd.SgdDiagramsError, match="only for the ray backend"):
        sd.simulate(sd.landscape("example"), sd.sgd(N=4), eta=0.1, trials=10, address="auto")
    assert main(["simulate", "--landscape", "example", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta",
                 "0.1", "--address", "auto"]) == 2
    assert "ray backend" in capsys.readouterr().err


def test_test_subsample_is_unbiased_and_its_variance_is_reported():
    """Each trial evaluated on 64 random test points: the mean agrees with the full evaluation within the
    subsampling error, and the variance split adds up (training sets + subsample = total)."""
    land, sched = sd.landscape("logistic-digits"), sd.sgd(N=10)
    full = sd.simulate(land, sched, ["sgd"], eta=0.5, trials=600, seed=2)
    sub = sd.simulate(land, sched, ["sgd"], eta=0.5, trials=600, seed=2, eval_size=64)
    f = full.summaries[0]["optimizers"]["sgd"]["test-loss"]
    s = sub.summaries[0]["optimizers"]["sgd"]["test-loss"]
    split = s["variance_split"]
    assert split["total"] == pytest.approx(s["sem"] ** 2 * s["n"])
    assert split["training_sets"] + split["test_subsample"] == pytest.approx(split["total"])
    # same training sets: the difference of means is pure subsampling noise
    assert abs(s["mean"] - f["mean"]) < 4 * (split["test_subsample"] / s["n"]) ** 0.5
    # the training-set part matches the full evaluation's variance (to sampling error)
    assert split["training_sets"] == pytest.approx(f["sem"] ** 2 * f["n"], rel=0.35)
    with pytest.raises(sd.SgdDiagramsError, match="exactly"):
        sd.simulate(sd.landscape("example"), sched, eta=0.1, trials=10, eval_size=8)


def test_ray_estimation_shards_equal_local(local_ray):
    """Matrix-free estimates sharded over Ray tasks equal the local ones exactly (rows fixed by the seed)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    x = torch.randn(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    land = sd.TorchLandscape(model, lambda o, t: ((o - t) ** 2).mean(), x, x[:, :1] * 2)
    kwargs = dict(order=2, eta=[0.01], samples=3000, seed=5, replications=24)
    local = sd.predict(land, sd.sgd(N=5), **kwargs)
    remote = sd.predict(land, sd.sgd(N=5), backend="ray", **kwargs)
    assert local.details["estimator"] == "matrix-free"
    assert np.array_equal(local.value, remote.value) and np.array_equal(local.stderr, remote.stderr)


def test_devices_resolve_and_cpu_runs_are_identical(capsys):
    torch = pytest.importorskip("torch")
    from sgd_diagrams.backends import resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(sd.SgdDiagramsError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(sd.SgdDiagramsError, match="no CUDA GPU"):
            resolve_device("cuda")
        assert main(["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta",
                     "0.1", "--device", "cuda"]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    land = sd.landscape("helix")
    assert land.to("cpu") is land and land.device.type == "cpu"
    a = sd.simulate(land, sd.sgd(N=5), ["sgd", "sde"], eta=0.1, trials=50, seed=1)
    b = sd.simulate(land, sd.sgd(N=5), ["sgd", "sde"], eta=0.1, trials=50, seed=1, device="auto")
    if not torch.cuda.is_available():
        assert a.summaries == b.summaries
