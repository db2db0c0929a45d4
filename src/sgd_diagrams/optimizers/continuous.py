"""Continuous-time surrogates of SGD: ODE and SDE (seed 001 App. C.4, Cor. 3–5).

Both refine every SGD step into ``substeps`` (default 16) Euler steps of η/16.

* ODE: each substep descends the *same* batch loss as SGD's step t,
  θ ← θ − (η/16) ∇l_{B_t}(θ); no noise is added (gradient flow through each batch
  for time η; on a noiseless landscape this is the gradient-flow ODE of Cor. 3).
* SDE: the Itô–Euler–Maruyama discretisation of
  dθ = −G(θ) dt + sqrt(η C(θ)/|B_t|) dW,  with time measured in units of η
  (one SGD step = time η): each substep does
  θ ← θ − (η/16) G(θ) + sqrt(η/16) · sqrt(η/|B_t|) · ξ,  ξ ~ N(0, C),
  so 16 substeps carry noise covariance 16 · (η/16)(η/|B_t|) C = η² C/|B_t|,
  exactly one SGD step's.  G and C are *population* quantities (exact for finite
  landscapes, Gauss–Hermite exact for the artificial ones, a fixed evaluation
  subsample for data sets): the SDE models SGD that draws fresh data each step
  (one-epoch SGD, as in Cor. 4–5); the trial's training set enters only the
  train-loss metric.  ξ = Fᵀz with F_j = sqrt(w_j)(∇l_j − G), z ~ N(0, I_K),
  so no matrix square root is needed.  ``noise="varying"`` re-evaluates C at the
  current θ every substep; ``noise="frozen"`` keeps C(θ0) throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.func import grad

from ..errors import SgdDiagramsError
from ..landscapes.protocol import Landscape
from ..landscapes.sampled import population_gradient_and_noise_factor
from ..limits import MAX_SUBSTEPS
from ..schedules import Schedule
from .base import Optimizer, State, Stepper, require_plain

__all__ = ["ODE", "SDE"]


def _check_substeps(substeps: int) -> None:
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise SgdDiagramsError(f"substeps must be a positive integer, got {substeps!r}")
    if substeps > MAX_SUBSTEPS:
        raise SgdDiagramsError(f"substeps={substeps} exceeds the limit {MAX_SUBSTEPS}; 16-256 resolve the SDE well")


class _OdeStepper(Stepper):
    def __init__(self, landscape: Landscape, schedule: Schedule, eta: float, substeps: int) -> None:
        super().__init__(landscape, schedule, eta)
        self.substeps = substeps

    def step(self, state, t, batch_rows, train_rows, noise) -> State:
        theta = state[0]
        h = self.eta / self.substeps
        for _ in range(self.substeps):
            theta = self.landscape.project(theta - h * self.batch_gradient(theta, batch_rows))
        return (theta,)


class _SdeStepper(Stepper):
    def __init__(
        self, landscape: Landscape, schedule: Schedule, eta: float, substeps: int, noise: str
    ) -> None:
        super().__init__(landscape, schedule, eta)
        self.substeps = substeps
        self.frozen = noise == "frozen"
        rows, weights = landscape.population()
        self.pop_rows = rows
        self.pop_weights = weights
        self.n_support = int(weights.numel())

        self.population_gradient = grad(self._population_loss)
        if self.frozen:
            _, self.frozen_factor = population_gradient_and_noise_factor(landscape, landscape.init)

    def _population_loss(self, theta: torch.Tensor) -> torch.Tensor:
        # Σ_j w_j l_j(θ) as a weighted batch mean: l_j enters with weight w_j.
        losses = torch.func.vmap(lambda row: self.landscape.batch_loss(theta, row.unsqueeze(0)))(
            self.pop_rows
        )
        return self.pop_weights.to(losses.dtype) @ losses

    def noise_shape(self, t: int) -> tuple[int, ...]:
        return (self.substeps, self.n_support)

    def step(self, state, t, batch_rows, train_rows, noise) -> State:
        theta = state[0]
        h = self.eta / self.substeps
        scale = math.sqrt(h) * math.sqrt(self.eta / len(self.schedule.batches[t]))
        for k in range(self.substeps):
            if self.frozen:
                drift = self.population_gradient(theta)
                factor = self.frozen_factor
            else:
                drift, factor = population_gradient_and_noise_factor(self.landscape, theta)
            kick = noise[k].to(theta.dtype) @ factor
            theta = self.landscape.project(theta - h * drift + scale * kick)
        return (theta,)


@dataclass(frozen=True)
class ODE(Optimizer):
    """Noiseless refinement of SGD's schedule: ``substeps`` Euler steps of η/substeps per step."""

    substeps: int = 16

    def __post_init__(self) -> None:
        _check_substeps(self.substeps)

    @property
    def name(self) -> str:
        return "ode"

    def bind(self, landscape, schedule, eta) -> Stepper:
        require_plain(schedule, self.name)
        return _OdeStepper(landscape, schedule, eta, self.substeps)

    def describe(self) -> dict:
        return {"name": self.name, "substeps": self.substeps}


@dataclass(frozen=True)
class SDE(Optimizer):
    """Euler–Maruyama SDE with population drift and Wiener noise shaped by C (varying or frozen)."""

    substeps: int = 16
    noise: str = "varying"

    def __post_init__(self) -> None:
        _check_substeps(self.substeps)
        if self.noise not in ("varying", "frozen"):
            raise SgdDiagramsError(f"SDE noise must be 'varying' or 'frozen', got {self.noise!r}")

    @property
    def name(self) -> str:
        return "sde" if self.noise == "varying" else "sde-frozen"

    def bind(self, landscape, schedule, eta) -> Stepper:
        require_plain(schedule, self.name)
        return _SdeStepper(landscape, schedule, eta, self.substeps, self.noise)

    def describe(self) -> dict:
        return {"name": self.name, "substeps": self.substeps, "noise": self.noise}
