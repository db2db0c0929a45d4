"""Conversions between the two landscape kinds, so every landscape works everywhere it makes sense.

* :func:`as_exact` — the exact form the theory needs (:class:`~sgd_diagrams.values.protocol.ExactLandscape`):
  a finite landscape is itself; a finite landscape wrapped for torch unwraps; the built-in Gaussian-data
  landscapes (gauss, helix, mean-estimation) become 8 Gauss–Hermite nodes (exact through order 6); a
  neural network has none and raises a one-line error that says ``samples=``.
* :func:`as_sampled` — the torch form the simulators and estimators need
  (:class:`~.protocol.SampledLandscape`): a finite landscape's losses are compiled to torch.

Both dispatch on the two declared kinds, not on attribute guessing.
"""

from __future__ import annotations

from typing import Any

from ..errors import SgdDiagramsError
from ..values.protocol import ExactLandscape
from .finite import FiniteLandscape
from .protocol import SampledLandscape

__all__ = ["as_exact", "as_sampled", "is_exact", "is_sampled"]


def is_exact(landscape: Any) -> bool:
    """True for a landscape with exact derivative tensors (a finite landscape)."""
    return isinstance(landscape, FiniteLandscape)


def is_sampled(landscape: Any) -> bool:
    """True for a torch landscape (simulators and matrix-free estimators run on it directly)."""
    return isinstance(landscape, SampledLandscape)


def _describe(landscape: Any) -> str:
    return repr(getattr(landscape, "name", type(landscape).__name__))


def as_exact(landscape: Any) -> ExactLandscape:
    """The exact (finite-support) form of ``landscape`` for the exact theory (see module docstring)."""
    if isinstance(landscape, FiniteLandscape):
        return landscape
    if isinstance(landscape, SampledLandscape):
        return landscape.to_exact()
    raise SgdDiagramsError(
        f"{_describe(landscape)} is not a landscape; build one with sgd_diagrams.landscape(...) or TorchLandscape(...)"
    )


def as_sampled(landscape: Any, dtype: Any = None) -> SampledLandscape:
    """The torch form of ``landscape`` for simulation and sampling (``dtype``: torch dtype for finite ones)."""
    if isinstance(landscape, SampledLandscape):
        return landscape
    if isinstance(landscape, FiniteLandscape):
        import torch

        from .sampled import FiniteTorchLandscape

        return FiniteTorchLandscape(landscape, dtype=dtype or torch.float64)
    raise SgdDiagramsError(
        f"{_describe(landscape)} is not a landscape; build one with sgd_diagrams.landscape(...) or TorchLandscape(...)"
    )
