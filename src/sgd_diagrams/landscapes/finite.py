"""Finite-support landscapes: a data distribution with finitely many points.

A finite landscape is a distribution D = Σ_j p_j δ_{l_j} over per-sample
loss functions l_j of the weights θ ∈ R^k (seed 001 §"Notation and
assumptions"); training points are i.i.d. draws from D and the test loss is
the mean l(θ) = Σ_j p_j l_j(θ).  A real finite data set is the special case
of equal probabilities (App. C.2 treats it as the true distribution).

JSON form::

    {"kind": "finite", "dim": k, "init": [θ0 ...],
     "points": [{"prob": p, "loss": "<expression in t0..t{k-1}>"}, ...]}

Everything the theory needs is :meth:`FiniteLandscape.derivative_tensors`:
the exact derivatives ∇^m l_j(θ0) of every support point, in float64.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..errors import SgdDiagramsError
from ..io import read_untrusted_json, terminal_safe
from ..limits import MAX_INPUT_BYTES, MAX_LANDSCAPE_POINTS
from .expressions import parse_loss, weight_symbols

__all__ = ["FiniteLandscape", "landscape_from_json", "load_landscape_file"]


class FiniteLandscape:
    """A finite distribution over analytic per-sample losses, with an initialization θ0."""

    kind = "finite"

    def __init__(
        self,
        dim: int,
        init: Sequence[float],
        probs: Sequence[float],
        losses: Sequence[str | sp.Expr],
        name: str = "finite",
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise SgdDiagramsError(f"landscape dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self.name = name
        init_arr = np.asarray(init, dtype=np.float64).reshape(-1)
        if init_arr.shape != (dim,):
            raise SgdDiagramsError(
                f"landscape init has {init_arr.size} entries but dim is {dim}; give one number per weight"
            )
        if not np.all(np.isfinite(init_arr)):
            raise SgdDiagramsError("landscape init contains NaN or infinity; give finite numbers")
        self.init = init_arr
        if len(probs) != len(losses) or not losses:
            raise SgdDiagramsError("landscape needs at least one point, each with a prob and a loss")
        p = np.asarray(probs, dtype=np.float64)
        if not np.all(np.isfinite(p)) or np.any(p <= 0):
            raise SgdDiagramsError("every point's prob must be a positive finite number")
        if abs(p.sum() - 1.0) > 1e-9:
            raise SgdDiagramsError(
                f"point probabilities sum to {p.sum():.12g}, not 1; rescale them to sum to 1"
            )
        self.probs = p / p.sum()
        self.symbols = weight_symbols(dim)
        self.losses = tuple(_loss_expression(l, dim, j) for j, l in enumerate(losses))
        self._cache: dict[tuple[int, ...], list[sp.Expr]] = {}
        self._tensors: list[np.ndarray] = []
        # Fail early on losses that are not finite at θ0.
        self.derivative_tensors(1)

    # -- construction ------------------------------------------------------------
    @property
    def n_points(self) -> int:
        """Number of support points K."""
        return len(self.losses)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this landscape."""
        return {
            "kind": "finite",
            "dim": self.dim,
            "init": [float(x) for x in self.init],
            "points": [
                {"prob": float(p), "loss": str(l)} for p, l in zip(self.probs, self.losses, strict=True)
            ],
        }

    def __repr__(self) -> str:
        return f"FiniteLandscape(name={self.name!r}, dim={self.dim}, points={self.n_points})"

    # -- exact derivatives -------------------------------------------------------
    def _derivative_exprs(self, multiset: tuple[int, ...]) -> list[sp.Expr]:
        if multiset in self._cache:
            return self._cache[multiset]
        if not multiset:
            out = list(self.losses)
        else:
            parent = self._derivative_exprs(multiset[:-1])
            x = self.symbols[multiset[-1]]
            out = [sp.diff(e, x) for e in parent]
        self._cache[multiset] = out
        return out

    def derivative_tensors(self, max_order: int) -> list[np.ndarray]:
        """``[D0, D1, ..., D_max]`` with ``Dm[j]`` = ∇^m l_j(θ0), shape ``(K,) + (dim,)*m``.

        Exact symbolic derivatives evaluated in float64; raises if any is NaN/inf.
        """
        subs = {s: sp.Float(float(v), 30) for s, v in zip(self.symbols, self.init, strict=True)}
        for m in range(len(self._tensors), max_order + 1):
            tensor = np.zeros((self.n_points,) + (self.dim,) * m, dtype=np.float64)
            for multiset in itertools.combinations_with_replacement(range(self.dim), m):
                exprs = self._derivative_exprs(multiset)
                vals = []
                for j, e in enumerate(exprs):
                    try:
                        v = complex(e.xreplace(subs).evalf(20))
                    except (TypeError, ValueError):
                        v = complex("nan")
                    if not math.isfinite(v.real) or abs(v.imag) > 1e-12 * (1 + abs(v.real)):
                        raise SgdDiagramsError(
                            f"point {j} loss has a non-finite or complex order-{m} derivative at init; "
                            "choose an init where every loss is analytic"
                        )
                    vals.append(v.real)
                for perm in set(itertools.permutations(multiset)):
                    tensor[(slice(None),) + perm] = vals
            self._tensors.append(tensor)
        return self._tensors[: max_order + 1]

    # -- named statistics (seed 001 Fig. 8) -----------------------------------------
    def mean_derivative(self, order: int) -> np.ndarray:
        """E_x ∇^order l_x(θ0): the loss (0), G (1), H (2), J (3), ..."""
        d = self.derivative_tensors(order)[order]
        return np.tensordot(self.probs, d, axes=1)

    @cached_property
    def gradient_covariance(self) -> np.ndarray:
        """C = E[(∇l_x − G)^{⊗2}] at θ0."""
        g = self.derivative_tensors(1)[1]
        centred = g - self.probs @ g
        return np.einsum("j,ja,jb->ab", self.probs, centred, centred)

    # -- numeric evaluation (simulation, brute force) ------------------------------
    @cached_property
    def _numeric(self):
        loss_f = [sp.lambdify(self.symbols, l, modules="numpy") for l in self.losses]
        grad_f = [
            [sp.lambdify(self.symbols, sp.diff(l, s), modules="numpy") for s in self.symbols]
            for l in self.losses
        ]
        return loss_f, grad_f

    def loss(self, point: int, theta: np.ndarray) -> np.ndarray:
        """l_point(θ) for θ of shape (..., dim)."""
        theta = np.asarray(theta, dtype=np.float64)
        f = self._numeric[0][point]
        return np.broadcast_to(np.asarray(f(*np.moveaxis(theta, -1, 0)), dtype=np.float64), theta.shape[:-1])

    def gradient(self, point: int, theta: np.ndarray) -> np.ndarray:
        """∇l_point(θ) for θ of shape (..., dim), returned with shape (..., dim)."""
        theta = np.asarray(theta, dtype=np.float64)
        comps = [
            np.broadcast_to(np.asarray(g(*np.moveaxis(theta, -1, 0)), dtype=np.float64), theta.shape[:-1])
            for g in self._numeric[1][point]
        ]
        return np.stack(comps, axis=-1)

    def test_loss(self, theta: np.ndarray) -> np.ndarray:
        """l(θ) = Σ_j p_j l_j(θ)."""
        return sum(p * self.loss(j, theta) for j, p in enumerate(self.probs))

    def sample_points(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """I.i.d. support-point indices drawn from the distribution."""
        return rng.choice(self.n_points, size=size, p=self.probs)


def _loss_expression(loss: Any, dim: int, j: int) -> sp.Expr:
    """A loss as a sympy expression: a string through the safe parser, a real number, or (from Python
    code, never from a file) an already-built sympy expression.  Nothing else is ever sympified."""
    if isinstance(loss, str):
        return parse_loss(loss, dim, where=f"point {j} loss")
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        if not math.isfinite(loss):
            raise SgdDiagramsError(f"point {j} loss must be finite, got {loss!r}")
        return sp.Float(loss)
    if isinstance(loss, sp.Expr):
        return loss
    raise SgdDiagramsError(
        f"point {j} loss must be an expression string in t0..t{dim - 1} (or a number), got {type(loss).__name__}"
    )


def landscape_from_json(obj: Any, name: str = "finite") -> FiniteLandscape:
    """Build a :class:`FiniteLandscape` from its JSON form (see module docstring)."""
    if not isinstance(obj, dict):
        raise SgdDiagramsError('landscape JSON must be an object with "kind", "dim", "init", "points"')
    kind = obj.get("kind", "finite")
    if kind != "finite":
        raise SgdDiagramsError(f'landscape kind {kind!r} is not supported in files; use "finite"')
    for key in ("dim", "init", "points"):
        if key not in obj:
            raise SgdDiagramsError(f'landscape JSON is missing "{key}"')
    extra = sorted(str(k) for k in set(obj) - {"kind", "dim", "init", "points", "name", "description"})
    if extra:
        raise SgdDiagramsError(f"landscape JSON has unknown keys {extra}; use kind, dim, init, points")
    points = obj["points"]
    if not isinstance(points, list) or not points:
        raise SgdDiagramsError('"points" must be a non-empty list of {"prob": p, "loss": "..."}')
    if len(points) > MAX_LANDSCAPE_POINTS:  # each loss is parsed and differentiated: refuse before any of it
        raise SgdDiagramsError(f'"points" has {len(points)} points, more than the limit {MAX_LANDSCAPE_POINTS}; '
                               "use a sampled (torch) landscape for large data sets")
    probs, losses = [], []
    for j, pt in enumerate(points):
        if not isinstance(pt, dict) or "prob" not in pt or "loss" not in pt:
            raise SgdDiagramsError(f'point {j} must be an object {{"prob": p, "loss": "..."}}')
        if set(pt) - {"prob", "loss"}:
            raise SgdDiagramsError(f"point {j} has unknown keys {sorted(map(str, set(pt) - {'prob', 'loss'}))}; "
                                   'a point is {"prob": p, "loss": "..."}')
        prob = pt["prob"]
        if isinstance(prob, bool) or not isinstance(prob, (int, float)):
            raise SgdDiagramsError(f"point {j} prob must be a number, got {prob!r}")
        probs.append(float(prob))
        losses.append(pt["loss"])
    init = obj["init"]
    if not isinstance(init, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in init
    ):
        raise SgdDiagramsError('"init" must be a list of numbers, one per weight')
    return FiniteLandscape(obj["dim"], init, probs, losses, name=name)


def load_landscape_file(path: str | Path) -> FiniteLandscape:
    """Read a finite landscape JSON file."""
    p = Path(path)
    obj = read_untrusted_json(p, what="landscape", max_bytes=MAX_INPUT_BYTES)
    return landscape_from_json(obj, name=terminal_safe(p.stem))  # the name is printed: no control characters
