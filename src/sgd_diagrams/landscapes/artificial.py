"""The artificial landscapes of seed 001 App. C.1: GAUSS, HELIX and MEAN ESTIMATION.

Each is a distribution over l_x with x ~ N(0, 1).  For simulation they are
torch landscapes (rows are the data points x); for the theory engine each
offers :meth:`to_finite`, a :class:`FiniteLandscape` supported on
Gauss–Hermite nodes x_i with normalised weights w_i (probabilists' Hermite,
``numpy.polynomial.hermite_e.hermegauss``), exact for every moment of a
polynomial in x of degree ≤ 2n−1.  All three losses are polynomials in x of
degree ≤ 2, so every cumulant of derivatives the theory needs is reproduced
exactly once 2n−1 reaches the degree needed (n ≥ 3 for covariances of GAUSS; default 5).

* GAUSS (1-D, h = log σ²):  l_x(h) = ½(h + x² e^{−h});  l(h) = ½(h + e^{−h}); init h = 0.
* HELIX (θ = (u, v, z)):     l_x = ½H(θ) + x S(θ), H = u² + v² + (cos z·u + sin z·v)²,
  S = cos(z − π/4)u + sin(z − π/4)v;  l = ½H;  init 0.
* GAUSS-NORMAL (1-D): GAUSS with its χ²₁ data y = x² replaced by a normal y = 1 + σx of the same mean and
  variance (σ = √2): l_x(h) = ½(h + (1 + σx) e^{−h}).  Every derivative of l_x is affine in y, so every
  mean and covariance of derivatives (at every h) agrees with GAUSS while all higher cumulants vanish:
  the "Gaussian process whose every covariance agrees" of seed 001 App. A.  ``scale`` multiplies σ
  (√k for the Wiener-scaled k-fold refinement that is the SDE).
* CUBIC-CHI (1-D, the authors' public code ``CubicChi``): l_x(w) = w³ − w(x² − 1); l(w) = w³; init 0,
  where G = H = 0, J = 6 and the noise −(x² − 1) is a centred χ²₁ (C = 2, skew S = −8).
* HELIX-RING (θ = (X, Y, W)): HELIX wrapped into a loop of radius R in Euclidean space (App. C.1's
  "wrapping HELIX in a loop"): u = √(X² + Y²) − R, v = W and z = m·φ with φ the polar angle of (X, Y);
  cos z, sin z are the Chebyshev forms Re/Im((X + iY)^m)/r^m, so the loss is analytic off the axis.
  Default R = m: arc length along the valley equals z, so the ring is locally HELIX.  Init (R, 0, 0).
* MEAN ESTIMATION (1-D):     l_x = ½Hθ² + xSθ; l = ½Hθ².  Its l2 variant has weights
  (θ, λ), objective ½(H + λ)θ² + xSθ with λ ≥ 0 kept by projection, and metrics on the
  unregularized loss ½Hθ² + xSθ (λ is a tuned hyperparameter, not a weight).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch
from numpy.polynomial.hermite_e import hermegauss

from ..errors import SgdDiagramsError
from .expressions import weight_symbols
from .finite import FiniteLandscape
from .protocol import Landscape

__all__ = [
    "GaussianDataLandscape",
    "CubicChi",
    "Gauss",
    "GaussNormal",
    "Helix",
    "HelixRing",
    "MeanEstimation",
    "gauss_hermite_nodes",
]

_X = sp.Symbol("x", real=True)


def gauss_hermite_nodes(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and normalised weights of n-point Gauss–Hermite quadrature for x ~ N(0, 1)."""
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 1:
        raise SgdDiagramsError(f"n_nodes must be a positive integer, got {n_nodes!r}")
    nodes, weights = hermegauss(n_nodes)
    return nodes, weights / weights.sum()


def _finite_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SgdDiagramsError(f"{name} must be a finite number, got {value!r}")
    return float(value)


class GaussianDataLandscape(Landscape):
    """A landscape l_x(θ) whose data are x ~ N(0, 1); subclasses give the loss twice.

    ``loss_expr`` (sympy, in t0.. and x) feeds :meth:`to_finite`; ``pointwise_loss``
    (torch, broadcasting over x) feeds simulation; they must agree (tested).
    """

    population_nodes = 8
    """Gauss–Hermite nodes of the SDE's population (enough for exact G and C)."""

    def __init__(self, init: np.ndarray, dtype: torch.dtype = torch.float64) -> None:
        self.dtype = dtype
        self.init = torch.as_tensor(np.asarray(init, dtype=np.float64), dtype=dtype)
        self.dim = int(self.init.numel())
        nodes, weights = gauss_hermite_nodes(self.population_nodes)
        self._pop_rows = torch.as_tensor(nodes, dtype=dtype)
        self._pop_weights = torch.as_tensor(weights, dtype=dtype)

    # -- the two views of the loss ---------------------------------------------
    def loss_expr(self, symbols: tuple[sp.Symbol, ...], x: sp.Symbol) -> sp.Expr:
        raise NotImplementedError

    def pointwise_loss(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pointwise_eval_loss(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_loss(theta, x)

    # -- protocol ------------------------------------------------------------------
    def sample_training_sets(self, generator: torch.Generator, trials: int, N: int) -> torch.Tensor:
        return torch.randn(trials, N, generator=generator, dtype=self.dtype)

    def batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.pointwise_loss(theta, rows).mean()

    def eval_batch_loss(self, theta: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.pointwise_eval_loss(theta, rows).mean()

    def population(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._pop_rows, self._pop_weights

    def to_finite(self, n_nodes: int = 5) -> FiniteLandscape:
        """A finite landscape on n Gauss–Hermite nodes (exact for x-moments of degree ≤ 2n−1)."""
        nodes, weights = gauss_hermite_nodes(n_nodes)
        symbols = weight_symbols(self.dim)
        expr = self.loss_expr(symbols, _X)
        losses = [expr.xreplace({_X: sp.Float(float(x), 30)}) for x in nodes]
        return FiniteLandscape(
            self.dim,
            self.init.double().tolist(),
            weights.tolist(),
            losses,
            name=f"{self.name}-gh{n_nodes}",
        )

    def to_exact(self) -> FiniteLandscape:
        """The exact form on 8 Gauss–Hermite nodes: they integrate polynomials in x of degree ≤ 15 exactly,
        so every cumulant of these x-polynomial losses is exact through order 6 (the Taylor limit)."""
        return self.to_finite(n_nodes=8)


class Gauss(GaussianDataLandscape):
    """GAUSS: fit N(0, σ²) to standard normal data, h = log σ² (App. C.1)."""

    name = "gauss"
    population_nodes = 3  # gradients are quadratic in x: C needs x-moments up to degree 4

    def __init__(self, init: float = 0.0, dtype: torch.dtype = torch.float64) -> None:
        super().__init__(np.array([_finite_number(init, "gauss init")]), dtype)

    def loss_expr(self, symbols, x):
        h = symbols[0]
        return sp.Rational(1, 2) * (h + x**2 * sp.exp(-h))

    def pointwise_loss(self, theta, x):
        h = theta[0]
        return 0.5 * (h + x**2 * torch.exp(-h))

    def test_loss(self, theta):
        h = theta[0]
        return 0.5 * (h + torch.exp(-h))

    def describe(self):
        return {"name": self.name, "init": self.init.tolist()}


class GaussNormal(GaussianDataLandscape):
    """GAUSS with Gaussian data of GAUSS' mean and variance: its Gaussian counterpart (seed 001 App. A)."""

    name = "gauss-normal"
    population_nodes = 2  # gradients are affine in x

    def __init__(self, init: float = 0.0, scale: float = 1.0, dtype: torch.dtype = torch.float64) -> None:
        self.scale = _finite_number(scale, "gauss-normal scale")
        if self.scale <= 0:
            raise SgdDiagramsError(f"gauss-normal scale must be > 0, got {scale}")
        super().__init__(np.array([_finite_number(init, "gauss-normal init")]), dtype)

    @property
    def sigma(self) -> float:
        """Standard deviation of the data y = 1 + σx: √2·scale (χ²₁ has variance 2)."""
        return math.sqrt(2.0) * self.scale

    def loss_expr(self, symbols, x):
        h = symbols[0]
        return sp.Rational(1, 2) * (h + (1 + sp.sqrt(2) * sp.Float(self.scale, 30) * x) * sp.exp(-h))

    def pointwise_loss(self, theta, x):
        h = theta[0]
        return 0.5 * (h + (1.0 + self.sigma * x) * torch.exp(-h))

    def test_loss(self, theta):
        h = theta[0]
        return 0.5 * (h + torch.exp(-h))

    def describe(self):
        return {"name": self.name, "init": self.init.tolist(), "scale": self.scale}


class CubicChi(GaussianDataLandscape):
    """The authors' CubicChi: l_x(w) = w³ − w(x² − 1), l(w) = w³ (bohrium/perturb code/nongauss_landscapes.py)."""

    name = "cubic-chi"
    population_nodes = 3  # gradients are quadratic in x: C needs degree 4

    def __init__(self, init: float = 0.0, dtype: torch.dtype = torch.float64) -> None:
        super().__init__(np.array([_finite_number(init, "cubic-chi init")]), dtype)

    def loss_expr(self, symbols, x):
        w = symbols[0]
        return w**3 - w * (x**2 - 1)

    def pointwise_loss(self, theta, x):
        w = theta[0]
        return w**3 - w * (x**2 - 1.0)

    def test_loss(self, theta):
        return theta[0] ** 3

    def describe(self):
        return {"name": self.name, "init": self.init.tolist()}


class Helix(GaussianDataLandscape):
    """HELIX: a screw-symmetric valley along z on which C(θ) rotates with z (App. C.1, Fig. 3)."""

    name = "helix"
    population_nodes = 2  # gradients are affine in x: G and C need degree <= 2

    def __init__(
        self, init: tuple[float, float, float] = (0.0, 0.0, 0.0), dtype=torch.float64
    ) -> None:
        if len(init) != 3:
            raise SgdDiagramsError("helix init needs 3 numbers (u, v, z)")
        super().__init__(np.array([_finite_number(v, "helix init") for v in init]), dtype)

    def loss_expr(self, symbols, x):
        u, v, z = symbols
        hess = u**2 + v**2 + (sp.cos(z) * u + sp.sin(z) * v) ** 2
        signal = sp.cos(z - sp.pi / 4) * u + sp.sin(z - sp.pi / 4) * v
        return sp.Rational(1, 2) * hess + x * signal

    @staticmethod
    def half_hessian_term(theta: torch.Tensor) -> torch.Tensor:
        """½H(θ) = ½(u² + v² + (cos z·u + sin z·v)²), the test loss."""
        u, v, z = theta[0], theta[1], theta[2]
        return 0.5 * (u**2 + v**2 + (torch.cos(z) * u + torch.sin(z) * v) ** 2)

    def pointwise_loss(self, theta, x):
        u, v, z = theta[0], theta[1], theta[2]
        signal = torch.cos(z - math.pi / 4) * u + torch.sin(z - math.pi / 4) * v
        return self.half_hessian_term(theta) + x * signal

    def test_loss(self, theta):
        return self.half_hessian_term(theta)

    def describe(self):
        return {"name": self.name, "init": self.init.tolist()}


class MeanEstimation(GaussianDataLandscape):
    """MEAN ESTIMATION l_x = ½Hθ² + xSθ, optionally with a tuned l2 coefficient λ ≥ 0 (App. C.1)."""

    population_nodes = 2  # gradients are affine in x

    def __init__(
        self,
        hessian: float = 1.0,
        noise_scale: float = 1.0,
        init: float = 0.0,
        l2: bool = False,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.hessian = _finite_number(hessian, "mean-estimation H")
        self.noise_scale = _finite_number(noise_scale, "mean-estimation S")
        if self.hessian < 0:
            raise SgdDiagramsError(f"mean-estimation H must be >= 0, got {hessian}")
        self.l2 = bool(l2)
        self.name = "mean-estimation-l2" if self.l2 else "mean-estimation"
        start = [_finite_number(init, "mean-estimation init")] + ([0.0] if self.l2 else [])
        super().__init__(np.array(start), dtype)

    def loss_expr(self, symbols, x):
        theta = symbols[0]
        curvature = sp.Float(self.hessian, 30) + (symbols[1] if self.l2 else 0)
        return sp.Rational(1, 2) * curvature * theta**2 + x * sp.Float(self.noise_scale, 30) * theta

    def pointwise_loss(self, theta, x):
        curvature = self.hessian + (theta[1] if self.l2 else 0.0)
        return 0.5 * curvature * theta[0] ** 2 + x * self.noise_scale * theta[0]

    def pointwise_eval_loss(self, theta, x):
        return 0.5 * self.hessian * theta[0] ** 2 + x * self.noise_scale * theta[0]

    def test_loss(self, theta):
        return 0.5 * self.hessian * theta[0] ** 2

    @property
    def weight_mask(self) -> torch.Tensor:
        mask = torch.ones(self.dim, dtype=torch.bool, device=self.init.device)
        if self.l2:
            mask[1] = False
        return mask

    def project(self, theta: torch.Tensor) -> torch.Tensor:
        if not self.l2:
            return theta
        return torch.cat([theta[:1], torch.clamp(theta[1:], min=0.0)])

    def describe(self):
        return {
            "name": self.name,
            "H": self.hessian,
            "S": self.noise_scale,
            "init": self.init.tolist(),
        }


class HelixRing(GaussianDataLandscape):
    """HELIX wrapped into a loop of radius R with m screw turns (seed 001 App. C.1, "wrapping HELIX in a loop")."""

    name = "helix-ring"
    population_nodes = 2  # gradients are affine in x

    def __init__(self, turns: int = 5, radius: float | None = None, dtype=torch.float64) -> None:
        if isinstance(turns, float) and turns.is_integer():
            turns = int(turns)
        if isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= 64:
            raise SgdDiagramsError(f"helix-ring turns must be an integer in 1..64, got {turns!r}")
        self.turns = turns
        self.radius = float(turns) if radius is None else _finite_number(radius, "helix-ring radius")
        if self.radius <= 0:
            raise SgdDiagramsError(f"helix-ring radius must be > 0, got {radius}")
        super().__init__(np.array([self.radius, 0.0, 0.0]), dtype)

    def loss_expr(self, symbols, x):
        X, Y, W = symbols
        r = sp.sqrt(X**2 + Y**2)
        power = sp.expand((X + sp.I * Y) ** self.turns)
        c, s = sp.re(power) / r**self.turns, sp.im(power) / r**self.turns  # cos z, sin z with z = m φ
        u, v = r - sp.Float(self.radius, 30), W
        hess = u**2 + v**2 + (c * u + s * v) ** 2
        signal = ((c + s) * u + (s - c) * v) / sp.sqrt(2)  # cos(z − π/4)u + sin(z − π/4)v
        return sp.Rational(1, 2) * hess + x * signal

    def _local(self, theta: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, Y, W = theta[0], theta[1], theta[2]
        z = self.turns * torch.atan2(Y, X)
        return torch.sqrt(X**2 + Y**2) - self.radius, W, z

    def half_hessian_term(self, theta: torch.Tensor) -> torch.Tensor:
        u, v, z = self._local(theta)
        return 0.5 * (u**2 + v**2 + (torch.cos(z) * u + torch.sin(z) * v) ** 2)

    def pointwise_loss(self, theta, x):
        u, v, z = self._local(theta)
        signal = torch.cos(z - math.pi / 4) * u + torch.sin(z - math.pi / 4) * v
        return self.half_hessian_term(theta) + x * signal

    def test_loss(self, theta):
        return self.half_hessian_term(theta)

    def angle(self, theta: torch.Tensor) -> torch.Tensor:
        """Polar angle φ of (X, Y) (the position along the loop), in (−π, π]."""
        return torch.atan2(theta[..., 1], theta[..., 0])

    def describe(self):
        return {"name": self.name, "turns": self.turns, "radius": self.radius, "init": self.init.tolist()}
