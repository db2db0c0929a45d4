"""Optimizers by name, for the CLI and configs."""

from __future__ import annotations

from ..errors import SgdDiagramsError
from .base import Optimizer
from .continuous import ODE, SDE
from .descent import GD, SGD, Momentum
from .regularized import GDC, STIC

__all__ = ["OPTIMIZER_NAMES", "make_optimizer"]

OPTIMIZER_NAMES = ("sgd", "gd", "gdc", "sde", "sde-frozen", "ode", "momentum", "stic")


def make_optimizer(
    name: str,
    *,
    momentum: float = 0.9,
    substeps: int = 16,
    sde_noise: str = "varying",
    stic_weight: float = 1.0,
    gdc_coefficient: float | None = None,
) -> Optimizer:
    """The optimizer called ``name`` (``sde-frozen`` is SDE with C frozen at θ0)."""
    key = name.strip().lower()
    if key == "sgd":
        return SGD()
    if key == "gd":
        return GD()
    if key == "gdc":
        return GDC(gdc_coefficient)
    if key == "sde":
        return SDE(substeps, sde_noise)
    if key == "sde-frozen":
        return SDE(substeps, "frozen")
    if key == "ode":
        return ODE(substeps)
    if key == "momentum":
        return Momentum(momentum)
    if key == "stic":
        return STIC(stic_weight)
    raise SgdDiagramsError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZER_NAMES)}")
