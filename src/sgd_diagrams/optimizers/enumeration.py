"""Exact expectations by brute force: every training sequence of a small finite landscape.

For a finite landscape with K support points and a schedule on N points, a
training set is a sequence in {0..K−1}^N with probability Π_n p_{x_n}.  We run
the optimizer numerically (plain numpy, independent of the torch simulators)
on all K^N sequences at once and average with those probabilities, which gives
E[test loss], E[train loss], E[gen gap] and E[θ_T − θ0] exactly up to float
rounding.  This is the reference the simulators are tested against.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import sympy as sp

from ..errors import SgdDiagramsError
from ..landscapes.finite import FiniteLandscape
from ..schedules import Schedule
from .regularized import gdc_coefficient as schedule_gdc_coefficient

__all__ = ["exact_expectations"]


@cache
def _hessian_functions(finite: FiniteLandscape):
    out = []
    for loss in finite.losses:
        entries = [[sp.diff(loss, a, b) for b in finite.symbols] for a in finite.symbols]
        out.append(sp.lambdify(finite.symbols, entries, modules="numpy"))
    return out


def _all_gradients(finite: FiniteLandscape, theta: np.ndarray) -> np.ndarray:
    """(K, S, dim): ∇l_j at every sequence's θ."""
    return np.stack([finite.gradient(j, theta) for j in range(finite.n_points)])


def _all_hessians(finite: FiniteLandscape, theta: np.ndarray) -> np.ndarray:
    """(K, S, dim, dim): ∇²l_j at every sequence's θ."""
    s = theta.shape[0]
    out = np.empty((finite.n_points, s, finite.dim, finite.dim))
    args = list(np.moveaxis(theta, -1, 0))
    for j, fn in enumerate(_hessian_functions(finite)):
        values = fn(*args)
        for a in range(finite.dim):
            for b in range(finite.dim):
                out[j, :, a, b] = np.broadcast_to(np.asarray(values[a][b], dtype=np.float64), (s,))
    return out


def _pick(per_point: np.ndarray, points: np.ndarray) -> np.ndarray:
    """per_point[points[s, i], s] for every sequence s and column i: shape (S, cols, ...)."""
    seq_index = np.arange(points.shape[0])[:, None]
    return per_point[points, seq_index]


def exact_expectations(
    finite: FiniteLandscape,
    schedule: Schedule,
    eta: float,
    optimizer: str = "sgd",
    beta: float = 0.9,
    gdc_coefficient: float | None = None,
    max_sequences: int = 500_000,
) -> dict[str, np.ndarray | float]:
    """Exact E[test loss], E[train loss], E[gen gap], E[θ_T − θ0] of sgd/gd/gdc/momentum."""
    if optimizer not in ("sgd", "gd", "gdc", "momentum"):
        raise SgdDiagramsError(
            f"exact enumeration supports sgd, gd, gdc, momentum, not {optimizer!r}"
        )
    K, N = finite.n_points, schedule.N
    if K**N > max_sequences:
        raise SgdDiagramsError(
            f"{K}^{N} training sequences exceed {max_sequences}; use fewer points or a smaller N"
        )
    points = np.array(list(itertools.product(range(K), repeat=N)), dtype=np.int64).reshape(-1, N)
    weights = np.prod(finite.probs[points], axis=1)
    theta = np.tile(finite.init, (points.shape[0], 1))
    velocity = np.zeros_like(theta)
    kappa = schedule_gdc_coefficient(schedule) if gdc_coefficient is None else gdc_coefficient
    for batch in schedule.batches:
        grads = _all_gradients(finite, theta)
        rows = points if optimizer in ("gd", "gdc") else points[:, list(batch)]
        step = _pick(grads, rows).mean(axis=1)
        if optimizer == "gdc":
            per_sample = _pick(grads, points)
            centred = per_sample - per_sample.mean(axis=1, keepdims=True)
            hess = _pick(_all_hessians(finite, theta), points)
            trace_grad = 2.0 / (N - 1) * np.einsum("snab,snb->sa", hess, centred)
            step = step + kappa * eta * trace_grad
        if optimizer == "momentum":
            velocity = beta * velocity + step
            step = velocity
        theta = theta - eta * step
    test = finite.test_loss(theta)
    losses = np.stack([finite.loss(j, theta) for j in range(K)])
    train = _pick(losses, points).mean(axis=1)
    return {
        "test_loss": float(weights @ test),
        "train_loss": float(weights @ train),
        "gen_gap": float(weights @ (test - train)),
        "displacement": weights @ (theta - finite.init),
    }
