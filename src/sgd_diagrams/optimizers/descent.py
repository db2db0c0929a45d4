"""Discrete descent: SGD, GD and heavy-ball momentum SGD (seed 001 §"Background").

* SGD:  θ_{t+1} = θ_t − η ∇l_{B_t}(θ_t), batch B_t = ``schedule.batches[t]`` (any
  schedule: batch size B, E epochs, in order or reshuffled per epoch).
* GD:   the same number of steps T with every batch the whole training set
  (B_t = {0..N−1}); comparing it with SGD on the same training sets gives
  Corollary 2's GD − SGD difference.
* Momentum (heavy ball): v_{t+1} = β v_t + ∇l_{B_t}(θ_t), θ_{t+1} = θ_t − η v_{t+1}, v_0 = 0.

Every step t uses the learning rate η·m_t of the schedule's lr multipliers.  A schedule with momentum
β > 0 (``Schedule.with_momentum``, ``--momentum``) makes SGD and GD heavy-ball descents with that β; the
``momentum`` optimizer uses the schedule's β when it has one, else its own (default 0.9).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import vmap

from ..errors import SgdDiagramsError
from ..landscapes.protocol import Landscape
from ..schedules import Schedule
from .base import Optimizer, State, Stepper

__all__ = ["SGD", "GD", "Momentum"]


class _HeavyBallStepper(Stepper):
    """θ ← θ − η·m_t·buf with buf ← β·buf + g_t (buf = 0 before step 0); β = 0 is plain (S)GD.

    ``full_batch``: g_t averages the whole training set (GD) instead of the batch of step t.
    """

    def __init__(self, landscape: Landscape, schedule: Schedule, eta: float, beta: float,
                 full_batch: bool = False) -> None:
        super().__init__(landscape, schedule, eta)
        self.beta = float(beta)
        self.full_batch = full_batch

    def init_state(self, theta0: torch.Tensor) -> State:
        return (theta0, torch.zeros_like(theta0)) if self.beta else (theta0,)

    def step_trials(self, state, t, batch_rows, train_rows, noise) -> State | None:
        """Every trial's step at once through the landscape's batched per-trial gradients (the built-in
        models: one hand-written backward pass for all trials), when it has them."""
        gradients = getattr(self.landscape, "trial_gradients", None)
        if gradients is None:
            return None
        theta = state[0]
        g = gradients(theta, train_rows if self.full_batch else batch_rows)
        if g is None:
            return None
        if not self.beta:  # one fused pass each (the same arithmetic as :meth:`step`, up to rounding)
            return (self._project_trials(theta.add(g, alpha=-self.eta_at(t))),)
        velocity = g.add(state[1], alpha=self.beta)
        return (self._project_trials(theta.add(velocity, alpha=-self.eta_at(t))), velocity)

    def _project_trials(self, theta: torch.Tensor) -> torch.Tensor:
        if type(self.landscape).project is Landscape.project:  # the identity: skip the mapped call
            return theta
        return vmap(self.landscape.project)(theta)

    def step(self, state, t, batch_rows, train_rows, noise) -> State:
        theta = state[0]
        g = self.batch_gradient(theta, train_rows if self.full_batch else batch_rows)
        if not self.beta:
            return (self.landscape.project(theta - self.eta_at(t) * g),)
        velocity = self.beta * state[1] + g
        return (self.landscape.project(theta - self.eta_at(t) * velocity), velocity)


@dataclass(frozen=True)
class SGD(Optimizer):
    """Plain SGD over the schedule's batches."""

    @property
    def name(self) -> str:
        return "sgd"

    def bind(self, landscape, schedule, eta) -> Stepper:
        return _HeavyBallStepper(landscape, schedule, eta, schedule.momentum)


@dataclass(frozen=True)
class GD(Optimizer):
    """Full-batch GD for the schedule's T steps."""

    @property
    def name(self) -> str:
        return "gd"

    def bind(self, landscape, schedule, eta) -> Stepper:
        return _HeavyBallStepper(landscape, schedule, eta, schedule.momentum, full_batch=True)


@dataclass(frozen=True)
class Momentum(Optimizer):
    """Heavy-ball momentum SGD with coefficient β ∈ [0, 1)."""

    beta: float = 0.9

    def __post_init__(self) -> None:
        beta = self.beta
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (0.0 <= float(beta) < 1.0):
            raise SgdDiagramsError(f"momentum beta must lie in [0, 1), got {self.beta!r}")

    @property
    def name(self) -> str:
        return "momentum"

    def bind(self, landscape, schedule, eta) -> Stepper:
        beta = schedule.momentum if schedule.momentum > 0 else float(self.beta)
        return _HeavyBallStepper(landscape, schedule, eta, beta)

    def describe(self) -> dict:
        return {"name": self.name, "beta": float(self.beta)}
