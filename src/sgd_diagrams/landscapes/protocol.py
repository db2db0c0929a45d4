"""The two kinds of landscape: exact derivative tensors, and sampled torch losses (this module needs no torch).

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
from typing import TYPE_CHECKING, Any

from ..errors import SgdDiagramsError
from ..values.protocol import ExactLandscape

if TYPE_CHECKING:  # torch is needed only by the concrete landscapes
    import torch

__all__ = ["ExactLandscape", "Landscape", "SampledLandscape"]


class SampledLandscape(ABC):
    """A distribution over per-sample losses of a flat weight vector, ready for vectorized SGD.

    The second of the two landscape kinds (the first is :class:`ExactLandscape`): per-sample losses as
    pure torch functions of θ, from which simulators run trials and estimators measure diagram values.
    :meth:`to_exact` gives the exact form where one exists.
    """

    name: str = "landscape"
    dim: int
    dtype: torch.dtype
    init: torch.Tensor
    has_accuracy: bool = False
    n_test_points: int | None = None  # a finite test set whose mean is the test loss (can be subsampled)

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

    def test_losses(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Per-point test losses at test-set rows ``rows`` (only when ``n_test_points`` is set)."""
        raise NotImplementedError

    def test_correct(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Per-point 0/1 correctness at test-set rows ``rows`` (classifiers with a finite test set)."""
        raise NotImplementedError

    def test_accuracy(self, theta: torch.Tensor) -> torch.Tensor:
        """Classification accuracy on the test distribution (classifiers only)."""
        raise NotImplementedError

    @property
    def weight_mask(self) -> torch.Tensor:
        """Boolean mask of the coordinates that are model weights (all, by default)."""
        return torch.ones(self.dim, dtype=torch.bool, device=self.init.device)

    def project(self, theta: torch.Tensor) -> torch.Tensor:
        """Projection applied after every optimizer step (identity by default)."""
        return theta

    def describe(self) -> dict[str, Any]:
        """A JSON-able description identifying this landscape (used to fingerprint runs)."""
        return {"name": self.name, "dim": self.dim}

    def __repr__(self) -> str:
        extra = f", test points={self.n_test_points}" if self.n_test_points else ""
        dtype = str(getattr(self, "dtype", "")).replace("torch.", "")
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, {dtype}{extra})"

    @property
    def device(self) -> torch.device:
        """Where this landscape's tensors live (θ0's device)."""
        return self.init.device

    def to(self, device: Any) -> SampledLandscape:
        """This landscape with its tensors on ``device`` (a copy; ``self`` is unchanged).

        Random draws stay on the CPU from the same seeds and are moved to the device, so the data of a
        run do not depend on where it runs.
        """
        import copy

        import torch

        device = torch.device(device)
        if device == self.device:
            return self
        moved = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(moved, key, value.to(device))
            elif isinstance(value, torch.nn.Module):
                setattr(moved, key, copy.deepcopy(value).to(device))
        return moved

    def to_exact(self) -> ExactLandscape:
        """The exact (finite-support) form of this landscape, for the exact theory.

        Landscapes without one (neural networks on data sets) raise a one-line error that says to
        estimate diagram values from samples instead.
        """
        raise SgdDiagramsError(
            f"landscape {self.name!r} has no exact form for the theory; estimate its diagram values from "
            "samples instead (Python: samples=K; CLI: --samples K)"
        )


Landscape = SampledLandscape  # the name the simulators have always used
