"""What an optimizer is to the trial runner: a per-trial pure step over a schedule.

An :class:`Optimizer` is an immutable configuration (name and hyperparameters).
:meth:`Optimizer.bind` fixes a landscape, a schedule and the learning rate η
and returns a :class:`Stepper`, whose methods act on ONE trial:

* ``init_state(θ0)`` → a tuple of tensors whose first entry is θ;
* ``noise_shape(t)`` → the shape of the standard normal noise step t consumes
  (``None`` for deterministic steps); the runner draws it *outside* vmap from a
  seeded generator so vectorized and per-trial runs see identical noise;
* ``step(state, t, batch_rows, train_rows, noise)`` → the state after step t,
  where ``batch_rows`` are the rows ``schedule.batches[t]`` of this trial's
  training set and ``train_rows`` the whole training set.

The runner (:mod:`.trials`) maps ``step`` over trials with ``torch.func.vmap``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch.func import grad

from ..errors import SgdDiagramsError
from ..landscapes.protocol import Landscape
from ..schedules import Schedule

__all__ = ["Optimizer", "Stepper", "State", "require_plain"]

State = tuple[torch.Tensor, ...]


class Stepper(ABC):
    """An optimizer bound to a landscape, a schedule and η; all methods act on one trial."""

    def __init__(self, landscape: Landscape, schedule: Schedule, eta: float) -> None:
        self.landscape = landscape
        self.schedule = schedule
        self.eta = float(eta)
        self.rates = [self.eta * float(m) for m in schedule.lr_multipliers()]  # η·m_t per step
        self.batch_gradient = grad(landscape.batch_loss)

    def eta_at(self, t: int) -> float:
        """The learning rate η·m_t of step t (the schedule's lr multipliers; η without them)."""
        return self.rates[t]

    def init_state(self, theta0: torch.Tensor) -> State:
        """The state before step 0 (θ first)."""
        return (theta0,)

    def noise_shape(self, t: int) -> tuple[int, ...] | None:
        """Shape of the N(0, 1) noise that step t consumes, or None."""
        return None

    def step_trials(self, state: State, t: int, batch_rows: torch.Tensor, train_rows: torch.Tensor,
                    noise: torch.Tensor | None) -> State | None:
        """The state after step t of ALL trials at once (every tensor with a leading trial dimension), or
        None where this optimizer or landscape has no such path (the runner then maps :meth:`step` with
        ``vmap``).  Must equal the mapped :meth:`step` to float rounding."""
        return None

    @abstractmethod
    def step(
        self,
        state: State,
        t: int,
        batch_rows: torch.Tensor,
        train_rows: torch.Tensor,
        noise: torch.Tensor | None,
    ) -> State:
        """The state after step t."""


@dataclass(frozen=True)
class Optimizer(ABC):
    """An optimizer's configuration; ``bind`` makes the per-trial stepper."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Short name used in results (e.g. ``sgd``)."""

    @abstractmethod
    def bind(self, landscape: Landscape, schedule: Schedule, eta: float) -> Stepper:
        """Fix landscape, schedule and learning rate."""

    def describe(self) -> dict:
        """Configuration as JSON (for run fingerprints)."""
        return {"name": self.name}


def check_eta(eta: float) -> float:
    """η must be a positive finite number."""
    try:
        value = float(eta)
    except (TypeError, ValueError):
        raise SgdDiagramsError(f"learning rate eta must be a number, got {eta!r}") from None
    if not (value > 0 and value < float("inf")):
        raise SgdDiagramsError(f"learning rate eta must be positive and finite, got {eta!r}")
    return value


def require_plain(schedule: Schedule, name: str) -> None:
    """One-line refusal for optimizers that do not follow a schedule's lr multipliers or momentum."""
    if not schedule.plain:
        raise SgdDiagramsError(
            f"the {name} optimizer does not support lr multipliers or momentum yet; use sgd, gd or momentum "
            "with --lr-schedule/--momentum, or drop them"
        )
