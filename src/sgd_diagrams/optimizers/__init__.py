"""Optimizers as vectorized simulators (seed 001 App. C.3–C.4).

SGD, GD, GDC, SDE, ODE, momentum and STIC over any schedule.
"""

from .base import Optimizer, Stepper
from .continuous import ODE, SDE
from .descent import GD, SGD, Momentum
from .registry import OPTIMIZER_NAMES, make_optimizer
from .regularized import GDC, STIC, gdc_coefficient
from .trials import SimulationResult, simulate

__all__ = [
    "GD",
    "GDC",
    "ODE",
    "OPTIMIZER_NAMES",
    "SDE",
    "SGD",
    "STIC",
    "Momentum",
    "Optimizer",
    "SimulationResult",
    "Stepper",
    "gdc_coefficient",
    "make_optimizer",
    "simulate",
]
