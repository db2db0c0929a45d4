"""GD on regularized losses: GDC (Corollary 2) and STIC (Corollary 6), seed 001.

GDC — gradient descent that emulates SGD to order η².  Corollary 2 gives
E[θ_GD − θ_SGD] = T·(N−1)/(4N)·η²·∇tr C + o(η²) for E = B = 1 (scalar η), so GD
on l + l̂_c with l̂_c an unbiased estimator of (N−1)/(4N)·η·tr C matches SGD's
expected test loss to order η².  We implement, on the trial's training set,

    l̂_c(θ) = κ · η · tr Ĉ(θ),   tr Ĉ(θ) = (1/(N−1)) Σ_n |∇l_n(θ) − ḡ(θ)|²,

Bessel's estimator, which equals the average over all pairs n ≠ m of
½|∇l_n − ∇l_m|² (App. C.4's (∇l_x − ∇l_y)^{⊗2}/2 averaged over every pair; each
pair is unbiased for tr C at fixed θ).  The coefficient generalizes Corollary 2 to
the schedule SGD would run (derivation in :func:`gdc_coefficient`) and equals
(N−1)/(4N) for E = B = 1.  Needs N ≥ 2.

STIC — GD on l_train + Corollary 6's generalization-gap estimate

    gap(θ) = tr( Ĉ φ(Ĥ) ) / N,  φ(H) = H⁻¹ (I − exp(−ηT H))  (φ(0) = ηT),

with Ĉ (Bessel covariance of per-sample gradients) and Ĥ (Hessian of the
training loss) estimated on the trial's training set at the *current* θ and
restricted to the landscape's weight coordinates (``weight_mask``: a tuned
hyperparameter such as λ of mean-estimation-l2 is excluded but still descends
through the regularizer).  φ is applied through ``torch.linalg.eigh``; dimension
should be small (cubic cost).  As T → ∞ the gap tends to tr(C H⁻¹)/N (TIC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.func import grad, hessian

from ..errors import SgdDiagramsError
from ..landscapes.protocol import Landscape
from ..landscapes.sampled import per_sample_gradients
from ..schedules import Schedule
from ..theory.gdc import gdc_coefficient
from .base import Optimizer, State, Stepper, require_plain

__all__ = [
    "GDC",
    "STIC",
    "gdc_coefficient",
    "gradient_covariance_trace",
    "generalization_gap_estimate",
]


def gradient_covariance_trace(
    landscape: Landscape, theta: torch.Tensor, rows: torch.Tensor
) -> torch.Tensor:
    """tr Ĉ(θ): Bessel's unbiased estimate of tr C from the per-sample gradients of ``rows``."""
    grads = per_sample_gradients(landscape, theta, rows)
    centred = grads - grads.mean(dim=0)
    return (centred**2).sum() / (grads.shape[0] - 1)


def _phi(eigenvalues: torch.Tensor, horizon: float) -> torch.Tensor:
    """φ(λ) = (1 − exp(−ηTλ))/λ, smooth at λ = 0 (= ηT)."""
    a = horizon * eigenvalues
    small = a.abs() < 1e-6
    safe = torch.where(small, torch.ones_like(a), a)
    value = -torch.expm1(-safe) / safe
    series = 1.0 - a / 2 + a**2 / 6
    return horizon * torch.where(small, series, value)


def generalization_gap_estimate(
    landscape: Landscape, theta: torch.Tensor, rows: torch.Tensor, horizon: float
) -> torch.Tensor:
    """Corollary 6's gen-gap tr(Ĉ H⁻¹(I − exp(−horizon·Ĥ)))/N on the weight coordinates.

    ``horizon`` is ηT; Ĉ and Ĥ come from the batch ``rows`` at θ.
    """
    mask = landscape.weight_mask
    index = torch.nonzero(mask).squeeze(-1)
    grads = per_sample_gradients(landscape, theta, rows)[:, index]
    centred = grads - grads.mean(dim=0)
    n = grads.shape[0]
    covariance = centred.T @ centred / (n - 1)
    full_hessian = hessian(landscape.batch_loss)(theta, rows)
    hess = full_hessian[index][:, index]
    hess = 0.5 * (hess + hess.T)
    eigenvalues, vectors = torch.linalg.eigh(hess)
    phi = vectors @ torch.diag(_phi(eigenvalues, horizon)) @ vectors.T
    return torch.trace(covariance @ phi) / n


class _GdcStepper(Stepper):
    def __init__(
        self, landscape: Landscape, schedule: Schedule, eta: float, coefficient: float
    ) -> None:
        super().__init__(landscape, schedule, eta)
        if schedule.N < 2:
            raise SgdDiagramsError("GDC needs N >= 2 training points to estimate C; enlarge N")
        self.coefficient = coefficient

        def objective(theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            trace = gradient_covariance_trace(landscape, theta, rows)
            return landscape.batch_loss(theta, rows) + self.coefficient * self.eta * trace

        self.objective_gradient = grad(objective)

    def step_trials(self, state, t, batch_rows, train_rows, noise) -> State | None:
        """Every trial's step at once through the landscape's batched regularized gradients (the built-in
        models: per-sample gradients by a hand-written backward, their Hessian products by a forward-mode
        pass), when it has them; the landscape's projection must be the identity (theirs is)."""
        gradients = getattr(self.landscape, "trial_covariance_regularized_gradients", None)
        if gradients is None or type(self.landscape).project is not Landscape.project:
            return None
        g = gradients(state[0], train_rows, self.coefficient * self.eta)
        return None if g is None else (state[0].add(g, alpha=-self.eta),)

    def step(self, state, t, batch_rows, train_rows, noise) -> State:
        theta = state[0] - self.eta * self.objective_gradient(state[0], train_rows)
        return (self.landscape.project(theta),)


class _SticStepper(Stepper):
    def __init__(self, landscape: Landscape, schedule: Schedule, eta: float, weight: float) -> None:
        super().__init__(landscape, schedule, eta)
        if schedule.N < 2:
            raise SgdDiagramsError("STIC needs N >= 2 training points to estimate C; enlarge N")
        horizon = self.eta * schedule.T

        def objective(theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            gap = generalization_gap_estimate(landscape, theta, rows, horizon)
            return landscape.batch_loss(theta, rows) + weight * gap

        self.objective_gradient = grad(objective)

    def step(self, state, t, batch_rows, train_rows, noise) -> State:
        theta = state[0] - self.eta * self.objective_gradient(state[0], train_rows)
        return (self.landscape.project(theta),)


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SgdDiagramsError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class GDC(Optimizer):
    """GD plus the covariance regularizer κ η tr Ĉ (κ from the schedule, or given)."""

    coefficient: float | None = None

    def __post_init__(self) -> None:
        if self.coefficient is not None:
            _finite(self.coefficient, "GDC coefficient")

    @property
    def name(self) -> str:
        return "gdc"

    def bind(self, landscape, schedule, eta) -> Stepper:
        require_plain(schedule, self.name)
        kappa = gdc_coefficient(schedule) if self.coefficient is None else float(self.coefficient)
        return _GdcStepper(landscape, schedule, eta, kappa)

    def describe(self) -> dict:
        return {"name": self.name, "coefficient": self.coefficient}


@dataclass(frozen=True)
class STIC(Optimizer):
    """GD on the training loss plus ``weight`` × Corollary 6's gen-gap estimate."""

    weight: float = 1.0

    def __post_init__(self) -> None:
        _finite(self.weight, "STIC weight")

    @property
    def name(self) -> str:
        return "stic"

    def bind(self, landscape, schedule, eta) -> Stepper:
        require_plain(schedule, self.name)
        return _SticStepper(landscape, schedule, eta, float(self.weight))

    def describe(self) -> dict:
        return {"name": self.name, "weight": float(self.weight)}
