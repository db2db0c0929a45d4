"""Any PyTorch model as a landscape, and the built-in models of seed 001 App. C.2.

:class:`TorchModelLandscape` turns an ``nn.Module``, a per-sample loss and an
:class:`~.data.ImageDataset` into a landscape over the model's *flattened*
parameters θ: a flat vector is split into the module's parameter shapes and
fed through ``torch.func.functional_call``, so θ ↦ loss is a pure function
that ``torch.func.grad``/``vmap`` can transform.  As in App. C.2 the data set
is the true distribution D: training rows are drawn uniformly with
replacement.  The test loss and accuracy are the means over a fixed
evaluation set: the whole data set when it has at most ``eval_size`` images,
otherwise a fixed subsample of ``eval_size`` images drawn with ``eval_seed``.
The SDE's population (G and C) uses the first ``population_size`` of those.

Built-in models are parameterized so that Gaussian-Xavier initialization
pulls back to standard-normal parameters: every weight matrix/kernel is
``W = sqrt(2 / (fan_in + fan_out)) · θ_W`` with θ_W the trained parameter, so
θ_W ~ N(0, 1) *is* Glorot-normal initialization of W; biases are unscaled and
start at 0.  Fixed initializations come from seeds (:func:`standard_normal_init`);
the logistic model starts at 0 as in App. C.3.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..errors import SgdDiagramsError
from .batched_models import (
    BatchedModel,
    PatchSource,
    TrialEvaluator,
    convnet,
    fast_tanh,
    linear_model,
    trial_covariance_regularized_gradients,
    trial_gradients,
)
from .data import ImageDataset
from .protocol import Landscape

__all__ = [
    "XavierLinear",
    "XavierConv2d",
    "LogisticRegression",
    "TanhConvNet",
    "standard_normal_init",
    "TorchLandscape",
    "TorchModelLandscape",
]

TRAIN_DENSE_MIN_ROWS = 8  # rows per trial from which training uses the dense form of conv2 (measured, bench_simulate)
PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class XavierLinear(nn.Module):
    """y = (sqrt(2/(fan_in+fan_out)) θ_W) x + b, so θ_W ~ N(0,1) is Glorot-normal W."""

    def __init__(self, fan_in: int, fan_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(fan_out, fan_in))
        self.bias = nn.Parameter(torch.zeros(fan_out))
        self.scale = math.sqrt(2.0 / (fan_in + fan_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.scale * self.weight, self.bias)


class XavierConv2d(nn.Module):
    """Convolution with kernel W = sqrt(2/(fan_in+fan_out)) θ_W (fans include the kernel area)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, padding: int
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = math.sqrt(2.0 / ((in_channels + out_channels) * kernel * kernel))
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            x, self.scale * self.weight, self.bias, stride=self.stride, padding=self.padding
        )


class LogisticRegression(nn.Module):
    """Linear softmax regression: logits = W·vec(image) + b."""

    def __init__(self, image_shape: tuple[int, int, int], n_classes: int) -> None:
        super().__init__()
        self.linear = XavierLinear(int(np.prod(image_shape)), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(start_dim=-3))


class TanhConvNet(nn.Module):
    """Two tanh conv layers (kernel 5, stride 2, 10 channels, padding 2), dense 10, dense classes.

    Padding 2 keeps a kernel of 5 meaningful on 8×8 digits (8 → 4 → 2); on 28×28 it
    gives 28 → 14 → 7 and on 32×32 gives 32 → 16 → 8.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        n_classes: int,
        channels: int = 10,
        hidden: int = 10,
        kernel: int = 5,
        stride: int = 2,
        padding: int = 2,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        self.conv1 = XavierConv2d(c, channels, kernel, stride, padding)
        self.conv2 = XavierConv2d(channels, channels, kernel, stride, padding)

        def out(size: int) -> int:
            return (size + 2 * padding - kernel) // stride + 1

        h2, w2 = out(out(h)), out(out(w))
        if h2 < 1 or w2 < 1:
            raise SgdDiagramsError(
                f"images of size {h}x{w} are too small for the convnet; use at least 5x5"
            )
        self.dense1 = XavierLinear(channels * h2 * w2, hidden)
        self.dense2 = XavierLinear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = fast_tanh(self.conv1(x))
        x = fast_tanh(self.conv2(x))
        x = fast_tanh(self.dense1(x.flatten(start_dim=-3)))
        return self.dense2(x)


def standard_normal_init(model: nn.Module, seed: int | None) -> np.ndarray:
    """Flat θ0: weights ~ N(0, 1) from ``seed`` (Glorot-normal after the pull-back), biases 0.

    ``seed=None`` gives the all-zero initialization.
    """
    rng = np.random.default_rng(seed) if seed is not None else None
    parts = []
    for name, p in model.named_parameters():
        if rng is None or name.endswith("bias"):
            parts.append(np.zeros(p.numel()))
        else:
            parts.append(rng.standard_normal(p.numel()))
    return np.concatenate(parts)


def cross_entropy_per_sample(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-sample softmax cross-entropy (natural log): logsumexp(logits) − logit of the target.

    Equal to ``F.cross_entropy(..., reduction="none")`` to float rounding and faster on small class counts
    (it skips materializing the full log-softmax)."""
    return torch.logsumexp(logits, dim=-1) - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _as_tensor(x: Any, dtype: torch.dtype, what: str) -> torch.Tensor:
    """Inputs/targets as a tensor: floating data in the landscape's dtype, integer labels as int64."""
    try:
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    except (TypeError, ValueError, RuntimeError):
        raise SgdDiagramsError(f"{what} must be an array or tensor of numbers") from None
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in _INTEGER_DTYPES):
        raise SgdDiagramsError(f"{what} must hold real numbers or integer labels, got {t.dtype}")
    t = t.detach().cpu()
    if t.is_floating_point():
        if not torch.all(torch.isfinite(t)):
            raise SgdDiagramsError(f"{what} contains NaN or infinity; clean the data first")
        return t.to(dtype)
    return t.to(torch.long)


_INTEGER_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def check_model(model: nn.Module, params: list[torch.Tensor]) -> None:
    """Refuse, before anything is copied or allocated, a model the theory cannot treat as a fixed function of θ.

    * more than :data:`~sgd_diagrams.limits.MAX_MODEL_PARAMETERS` parameters (counted from shapes, no memory);
    * parameters on the meta device or off the CPU (the copy and θ live on the CPU; ``device=`` moves them);
    * BatchNorm or Dropout in training mode: the per-sample loss would depend on the rest of the batch or on
      random masks, so it is not the l_x(θ) of the papers — call ``model.eval()`` first.
    """
    from ..limits import MAX_MODEL_PARAMETERS

    count = sum(int(p.numel()) for p in params)
    if count > MAX_MODEL_PARAMETERS:
        raise SgdDiagramsError(f"the model has {count:,} parameters, over the limit {MAX_MODEL_PARAMETERS:,}; "
                               "use a smaller model")
    where = {p.device.type for p in params} | {b.device.type for b in model.buffers()}
    if where - {"cpu"}:
        raise SgdDiagramsError(f"the model has parameters on the {sorted(where - {'cpu'})[0]} device; move it to the "
                               "CPU with model.cpu() (pass device='cuda' to compute on a GPU)")
    if any(p.is_complex() or not p.is_floating_point() for p in params):
        raise SgdDiagramsError("the model has non-real or integer parameters; use float32 or float64 parameters")
    for name, module in model.named_modules():
        if module.training and isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)):
            raise SgdDiagramsError(f"the model's {type(module).__name__} layer {name or 'model'!r} is in training "
                                   "mode, so a sample's loss depends on the batch or on random masks; call "
                                   "model.eval() before building the landscape")


PRETRAIN_PILOT_STEPS = 5
"""Full-batch GD steps of :meth:`TorchLandscape.pretrained` timed before the rest is admitted or refused."""


class TorchLandscape(Landscape):
    """Any ``nn.Module`` with any loss on any data, as a sampled landscape over its flattened weights.

    ``loss_fn(outputs, targets)`` may return per-sample losses or their mean (a vector is averaged), so
    ``torch.nn.functional.mse_loss``, ``nn.CrossEntropyLoss()`` or a custom function all work;
    ``inputs`` is ``(n, ...)`` — tabular ``(n, d)`` rows or images — and ``targets`` ``(n, ...)``
    (integer labels or real values).  As in seed 001 App. C.2 the data set is the distribution D:
    training sets are drawn from its rows uniformly with replacement, and the test loss is the mean over
    all rows (a fixed subsample of ``eval_size`` rows when there are more).  With ``test_inputs`` and
    ``test_targets`` the test loss and accuracy are measured on that held-out set instead.

    θ0 is the model's own current weights unless ``init`` (a flat vector) is given; the model itself is
    copied, never modified.  ``dtype`` defaults to the model's parameter dtype.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        inputs: Any,
        targets: Any,
        *,
        test_inputs: Any = None,
        test_targets: Any = None,
        init: Any = None,
        name: str | None = None,
        eval_size: int = 4096,
        population_size: int = 256,
        eval_seed: int = 0,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise SgdDiagramsError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise SgdDiagramsError("loss_fn must be a function loss_fn(outputs, targets)")
        params = list(model.parameters())
        if not params:
            raise SgdDiagramsError("the model has no parameters to train")
        check_model(model, params)
        dtype = dtype or params[0].dtype
        if dtype not in (torch.float32, torch.float64):
            raise SgdDiagramsError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        for key, value in (("eval_size", eval_size), ("population_size", population_size), ("eval_seed", eval_seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SgdDiagramsError(f"{key} must be a non-negative integer, got {value!r}")
        if eval_size < 1 or population_size < 2:
            raise SgdDiagramsError("eval_size must be >= 1 and population_size >= 2")
        self.model = copy.deepcopy(model).to(dtype)
        self.per_sample_loss = loss_fn
        self.dtype = dtype
        self.name = name or f"{type(model).__name__.lower()}"
        self._names = [n for n, _ in self.model.named_parameters()]
        self._shapes = [tuple(p.shape) for _, p in self.model.named_parameters()]
        self._sizes = [int(np.prod(s)) for s in self._shapes]
        self.dim = int(sum(self._sizes))
        if init is None:
            init = torch.cat([p.detach().reshape(-1).to(torch.float64) for p in model.parameters()]).numpy()
        init = np.asarray(init.detach().cpu() if isinstance(init, torch.Tensor) else init, dtype=np.float64)
        init = init.reshape(-1)
        if init.shape != (self.dim,):
            raise SgdDiagramsError(f"init has {init.size} entries but the model has {self.dim} parameters")
        if not np.all(np.isfinite(init)):
            raise SgdDiagramsError("init contains NaN or infinity; give finite weights")
        self.init = torch.as_tensor(init, dtype=dtype)
        self.inputs = _as_tensor(inputs, dtype, "inputs")
        self.targets = _as_tensor(targets, dtype, "targets")
        n = self.inputs.shape[0] if self.inputs.ndim else 0
        if n < 2 or self.targets.ndim == 0 or self.targets.shape[0] != n:
            raise SgdDiagramsError(
                f"inputs and targets need the same number of rows (at least 2); got {tuple(self.inputs.shape)} "
                f"and {tuple(self.targets.shape)}"
            )
        if (test_inputs is None) != (test_targets is None):
            raise SgdDiagramsError("give both test_inputs and test_targets, or neither")
        self.test_inputs = None if test_inputs is None else _as_tensor(test_inputs, dtype, "test_inputs")
        self.test_targets = None if test_targets is None else _as_tensor(test_targets, dtype, "test_targets")
        if self.test_inputs is not None and (
            self.test_inputs.ndim == 0 or self.test_targets.ndim == 0
            or self.test_inputs.shape[0] != self.test_targets.shape[0] or self.test_inputs.shape[0] < 1
        ):
            raise SgdDiagramsError("test_inputs and test_targets need the same number of rows (at least 1)")
        n_eval = n if self.test_inputs is None else self.test_inputs.shape[0]
        if n_eval <= eval_size:
            eval_rows = torch.arange(n_eval)
        else:
            gen = torch.Generator().manual_seed(eval_seed)
            eval_rows = torch.randperm(n_eval, generator=gen)[:eval_size]
        self.eval_rows = eval_rows
        pool = torch.arange(n) if n <= eval_size else torch.randperm(n, generator=torch.Generator().manual_seed(
            eval_seed))[:eval_size]
        self.population_rows = pool[: min(population_size, pool.numel())]
        self.eval_size = eval_size
        self._check_loss()

    def _check_loss(self) -> None:
        """Evaluate the loss once at θ0 on two rows: a clear error beats a failure inside vmap."""
        try:
            value = self.batch_loss(self.init, torch.arange(2))
        except Exception as exc:  # the user's model or loss: report it in one line
            raise SgdDiagramsError(
                f"the model or loss_fn failed on two rows of inputs ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); check shapes and dtypes"
            ) from None
        if value.ndim != 0 or not torch.isfinite(value):
            raise SgdDiagramsError("loss_fn must give finite losses at init; check the model, data and init")
        out = self.logits(self.init, torch.arange(1))
        self.has_accuracy = (not self.targets.is_floating_point()) and out.ndim == 2 and self.targets.ndim == 1

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat θ into the module's named parameter tensors."""
        pieces = torch.split(theta, self._sizes)
        return {n: p.reshape(s) for n, p, s in zip(self._names, pieces, self._shapes, strict=True)}

    def outputs(self, theta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Model outputs for a batch of inputs, through ``torch.func.functional_call``."""
        return functional_call(self.model, self.unflatten(theta), (inputs,))

    def logits(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Model outputs on data-set rows."""
        return self.outputs(theta, self.inputs[rows])

    def _mean_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        value = self.per_sample_loss(outputs, targets)
        return value.mean() if value.ndim else value

    def sample_training_sets(self, generator: torch.Generator, trials: int, N: int) -> torch.Tensor:
        return torch.randint(0, self.inputs.shape[0], (trials, N), generator=generator)

    def batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self._mean_loss(self.logits(theta, rows), self.targets[rows])

    def _eval_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.test_inputs is None:
            return self.inputs[self.eval_rows], self.targets[self.eval_rows]
        return self.test_inputs[self.eval_rows], self.test_targets[self.eval_rows]

    def test_loss(self, theta: torch.Tensor) -> torch.Tensor:
        x, y = self._eval_data()
        return self._mean_loss(self.outputs(theta, x), y)

    @property
    def n_test_points(self) -> int:  # type: ignore[override]
        """Size of the evaluation set whose mean loss is the test loss (subsampled per trial on request)."""
        return int(self.eval_rows.numel())

    def test_losses(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        x, y = self._eval_data()
        x, y = x[rows], y[rows]
        out = self.outputs(theta, x)
        value = self.per_sample_loss(out, y)
        if value.ndim == 1 and value.shape[0] == rows.shape[0]:
            return value
        return torch.stack([self._mean_loss(out[i : i + 1], y[i : i + 1]) for i in range(rows.shape[0])])

    def test_correct(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        if not self.has_accuracy:
            raise NotImplementedError
        x, y = self._eval_data()
        return (self.outputs(theta, x[rows]).argmax(dim=-1) == y[rows]).to(self.dtype)

    def test_accuracy(self, theta: torch.Tensor) -> torch.Tensor:
        if not self.has_accuracy:
            raise NotImplementedError
        x, y = self._eval_data()
        predicted = self.outputs(theta, x).argmax(dim=-1)
        return (predicted == y).to(self.dtype).mean()

    def trial_metrics_plain(self, theta: torch.Tensor, train_rows: torch.Tensor,
                            eval_rows: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-trial test loss, train loss and accuracy of θ (trials, dim) with plain batched forwards.

        One ordinary forward per trial over its evaluation points *and* its training rows gives the test
        loss, the accuracy and the train loss together (no ``vmap`` over the weights, which turns every
        convolution into a grouped convolution 4-8x slower than the plain one; seed 001 App. C.2's metrics).
        With ``eval_rows`` (trials, k) the test loss is each trial's mean over its own k points, plus the
        subsample variance s²/k·(1 − k/n) as in :func:`~sgd_diagrams.optimizers.trials.trial_metrics`.
        Equal to the ``vmap`` evaluation to float rounding (tested).
        """
        x_eval, y_eval = self._eval_data()
        n_all = int(self.eval_rows.numel())
        x_train, y_train = self.inputs[train_rows], self.targets[train_rows]
        trials, n_train = train_rows.shape[0], train_rows.shape[1]
        test, train, sub, acc = [], [], [], []
        for i in range(trials):
            xe, ye = (x_eval, y_eval) if eval_rows is None else (x_eval[eval_rows[i]], y_eval[eval_rows[i]])
            k = ye.shape[0]
            out = self.outputs(theta[i], torch.cat([xe, x_train[i]]))
            y = torch.cat([ye, y_train[i]])
            per = self.per_sample_loss(out, y)
            if per.ndim == 1 and per.shape[0] == k + n_train:
                test_part, train_part = per[:k], per[k:]
                test.append(test_part.mean())
                train.append(train_part.mean())
                if eval_rows is not None:
                    sub.append(test_part.var() / k * (1.0 - k / n_all))
            else:  # a loss that averages itself: evaluate the parts separately
                test.append(self._mean_loss(out[:k], ye))
                train.append(self._mean_loss(out[k:], y_train[i]))
                if eval_rows is not None:
                    sub.append(self.test_losses(theta[i], eval_rows[i]).var() / k * (1.0 - k / n_all))
            if self.has_accuracy:
                acc.append((out[:k].argmax(dim=-1) == ye).to(self.dtype).mean())
        metrics = {"test-loss": torch.stack(test), "train-loss": torch.stack(train)}
        if eval_rows is not None:
            metrics["test-loss-subsample-variance"] = torch.stack(sub)
        if self.has_accuracy:
            metrics["accuracy"] = torch.stack(acc)
        return metrics

    def population(self) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.population_rows.numel()
        return self.population_rows, torch.full((m,), 1.0 / m, dtype=self.dtype, device=self.init.device)

    def describe(self) -> dict[str, Any]:
        digest = hashlib.sha256
        return {
            "name": self.name,
            "dim": self.dim,
            "n_data": int(self.inputs.shape[0]),
            "data_sha": digest(self.inputs.numpy().tobytes() + self.targets.numpy().tobytes()).hexdigest()[:16],
            "test_data": None if self.test_inputs is None else int(self.test_inputs.shape[0]),
            "eval_size": int(self.eval_rows.numel()),
            "init_sha": digest(self.init.double().numpy().tobytes()).hexdigest()[:16],
            "dtype": str(self.dtype),
        }

    def with_init(self, init: Any) -> TorchLandscape:
        """The same model, loss and data with θ0 = ``init`` (a flat vector of ``dim`` finite numbers)."""
        if isinstance(init, torch.Tensor):
            init = init.detach().cpu().to(torch.float64).numpy()
        try:
            vector = np.asarray(init, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise SgdDiagramsError(f"init must be a flat vector of {self.dim} numbers") from None
        if vector.shape != (self.dim,):
            raise SgdDiagramsError(f"init has {vector.size} entries but the model has {self.dim} parameters")
        if not np.all(np.isfinite(vector)):
            raise SgdDiagramsError("init contains NaN or infinity; give finite weights")
        out = copy.copy(self)
        out.init = torch.as_tensor(vector, dtype=self.dtype, device=self.init.device)
        out.pretraining = None
        return out

    def training_loss(self, theta: torch.Tensor) -> torch.Tensor:
        """The mean loss over every training row (the full-batch objective of GD)."""
        return self.batch_loss(theta, torch.arange(self.inputs.shape[0], device=self.inputs.device))

    def pretrained(self, steps: int, eta: float = 0.1, progress: bool = False, force: bool = False) -> TorchLandscape:
        """θ0 moved by ``steps`` of full-batch GD (rate ``eta``) on every training row: a point near a minimum.

        Returns a new landscape; ``.pretraining`` records steps, eta and the training loss and gradient norm
        before and after (seed 001 Theorem 2 predicts long runs *near a minimum*), and ``estimated_cpu_s`` /
        ``measured_cpu_s``.  The estimate is a pilot of the real work: the first :data:`PRETRAIN_PILOT_STEPS`
        steps are timed in CPU seconds (load from other jobs does not inflate it), the cheapest after the
        first call taken per step, and × the remaining steps; it is checked against the work budget before the
        rest runs (:func:`~sgd_diagrams.limits.check_work`; ``force`` runs it anyway); ``steps`` ≤
        ``MAX_STEPS`` always.
        """
        import time

        from ..io import progress_bar
        from ..limits import MAX_STEPS, check_work

        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise SgdDiagramsError(f"pretrain steps must be a non-negative integer, got {steps!r}")
        if steps > MAX_STEPS:
            raise SgdDiagramsError(f"pretrain steps {steps} exceed the limit {MAX_STEPS:.0e}; pretrain fewer steps")
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not math.isfinite(eta) or eta <= 0:
            raise SgdDiagramsError(f"the pretraining learning rate must be a positive number, got {eta!r}")
        cpu_start = time.process_time()
        theta = self.init.detach().clone()
        grad_fn = torch.func.grad_and_value(self.training_loss)
        g, before = grad_fn(theta)
        start = {"loss": float(before), "grad_norm": float(torch.linalg.vector_norm(g))}
        bar = progress_bar(steps, "pretraining (full-batch GD)", "steps", progress)
        pilot = min(steps, PRETRAIN_PILOT_STEPS)
        per_step = math.inf
        estimate = 0.0
        for step in range(steps):
            clock = time.process_time()
            theta = theta - eta * g
            g, value = grad_fn(theta)
            if not torch.isfinite(value):
                raise SgdDiagramsError(f"pretraining diverged (loss {float(value)}); use a smaller --pretrain-eta")
            if step < pilot:
                per_step = min(per_step, time.process_time() - clock)
                if step == pilot - 1:  # the pilot's CPU so far + the rest at the cheapest pilot step, + the end
                    estimate = time.process_time() - cpu_start + (steps - pilot + 1) * per_step
                    check_work(estimate, f"pretraining {steps} full-batch GD steps", "pretrain fewer steps", force)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        out = self.with_init(theta)
        after = float(self.training_loss(theta))
        out.pretraining = {"steps": steps, "eta": float(eta), "train_loss_before": start["loss"],
                           "grad_norm_before": start["grad_norm"], "train_loss_after": after,
                           "grad_norm_after": float(torch.linalg.vector_norm(g)), "estimated_cpu_s": float(estimate),
                           "measured_cpu_s": float(time.process_time() - cpu_start)}
        return out

    def flatten_state_dict(self, state: dict[str, Any]) -> np.ndarray:
        """A saved ``state_dict`` of this model as a flat θ (keys and shapes must match the model's)."""
        missing = [n for n in self._names if n not in state]
        if missing:
            raise SgdDiagramsError(f"the checkpoint lacks parameter {missing[0]!r} of the model "
                                   f"(it has {', '.join(sorted(map(str, state))[:4])}…)")
        parts = []
        for name, shape in zip(self._names, self._shapes, strict=True):
            value = state[name]
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
                raise SgdDiagramsError(f"checkpoint parameter {name!r} must be a tensor of shape {shape}")
            parts.append(value.detach().reshape(-1).to(torch.float64).cpu())
        return torch.cat(parts).numpy()


class TorchModelLandscape(TorchLandscape):
    """A built-in model on an :class:`~.data.ImageDataset` with per-sample cross-entropy (App. C.2)."""

    def __init__(
        self,
        model: nn.Module,
        dataset: ImageDataset,
        per_sample_loss: PerSampleLoss = cross_entropy_per_sample,
        init: np.ndarray | None = None,
        name: str | None = None,
        eval_size: int = 4096,
        population_size: int = 256,
        eval_seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if init is None:
            init = standard_normal_init(model, None)
        super().__init__(
            model, per_sample_loss, dataset.inputs, dataset.targets, init=init,
            name=name or f"{type(model).__name__.lower()}-{dataset.name}", eval_size=eval_size,
            population_size=population_size, eval_seed=eval_seed, dtype=dtype,
        )
        self.dataset = dataset
        self.has_accuracy = True
        self._batched: dict = {}

    def batched_model(self, dense_conv: bool | None = None) -> BatchedModel | None:
        """The model with an explicit trial dimension (:mod:`.batched_models`) when it is exactly a built-in
        :class:`TanhConvNet` or :class:`LogisticRegression` with the default cross-entropy; else None.
        ``dense_conv``: the form of the convnet's second convolution (None: fewer multiply-adds)."""
        if self.per_sample_loss is not cross_entropy_per_sample:
            return None
        model, shape = self.model, tuple(self.inputs.shape[1:])
        if type(model) is LogisticRegression and type(model.linear) is XavierLinear:
            return linear_model(model, shape)
        layers = (XavierConv2d, XavierConv2d, XavierLinear, XavierLinear)
        if type(model) is TanhConvNet and all(
                type(m) is t for m, t in zip((model.conv1, model.conv2, model.dense1, model.dense2), layers,
                                             strict=True)):
            return convnet(model, shape, dense_conv)
        return None

    def _batched_parts(self) -> dict | None:
        """The batched models, evaluator and patch sources, built once per data and device (copies made by
        ``with_init`` share them)."""
        key = (self.inputs.device, id(self.inputs), id(self.eval_rows))
        entry = self._batched.get(key)
        if entry is None or entry["inputs"] is not self.inputs or entry["eval_rows"] is not self.eval_rows:
            entry = {"inputs": self.inputs, "eval_rows": self.eval_rows, "model": self.batched_model()}
            if entry["model"] is not None:
                x, y = self._eval_data()
                entry["evaluator"] = TrialEvaluator(entry["model"], self.inputs, self.targets, x, y)
                # training on a few rows per trial: the convolution as an unfold costs fewer memory passes
                # than building (and differentiating) each trial's dense matrix
                few = self.batched_model(dense_conv=False)
                entry["train"] = {False: (few, PatchSource(few, self.inputs)),
                                  True: (entry["model"], entry["evaluator"].data)}
            self._batched[key] = entry
        return None if entry["model"] is None else entry

    def trial_metrics_batched(self, theta: torch.Tensor, train_rows: torch.Tensor,
                              eval_rows: torch.Tensor | None = None) -> dict[str, torch.Tensor] | None:
        """Per-trial test loss, accuracy and train loss of θ (trials, dim) with the trial dimension explicit
        (:class:`~.batched_models.TrialEvaluator`; None for models without a batched form).  Same values as
        :meth:`trial_metrics_plain` to float rounding."""
        parts = self._batched_parts()
        return None if parts is None else parts["evaluator"](theta, train_rows, eval_rows)

    def trial_gradients(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor | None:
        """∇ of every trial's mean loss over its own rows: θ (M, dim), rows (M, r) → (M, dim), by one
        hand-written backward pass over the batched model (None for models without a batched form)."""
        parts = self._batched_parts()
        if parts is None:
            return None
        model, source = parts["train"][rows.shape[1] >= TRAIN_DENSE_MIN_ROWS]
        return trial_gradients(model, source, self.targets, theta, rows)

    def trial_covariance_regularized_gradients(self, theta: torch.Tensor, rows: torch.Tensor,
                                               weight: float) -> torch.Tensor | None:
        """∇ of every trial's mean loss + ``weight`` · tr Ĉ over its own rows (GDC's objective), θ (M, dim),
        rows (M, N) → (M, dim), by a hand-written backward and one forward-mode pass over it (None without one)."""
        parts = self._batched_parts()
        if parts is None:
            return None
        model, source = parts["train"][False]  # per-sample gradients: one row per repeated trial
        return trial_covariance_regularized_gradients(model, source, self.targets, theta, rows, weight)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "data": self.dataset.name}
