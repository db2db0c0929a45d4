"""The built-in models with an explicit trial dimension (``landscapes/batched_models.py``) equal the per-trial
model to float rounding: logits of every layer form, per-trial gradients, whole training runs (SGD with batches,
GD, momentum, lr schedules, reshuffled epochs) and the metrics, against the per-trial (``vectorize=False``) and
``vmap`` paths on random small cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call, grad

from sgd_diagrams.landscapes.batched_models import (
    PatchSource,
    TrialEvaluator,
    convnet,
    linear_model,
    trial_gradients,
)
from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.landscapes.torch_models import LogisticRegression, TanhConvNet, cross_entropy_per_sample
from sgd_diagrams.optimizers import GD, GDC, SGD, Momentum
from sgd_diagrams.optimizers.trials import run_trials, simulate_chunk, trial_metrics
from sgd_diagrams.schedules import sgd
from sgd_diagrams.schedules.grid import gd

_LAND: dict = {}


def _convnet_digits():
    if "convnet" not in _LAND:
        _LAND["convnet"] = resolve_landscape("convnet-digits", eval_size=200)
    return _LAND["convnet"]


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy (M, b) from logits (M, classes, b) and targets (M, b), through autograd."""
    return torch.logsumexp(logits, dim=1) - logits.gather(1, targets.unsqueeze(1)).squeeze(1)


def _flat_params(model: torch.nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    parts = torch.split(theta, [int(np.prod(s)) for s in shapes])
    return {n: p.reshape(s) for n, p, s in zip(names, parts, shapes, strict=True)}


@settings(max_examples=25, deadline=None)
@given(channels=st.integers(1, 3), height=st.integers(5, 12), width=st.integers(5, 12), hidden=st.integers(2, 6),
       kernel=st.sampled_from([3, 5]), stride=st.integers(1, 2), dense=st.sampled_from([None, True, False]),
       seed=st.integers(0, 2**16))
def test_convnet_logits_equal_the_per_trial_model(channels, height, width, hidden, kernel, stride, dense, seed):
    """Every convnet geometry and both forms of the second convolution give the module's own logits."""
    gen = torch.Generator().manual_seed(seed)
    model = TanhConvNet((channels, height, width), 4, channels=3, hidden=hidden, kernel=kernel, stride=stride,
                        padding=kernel // 2)
    dim = sum(p.numel() for p in model.parameters())
    theta = torch.randn(3, dim, generator=gen)
    images = torch.randn(7, channels, height, width, generator=gen)
    batched = convnet(model, (channels, height, width), dense)
    expected = torch.stack([functional_call(model, _flat_params(model, th), (images,)) for th in theta])
    shared = batched.logits(batched.prepare(theta), batched.patches(images))  # (trials, classes, images)
    torch.testing.assert_close(shared.transpose(1, 2), expected, rtol=1e-5, atol=2e-5)
    per_trial = batched.logits(batched.prepare(theta), PatchSource(batched, images).rows(
        torch.arange(7).repeat(3, 1)))
    torch.testing.assert_close(per_trial.transpose(1, 2), expected, rtol=1e-5, atol=2e-5)
    # evaluation: σ between layers, tanh's affine part folded into the next layer (padding reads σ = ½)
    folded = batched.evaluation_logits(batched.prepare_evaluation(theta), batched.patches(images))
    torch.testing.assert_close(folded.transpose(1, 2), expected, rtol=1e-5, atol=2e-5)
    # the hand-written backward equals autograd through the same forward
    rows = torch.randint(0, 7, (3, 2), generator=gen)
    targets = torch.randint(0, 4, (3, 2), generator=gen)
    source = PatchSource(batched, images)
    th = theta.clone().requires_grad_(True)
    loss = cross_entropy(batched.logits(batched.prepare(th), source.rows(rows)), targets).mean(dim=1).sum()
    (gradient,) = torch.autograd.grad(loss, th, create_graph=True)
    torch.testing.assert_close(batched.loss_gradients(theta, source.rows(rows), targets), gradient.detach(),
                               rtol=1e-4, atol=1e-5)
    # and its forward-mode derivative equals autograd's Hessian-vector products (double backward)
    direction = torch.randn(theta.shape, generator=gen)
    (hvp,) = torch.autograd.grad((gradient * direction).sum(), th)
    torch.testing.assert_close(batched.hessian_products(theta, direction, source.rows(rows), targets), hvp,
                               rtol=1e-4, atol=1e-4)


def test_logistic_logits_and_metrics_equal_the_per_trial_model():
    land = resolve_landscape("logistic-digits", eval_size=300)
    assert type(land.model) is LogisticRegression
    gen = torch.Generator().manual_seed(5)
    theta = 0.3 * torch.randn(5, land.dim, generator=gen)
    theta[1] = 0.0  # all logits tied: the prediction is the first class, as argmax
    batched = linear_model(land.model, (1, 8, 8))
    x, _ = land._eval_data()
    expected = torch.stack([land.outputs(th, x) for th in theta])
    got = batched.logits(batched.prepare(theta), batched.patches(x)).transpose(1, 2)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    rows = land.sample_training_sets(gen, 5, 6)
    a = trial_metrics(land, theta, rows, plain_eval=True)
    b = trial_metrics(land, theta, rows)
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=2e-6, atol=2e-6, err_msg=key)
    assert b["accuracy"][1] == pytest.approx(float((land._eval_data()[1] == 0).float().mean()))
    batch = land.sample_training_sets(gen, 5, 3)  # the hand-written backward of the one-layer model
    torch.testing.assert_close(land.trial_gradients(theta, batch),
                               torch.stack([grad(land.batch_loss)(theta[i], batch[i]) for i in range(5)]),
                               rtol=1e-4, atol=2e-6)


@settings(max_examples=10, deadline=None)
@given(rows_per_trial=st.integers(1, 12), trials=st.integers(1, 9), scale=st.floats(0.1, 1.5),
       dense=st.booleans(), budget=st.sampled_from([1, 5, 4096]), seed=st.integers(0, 2**16))
def test_trial_gradients_equal_per_trial_gradients(rows_per_trial, trials, scale, dense, budget, seed):
    land = _convnet_digits()
    gen = torch.Generator().manual_seed(seed)
    theta = land.init + scale * torch.randn(trials, land.dim, generator=gen)
    rows = land.sample_training_sets(gen, trials, rows_per_trial)
    batched = convnet(land.model, (1, 8, 8), dense)
    got = trial_gradients(batched, PatchSource(batched, land.inputs), land.targets, theta, rows, budget)
    expected = torch.stack([grad(land.batch_loss)(theta[i], rows[i]) for i in range(trials)])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=2e-6)
    assert got.abs().max() > 1e-3  # not a comparison of zeros


@settings(max_examples=12, deadline=None)
@given(batches=st.integers(1, 4), B=st.integers(1, 4), E=st.integers(1, 3), eta=st.floats(0.005, 0.3),
       beta=st.sampled_from([0.0, 0.5, 0.9]), kind=st.sampled_from(["sgd", "gd", "momentum", "shuffled", "lr"]),
       trials=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_training_runs_equal_the_per_trial_runs(batches, B, E, eta, beta, kind, trials, seed):
    """Final weights of whole runs: the batched step (one autograd pass) against the per-trial loop."""
    land = _convnet_digits()
    N = max(batches * B, 2)
    B = B if N % B == 0 else 1
    schedule = {"sgd": sgd(N, B, E), "momentum": sgd(N, B, E), "lr": sgd(N, B, E),
                "gd": gd(N, E * 2), "shuffled": sgd(N, B, E, shuffle_seed=seed)}[kind]
    if kind == "lr":
        schedule = schedule.with_lr(np.linspace(1.5, 0.2, schedule.T))
    if beta and kind != "momentum":
        schedule = schedule.with_momentum(beta)
    optimizer = {"gd": GD(), "momentum": Momentum(0.7)}.get(kind, SGD())
    stepper = optimizer.bind(land, schedule, eta)
    gen = torch.Generator().manual_seed(seed)
    rows = land.sample_training_sets(gen, trials, N)
    steps = [0, schedule.T // 2, schedule.T]
    fast = run_trials(stepper, rows, steps, torch.Generator().manual_seed(1), vectorize=True)
    state = torch.func.vmap(stepper.init_state)(fast[0])
    assert stepper.step_trials(state, 0, rows[:, :1], rows, None) is not None  # the batched path ran
    slow = run_trials(stepper, rows, steps, torch.Generator().manual_seed(1), vectorize=False)
    for step in steps:
        torch.testing.assert_close(fast[step], slow[step], rtol=1e-4, atol=2e-5)
    assert (fast[schedule.T] - fast[0]).abs().max() > 1e-4  # the runs moved


@settings(max_examples=6, deadline=None)
@given(N=st.integers(2, 6), T=st.integers(1, 3), eta=st.floats(0.01, 0.3), coefficient=st.sampled_from([None, 3.0]),
       trials=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_gdc_runs_equal_the_per_trial_runs(N, T, eta, coefficient, trials, seed):
    """GDC's regularized gradient (per-sample gradients, then the gradient through them) for all trials at once
    against the per-trial ``torch.func`` path."""
    land = _convnet_digits()
    stepper = GDC(coefficient).bind(land, sgd(N, 1, 1), eta)  # κ from the SGD schedule GDC emulates
    T = min(T, N)
    rows = land.sample_training_sets(torch.Generator().manual_seed(seed), trials, N)
    state = (land.init + 0.3 * torch.randn(trials, land.dim, generator=torch.Generator().manual_seed(seed)),)
    one = stepper.step_trials(state, 0, rows[:, :1], rows, None)
    assert one is not None  # the batched path ran
    expected = torch.stack([stepper.step((state[0][i],), 0, rows[i, :1], rows[i], None)[0] for i in range(trials)])
    torch.testing.assert_close(one[0], expected, rtol=1e-4, atol=2e-6)
    fast = run_trials(stepper, rows, [T], torch.Generator().manual_seed(1), vectorize=True)[T]
    slow = run_trials(stepper, rows, [T], torch.Generator().manual_seed(1), vectorize=False)[T]
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=2e-5)


def test_gdc_batched_step_is_not_gd():
    """The regularizer is in the batched step: with a large coefficient GDC's step differs from GD's."""
    land = _convnet_digits()
    rows = land.sample_training_sets(torch.Generator().manual_seed(2), 3, 5)
    state = (land.init.expand(3, -1).clone(),)
    gdc = GDC(50.0).bind(land, sgd(5, 1, 1), 0.2).step_trials(state, 0, rows[:, :1], rows, None)[0]
    plain = GD().bind(land, gd(5, 1), 0.2).step_trials(state, 0, rows, rows, None)[0]
    assert (gdc - plain).abs().max() > 1e-3


@settings(max_examples=8, deadline=None)
@given(N=st.integers(2, 15), trials=st.integers(1, 40), chunk=st.sampled_from([1, 3, 16]),
       block=st.sampled_from([7, 64, 256]), subsample=st.sampled_from([None, 5, 60]), seed=st.integers(0, 2**16))
def test_evaluator_equals_the_plain_evaluation(N, trials, chunk, block, subsample, seed):
    """Test loss, accuracy, train loss (and the subsample variance) for any trial chunk and image block."""
    land = _convnet_digits()
    gen = torch.Generator().manual_seed(seed)
    theta = land.init + 0.4 * torch.randn(trials, land.dim, generator=gen)
    rows = land.sample_training_sets(gen, trials, N)
    eval_rows = None
    if subsample:
        eval_rows = torch.rand(trials, land.n_test_points, generator=gen).argsort(dim=1)[:, :subsample]
    x, y = land._eval_data()
    evaluator = TrialEvaluator(land.batched_model(), land.inputs, land.targets, x, y, trial_chunk=chunk,
                               block=block, cache_bytes=0 if block == 7 else 2**26)
    got = {k: v.double().numpy() for k, v in evaluator(theta, rows, eval_rows).items()}
    want = trial_metrics(land, theta, rows, eval_rows=eval_rows, plain_eval=True)
    for key in got:
        np.testing.assert_allclose(got[key], want[key], rtol=2e-5, atol=2e-6, err_msg=key)


def test_simulation_statistics_equal_the_unbatched_paths():
    """A whole chunk (SGD and GD paired, metrics reduced to moments): batched against the per-trial loop."""
    land = _convnet_digits()
    schedule = sgd(6, 2, 2)
    a = simulate_chunk(land, schedule, [SGD(), GD()], 0.05, 24, seed=3, chunk_index=0, record_steps=[3, 6])
    b = simulate_chunk(land, schedule, [SGD(), GD()], 0.05, 24, seed=3, chunk_index=0, record_steps=[3, 6],
                       vectorize=False)
    _assert_same_statistics(a, b, mean_tol=(1e-5, 1e-6), m2_tol=(1e-3, 1e-7))


def _assert_same_statistics(a, b, mean_tol: tuple[float, float], m2_tol: tuple[float, float]) -> None:
    """Two chunks' statistics agree: counts exactly, means and second moments within (rtol, atol)."""
    for kind in ("optimizers", "differences"):
        for name, steps in a[kind].items():
            for step, metrics in steps.items():
                for metric, moments in metrics.items():
                    other = b[kind][name][step][metric]
                    assert np.array_equal(moments.count, other.count)
                    where = f"{kind} {name} {step} {metric}"
                    np.testing.assert_allclose(moments.mean, other.mean, *mean_tol, err_msg=where)
                    np.testing.assert_allclose(moments.m2, other.m2, *m2_tol, err_msg=where)


@pytest.mark.parametrize("schedule, momentum", [(sgd(6, 2, 2), 0.0), (sgd(5, 1, 1, shuffle_seed=2), 0.5)])
def test_trial_blocks_inside_a_chunk_equal_one_block(monkeypatch, schedule, momentum):
    """Training a chunk's trials in blocks (cache-sized working sets) gives the numbers of one block: the
    training sets come from the chunk's seed first, and SGD/GD draw nothing while training."""
    from sgd_diagrams.optimizers import trials as trials_module

    land = _convnet_digits()
    sch = schedule.with_momentum(momentum) if momentum else schedule
    runs = []
    for block in (16, 10**9):
        monkeypatch.setattr(trials_module, "TRIAL_BLOCK", block)
        if block == 16:
            assert len(trials_module._trial_blocks(land, SGD().bind(land, sch, 0.05), sch, 40, True)) == 3
            user = type(land)(_Wider((1, 8, 8), 10), land.dataset, eval_size=50)  # no batched form: one block
            assert trials_module._trial_blocks(user, SGD().bind(user, sch, 0.05), sch, 40, True) == [(0, 40)]
        runs.append(simulate_chunk(land, sch, [SGD(), GD()], 0.05, 40, seed=5, chunk_index=1,
                                   record_steps=[2, sch.T]))
    _assert_same_statistics(*runs, mean_tol=(1e-7, 1e-9), m2_tol=(1e-5, 1e-9))


class _Wider(TanhConvNet):
    """A subclass of the built-in convnet: no batched form (it may override anything)."""


def test_models_without_a_batched_form_keep_the_per_trial_path():
    """A subclass, another loss or a user model: no batched form, so the generic paths run."""

    land = _convnet_digits()
    assert land.batched_model() is not None
    other = type(land)(_Wider((1, 8, 8), 10), land.dataset, eval_size=50)
    assert other.batched_model() is None and other.trial_gradients(other.init[None], torch.zeros(1, 1).long()) is None
    mse = type(land)(TanhConvNet((1, 8, 8), 10), land.dataset, eval_size=50,
                     per_sample_loss=lambda out, y: cross_entropy_per_sample(out, y) * 1.0)
    assert mse.batched_model() is None and mse.trial_metrics_batched(mse.init[None], torch.zeros(1, 2).long()) is None


@pytest.mark.parametrize("shape", [(2, 12, 12), (1, 15, 11)])
def test_larger_images_use_the_unfold_form_and_small_blocks(shape):
    """Images larger than the digits: conv2 as an unfold (its dense form would cost more), blocks of fewer
    images, patches not cached — the metrics still equal the plain per-trial evaluation."""
    from sgd_diagrams.landscapes.data import ImageDataset
    from sgd_diagrams.landscapes.torch_models import TorchModelLandscape

    rng = np.random.default_rng(4)
    data = ImageDataset("synthetic", rng.random((300, *shape)).astype(np.float32), rng.integers(0, 5, 300), 5)
    land = TorchModelLandscape(TanhConvNet(shape, 5), data, init=rng.standard_normal(
        sum(p.numel() for p in TanhConvNet(shape, 5).parameters())))
    model = land.batched_model()
    assert not model.later[0].dense
    evaluator = TrialEvaluator(model, land.inputs, land.targets, *land._eval_data(), cache_bytes=0)
    assert evaluator.block < 256 and evaluator._blocks is None
    gen = torch.Generator().manual_seed(0)
    theta = land.init + 0.3 * torch.randn(5, land.dim, generator=gen)
    rows = land.sample_training_sets(gen, 5, 4)
    got = {k: v.double().numpy() for k, v in evaluator(theta, rows).items()}
    want = trial_metrics(land, theta, rows, plain_eval=True)
    for key in got:
        np.testing.assert_allclose(got[key], want[key], rtol=2e-5, atol=2e-6, err_msg=key)
    torch.testing.assert_close(land.trial_gradients(theta, rows),
                               torch.stack([grad(land.batch_loss)(theta[i], rows[i]) for i in range(5)]),
                               rtol=1e-4, atol=2e-6)
