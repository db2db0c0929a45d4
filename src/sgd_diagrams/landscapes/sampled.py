"""Torch helpers for sampled landscapes, and a finite landscape as a sampled one.

:func:`per_sample_gradients`, :func:`population_gradient_and_noise_factor` and
:func:`population_covariance` serve the simulators (SDE noise, GDC, STIC);
:class:`FiniteTorchLandscape` compiles a :class:`~.finite.FiniteLandscape`'s losses to torch so
that every simulator runs on it (``as_sampled`` in :mod:`.conversions` builds it).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch
from torch.func import grad, vmap

from .finite import FiniteLandscape
from .protocol import SampledLandscape
from .sympy_torch import sympy_to_torch

__all__ = [
    "FiniteTorchLandscape",
    "as_numpy",
    "seconds_per_sample_gradient",
    "per_sample_gradients",
    "population_covariance",
    "population_gradient_and_noise_factor",
]


def per_sample_gradients(
    landscape: SampledLandscape, theta: torch.Tensor, rows: torch.Tensor
) -> torch.Tensor:
    """∇l_x(θ) for every row x of a batch, shape (rows, dim); composable with grad/vmap."""

    def one(th: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        return landscape.batch_loss(th, row.unsqueeze(0))

    return vmap(grad(one), in_dims=(None, 0))(theta, rows)


def population_gradient_and_noise_factor(
    landscape: SampledLandscape, theta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """G(θ) = Σ_j w_j ∇l_j(θ) and F with rows √w_j (∇l_j(θ) − G(θ)), so that FᵀF = C(θ).

    A Gaussian vector with covariance C(θ) is then Fᵀz for z ~ N(0, I), with no
    matrix square root (used by the SDE, App. C.4).
    """
    rows, weights = landscape.population()
    grads = per_sample_gradients(landscape, theta, rows)
    weights = weights.to(grads.dtype)
    mean = weights @ grads
    factor = torch.sqrt(weights).unsqueeze(-1) * (grads - mean)
    return mean, factor


def population_covariance(landscape: SampledLandscape, theta: torch.Tensor) -> torch.Tensor:
    """C(θ) = E[(∇l_x − G)^{⊗2}] over the landscape's population support."""
    _, factor = population_gradient_and_noise_factor(landscape, theta)
    return factor.T @ factor


class FiniteTorchLandscape(SampledLandscape):
    """A :class:`FiniteLandscape` as a torch landscape: rows are support-point indices.

    The losses' sympy expressions are compiled to torch (see :mod:`.sympy_torch`);
    the test loss Σ_j p_j l_j(θ) is exact.
    """

    def __init__(self, finite: FiniteLandscape, dtype: torch.dtype = torch.float64) -> None:
        self.finite = finite
        self.name = finite.name
        self.dim = finite.dim
        self.dtype = dtype
        self.init = torch.as_tensor(finite.init, dtype=dtype)
        self.probs = torch.as_tensor(finite.probs, dtype=dtype)
        self._loss_fns = [sympy_to_torch(l, finite.symbols) for l in finite.losses]

    def all_losses(self, theta: torch.Tensor) -> torch.Tensor:
        """(l_0(θ), …, l_{K−1}(θ))."""
        values = [fn(theta) for fn in self._loss_fns]
        return torch.stack([v.to(theta.dtype) * torch.ones((), dtype=theta.dtype, device=theta.device)
                            for v in values])

    def sample_training_sets(self, generator: torch.Generator, trials: int, N: int) -> torch.Tensor:
        flat = torch.multinomial(self.probs, trials * N, replacement=True, generator=generator)
        return flat.reshape(trials, N)

    def batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.all_losses(theta)[rows].mean()

    def test_loss(self, theta: torch.Tensor) -> torch.Tensor:
        return self.probs @ self.all_losses(theta)

    def population(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.arange(self.finite.n_points, device=self.probs.device), self.probs

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "finite": self.finite.to_json()}

    def to_exact(self) -> FiniteLandscape:
        return self.finite


def as_numpy(x: torch.Tensor) -> np.ndarray:
    """Detach a tensor to a float64 numpy array."""
    return x.detach().to(torch.float64).cpu().numpy()


_GRADIENT_SECONDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def seconds_per_sample_gradient(landscape: SampledLandscape, rows: int = 64) -> float:
    """Measured CPU seconds of one per-sample gradient (vmapped over ``rows`` sampled rows), for cost estimates.

    Measured once per landscape object and row count (the pilots of a cost estimate ask again)."""
    try:
        cached = _GRADIENT_SECONDS.get(landscape, {})
    except TypeError:  # an object that cannot be weakly referenced: measure every time
        cached = {}
    if rows not in cached:
        cached[rows] = _time_sample_gradient(landscape, rows)
        try:
            _GRADIENT_SECONDS[landscape] = cached
        except TypeError:
            pass
    return cached[rows]


def _time_sample_gradient(landscape: SampledLandscape, rows: int) -> float:
    import time

    gen = torch.Generator().manual_seed(0)
    batch = landscape.sample_training_sets(gen, 1, rows)[0].to(landscape.device)
    theta = landscape.init.detach()
    per_sample_gradients(landscape, theta, batch[:2])  # warm up
    best = float("inf")
    for _ in range(3):  # the cheapest of three: one timing of a few milliseconds swung the cost model 5x
        start = time.process_time()  # CPU time: load from other jobs does not inflate the estimate
        per_sample_gradients(landscape, theta, batch)
        best = min(best, time.process_time() - start)
    return best / rows
