"""The public API contract (issue: one house): top-level names, every landscape kind everywhere, and a
user's own PyTorch model predicted within error bars of simulated SGD."""

from __future__ import annotations

import numpy as np
import pytest

import sgd_diagrams as sd

CONTRACT = [
    "landscape", "load_landscape", "TorchLandscape", "sgd", "gd", "from_batches", "Diagram", "parse",
    "enumerate_diagrams", "history_count", "taylor_series", "predict", "simulate", "SgdDiagramsError",
]


def test_top_level_exports_the_contract():
    for name in CONTRACT:
        assert getattr(sd, name) is not None, name
        assert name in sd.__all__, name


def test_contract_as_written():
    """The snippet of the issue, line for line (exact values checked against the theory modules)."""
    land = sd.landscape("helix")
    sched = sd.sgd(N=100, B=5, E=3)
    s = sd.taylor_series(land, sched, order=3, quantity="test-loss")
    assert len(s.coefficients) == 4
    with pytest.warns(RuntimeWarning, match="eta 0.01 is outside the Taylor series' trust region"):
        p = sd.predict(land, sched, order=3, eta=[0.001, 0.01], quantity="test-loss", method="taylor")
    assert p.stderr is None and p.value.shape == (2,)
    assert np.allclose(p.value, s(np.array([0.001, 0.01])), rtol=1e-12)
    assert p.trusted.tolist() == [True, False]  # as the README says: at eta*T = 0.6 use the resummed form
    from sgd_diagrams.theory.series import taylor_series as engine

    direct = engine(land.to_exact(), sched, 3, "test-loss")(np.array([0.001, 0.01]))
    assert np.allclose(p.value, direct, rtol=1e-12)
    r = sd.simulate(land, sched, optimizers=["sgd", "gd"], eta=[0.001, 0.01], trials=200, seed=0)
    assert r.mean("test-loss").shape == (2,) and np.all(r.sem("test-loss") > 0)
    # paired: the gd - sgd difference is the difference of the means
    assert np.allclose(r.mean("test-loss", "gd - sgd"), r.mean("test-loss", "gd") - r.mean("test-loss", "sgd"))


def test_every_landscape_kind_works_where_it_makes_sense(tmp_path):
    sched = sd.sgd(N=4, B=1, E=1)
    finite = sd.landscape("example")
    assert isinstance(finite, sd.ExactLandscape) and not isinstance(finite, sd.SampledLandscape)
    # a finite JSON landscape simulates (its losses compiled to torch)
    sim = sd.simulate(finite, sched, optimizers="sgd", eta=0.05, trials=2000, seed=0)
    exact = sd.predict(finite, sched, order=3, eta=0.05, method="resummed").value[0]
    assert abs(sim.mean()[0] - exact) < 5 * sim.sem()[0] + 1e-3
    # a built-in torch landscape has an exact form for the theory, with parameters in the spec
    me = sd.landscape("mean-estimation:H=2,S=1")
    assert isinstance(me, sd.SampledLandscape)
    assert sd.as_exact(me).dim == me.dim
    sd.predict(me, sched, order=2, eta=0.1, method="limit")
    with pytest.raises(sd.SgdDiagramsError, match="no parameter"):
        sd.landscape("helix:H=2")


def test_invalid_calls_are_one_line_errors():
    land, sched = sd.landscape("example"), sd.sgd(N=4)
    for kwargs, needle in (
        ({"eta": -0.1}, "positive"),
        ({"eta": [0.1], "method": "magic"}, "unknown method"),
        ({"eta": 0.1, "quantity": "test_loss"}, "unknown quantity"),
        ({"eta": 0.1, "samples": 10, "method": "continuous"}, "taylor and resummed"),
        ({"eta": 0.1, "replications": 5}, "samples"),
    ):
        with pytest.raises(sd.SgdDiagramsError, match=needle) as info:
            sd.predict(land, sched, 2, **kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(sd.SgdDiagramsError, match="order 9 is too expensive"):
        sd.taylor_series(land, sched, 9)
    with pytest.raises(sd.SgdDiagramsError, match="Schedule"):
        sd.taylor_series(land, "sgd:N=4", 2)


def _mlp_landscape(loss=None):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(400, 3, generator=g, dtype=torch.float64)
    noise = 0.3 * torch.randn(400, generator=g, dtype=torch.float64)
    y = (x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + noise).unsqueeze(1)
    loss = loss or (lambda out, target: ((out - target) ** 2).mean())
    return model, sd.TorchLandscape(model, loss, x, y)


def test_torch_landscape_defaults_to_the_models_own_weights():
    torch = pytest.importorskip("torch")
    model, land = _mlp_landscape()
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert torch.equal(land.init, flat) and land.dim == 3 * 6 + 6 + 6 + 1
    assert not land.has_accuracy  # regression
    before = [p.detach().clone() for p in model.parameters()]
    sd.simulate(land, sd.sgd(N=5), eta=0.01, trials=10)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # model untouched
    with pytest.raises(sd.SgdDiagramsError, match="samples"):
        sd.taylor_series(land, sd.sgd(N=5), 2)


def test_torch_landscape_classification_on_tabular_inputs_and_held_out_test_set():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 4, generator=g)
    labels = (x[:, 0] > 0).long()
    land = sd.TorchLandscape(nn.Linear(4, 2), nn.CrossEntropyLoss(), x, labels, test_inputs=x[:50],
                             test_targets=labels[:50])
    assert land.has_accuracy and land.dtype == torch.float32
    manual = nn.functional.cross_entropy(land.outputs(land.init, x[:50]), labels[:50])
    assert torch.allclose(land.test_loss(land.init), manual)
    with pytest.raises(sd.SgdDiagramsError, match="same number of rows"):
        sd.TorchLandscape(nn.Linear(4, 2), nn.CrossEntropyLoss(), x, labels[:10])


def test_mlp_regression_prediction_within_error_bars_of_simulated_sgd():
    """Order-2 estimated predictions (matrix-free, dim 31) agree with 4000 simulated SGD trials."""
    _, land = _mlp_landscape()
    sched = sd.sgd(N=10, B=1, E=1)
    etas = [0.003, 0.006]
    sim = sd.simulate(land, sched, ["sgd"], eta=etas, trials=4000, seed=0)
    for quantity in ("test-loss", "gen-gap"):
        p = sd.predict(land, sched, order=2, eta=etas, quantity=quantity, samples=20000, seed=0)
        assert p.details["estimator"] == "matrix-free"
        z = (p.value - sim.mean(quantity)) / np.hypot(p.stderr, sim.sem(quantity))
        assert np.all(np.abs(z) < 4), (quantity, p.value, p.stderr, sim.mean(quantity), sim.sem(quantity))
    # the prediction sees the effect: the gen gap grows with eta, as simulated
    assert np.all(np.diff(sim.mean("gen-gap")) > 0)


def test_losses_without_forward_over_reverse_get_a_clear_error():
    torch = pytest.importorskip("torch")
    _, land = _mlp_landscape(loss=torch.nn.functional.mse_loss)
    with pytest.raises(sd.SgdDiagramsError, match="elementwise"):
        sd.predict(land, sd.sgd(N=4), order=2, eta=0.01, samples=400)


def test_estimated_prediction_warnings_point_at_the_callers_line():
    """Warnings re-issued by predict(..., samples=K) name the user's file, not the library's internals."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sd.predict(sd.landscape("example"), sd.sgd(N=4, B=1, E=2), 3, [0.5], samples=200, seed=0)
    assert caught and all(w.filename == __file__ for w in caught if issubclass(w.category, RuntimeWarning))


def test_eta_beyond_the_weights_float_range_is_a_one_line_error():
    pytest.importorskip("torch")
    land = sd.landscape("logistic-digits")
    with pytest.raises(sd.SgdDiagramsError, match=r"eta=1e\+300 is beyond the range of this landscape's float32"):
        sd.simulate(land, sd.sgd(N=4), ["sgd"], 1e300, 4)
