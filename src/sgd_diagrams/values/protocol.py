"""What the exact engine reads from a landscape: exact derivative tensors (seed 001 §"Notation and assumptions").

A landscape with *exact* statistics is a finite distribution D = Σ_j p_j δ_{l_j} over per-sample losses
whose derivatives at θ0 are known exactly.  Uvalues, the Taylor series, resummation, variance and limits
(:mod:`sgd_diagrams.values`, :mod:`sgd_diagrams.theory`) read only the members below.  The landscapes
layer supplies :class:`~sgd_diagrams.landscapes.FiniteLandscape` and converts the built-in Gaussian-data
landscapes to it (``sgd_diagrams.landscapes.as_exact``); a neural network has no exact form and is
estimated from samples instead.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["ExactLandscape"]


@runtime_checkable
class ExactLandscape(Protocol):
    """A finite-support landscape with exact derivatives at θ0 (the exact engine's input)."""

    name: str
    dim: int
    init: np.ndarray  # θ0, float64, shape (dim,)
    probs: np.ndarray  # p_j, shape (K,), summing to 1

    @property
    def n_points(self) -> int:
        """Number of support points K."""
        ...

    def derivative_tensors(self, max_order: int) -> list[np.ndarray]:
        """``[D0, ..., D_max]`` with ``Dm[j]`` = ∇^m l_j(θ0), shape ``(K,) + (dim,)*m``, float64."""
        ...

    def mean_derivative(self, order: int) -> np.ndarray:
        """E_x ∇^order l_x(θ0): the loss, G, H, J, ..."""
        ...
