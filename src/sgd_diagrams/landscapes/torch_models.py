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

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..errors import SgdDiagramsError
from .data import ImageDataset
from .protocol import Landscape

__all__ = [
    "XavierLinear",
    "XavierConv2d",
    "LogisticRegression",
    "TanhConvNet",
    "standard_normal_init",
    "TorchModelLandscape",
]

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
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        x = torch.tanh(self.dense1(x.flatten(start_dim=-3)))
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
    """Per-sample softmax cross-entropy (natural log)."""
    return F.cross_entropy(logits, targets, reduction="none")


class TorchModelLandscape(Landscape):
    """Landscape of an ``nn.Module`` with flattened parameters, a per-sample loss and a data set."""

    has_accuracy = True

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
        self.model = model.to(dtype)
        self.dataset = dataset
        self.per_sample_loss = per_sample_loss
        self.dtype = dtype
        self.name = name or f"{type(model).__name__.lower()}-{dataset.name}"
        self._names = [n for n, _ in model.named_parameters()]
        self._shapes = [tuple(p.shape) for _, p in model.named_parameters()]
        self._sizes = [int(np.prod(s)) for s in self._shapes]
        self.dim = int(sum(self._sizes))
        if init is None:
            init = standard_normal_init(model, None)
        init = np.asarray(init, dtype=np.float64).reshape(-1)
        if init.shape != (self.dim,):
            raise SgdDiagramsError(
                f"model init has {init.size} entries but the model has {self.dim} parameters"
            )
        self.init = torch.as_tensor(init, dtype=dtype)
        self.inputs = torch.as_tensor(dataset.inputs, dtype=dtype)
        self.targets = torch.as_tensor(dataset.targets, dtype=torch.long)
        n = self.inputs.shape[0]
        if eval_size < 1 or population_size < 2:
            raise SgdDiagramsError("eval_size must be >= 1 and population_size >= 2")
        if n <= eval_size:
            eval_rows = torch.arange(n)
        else:
            gen = torch.Generator().manual_seed(eval_seed)
            eval_rows = torch.randperm(n, generator=gen)[:eval_size]
        self.eval_rows = eval_rows
        self.population_rows = eval_rows[: min(population_size, eval_rows.numel())]
        self.eval_size = eval_size

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat θ into the module's named parameter tensors."""
        pieces = torch.split(theta, self._sizes)
        return {n: p.reshape(s) for n, p, s in zip(self._names, pieces, self._shapes, strict=True)}

    def logits(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Model outputs on data-set rows, through ``torch.func.functional_call``."""
        return functional_call(self.model, self.unflatten(theta), (self.inputs[rows],))

    def sample_training_sets(self, generator: torch.Generator, trials: int, N: int) -> torch.Tensor:
        return torch.randint(0, self.inputs.shape[0], (trials, N), generator=generator)

    def batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.per_sample_loss(self.logits(theta, rows), self.targets[rows]).mean()

    def test_loss(self, theta: torch.Tensor) -> torch.Tensor:
        return self.batch_loss(theta, self.eval_rows)

    def test_accuracy(self, theta: torch.Tensor) -> torch.Tensor:
        predicted = self.logits(theta, self.eval_rows).argmax(dim=-1)
        return (predicted == self.targets[self.eval_rows]).to(self.dtype).mean()

    def population(self) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.population_rows.numel()
        return self.population_rows, torch.full((m,), 1.0 / m, dtype=self.dtype)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "data": self.dataset.name,
            "n_data": int(self.inputs.shape[0]),
            "eval_size": int(self.eval_rows.numel()),
            "init_sha": float(self.init.double().abs().sum()),
            "dtype": str(self.dtype),
        }
