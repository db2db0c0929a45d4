"""The landscape protocol used by the simulators, and a torch adapter for finite landscapes.

A *landscape* (seed 001 §"Notation and assumptions") is a distribution D over
per-sample loss functions l_x of a flat weight vector θ ∈ R^dim, with an
initialization θ0.  For simulation a landscape must say how to

* draw training sets: ``sample_training_sets(generator, trials, N)`` returns a
  tensor whose leading axes are (trials, N): one i.i.d. draw x ~ D per row
  (support indices, Gaussian data points, or data-set row indices);
* evaluate the training objective on a batch: ``batch_loss(θ, rows)`` is the
  mean of l_x(θ) over the rows (a pure torch function of one θ, so that
  ``torch.func.grad``/``vmap`` compose with it);
* evaluate metrics: ``eval_batch_loss`` (defaults to ``batch_loss``; differs
  when the objective carries a tuned regularizer) and the test loss
  ``test_loss(θ)`` = E_x l_x(θ), exact where possible;
* expose its population as a weighted support ``population()`` = (rows,
  weights), from which the SDE takes the mean gradient G(θ) and covariance
  C(θ) (exact for finite landscapes and, via Gauss–Hermite nodes, for the
  artificial ones; a fixed evaluation subsample for data sets).

Optional: ``test_accuracy(θ)`` for classifiers, ``weight_mask`` (coordinates
that are model weights rather than tuned hyperparameters, used by STIC) and
``project(θ)`` (a projection applied after every step, e.g. λ ≥ 0).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torch.func import grad, vmap

from .finite import FiniteLandscape
from .sympy_torch import sympy_to_torch

__all__ = [
    "Landscape",
    "FiniteTorchLandscape",
    "per_sample_gradients",
    "population_gradient_and_noise_factor",
    "population_covariance",
]


class Landscape(ABC):
    """A distribution over per-sample losses of a flat weight vector, ready for vectorized SGD."""

    name: str = "landscape"
    dim: int
    dtype: torch.dtype = torch.float64
    init: torch.Tensor
    has_accuracy: bool = False

    @abstractmethod
    def sample_training_sets(self, generator: torch.Generator, trials: int, N: int) -> torch.Tensor:
        """``trials`` training sets of ``N`` i.i.d. draws from D: axes (trials, N, ...)."""

    @abstractmethod
    def batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Mean training objective l_x(θ) over the rows of one batch (pure in θ)."""

    def eval_batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Mean loss over rows used for the train-loss metric (default: the objective)."""
        return self.batch_loss(theta, rows)

    @abstractmethod
    def test_loss(self, theta: torch.Tensor) -> torch.Tensor:
        """The testing loss l(θ) = E_{x~D} l_x(θ) (exact where possible)."""

    @abstractmethod
    def population(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A weighted support (rows, weights) of D, weights summing to 1."""

    def test_accuracy(self, theta: torch.Tensor) -> torch.Tensor:
        """Classification accuracy on the test distribution (classifiers only)."""
        raise NotImplementedError

    @property
    def weight_mask(self) -> torch.Tensor:
        """Boolean mask of the coordinates that are model weights (all, by default)."""
        return torch.ones(self.dim, dtype=torch.bool)

    def project(self, theta: torch.Tensor) -> torch.Tensor:
        """Projection applied after every optimizer step (identity by default)."""
        return theta

    def describe(self) -> dict[str, Any]:
        """A JSON-able description identifying this landscape (used to fingerprint runs)."""
        return {"name": self.name, "dim": self.dim}


def per_sample_gradients(
    landscape: Landscape, theta: torch.Tensor, rows: torch.Tensor
) -> torch.Tensor:
    """∇l_x(θ) for every row x of a batch, shape (rows, dim); composable with grad/vmap."""

    def one(th: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        return landscape.batch_loss(th, row.unsqueeze(0))

    return vmap(grad(one), in_dims=(None, 0))(theta, rows)


def population_gradient_and_noise_factor(
    landscape: Landscape, theta: torch.Tensor
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


def population_covariance(landscape: Landscape, theta: torch.Tensor) -> torch.Tensor:
    """C(θ) = E[(∇l_x − G)^{⊗2}] over the landscape's population support."""
    _, factor = population_gradient_and_noise_factor(landscape, theta)
    return factor.T @ factor


class FiniteTorchLandscape(Landscape):
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
        return torch.stack([v.to(theta.dtype) * torch.ones((), dtype=theta.dtype) for v in values])

    def sample_training_sets(self, generator: torch.Generator, trials: int, N: int) -> torch.Tensor:
        flat = torch.multinomial(self.probs, trials * N, replacement=True, generator=generator)
        return flat.reshape(trials, N)

    def batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.all_losses(theta)[rows].mean()

    def test_loss(self, theta: torch.Tensor) -> torch.Tensor:
        return self.probs @ self.all_losses(theta)

    def population(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.arange(self.finite.n_points), self.probs

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "finite": self.finite.to_json()}


def as_numpy(x: torch.Tensor) -> np.ndarray:
    """Detach a tensor to a float64 numpy array."""
    return x.detach().to(torch.float64).cpu().numpy()
