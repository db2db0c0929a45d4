"""Exact expectations of SGD and its rivals on small finite landscapes, by enumeration.

For a finite landscape with K support points and a schedule on N training
points, every one of the K^N training sequences is run through the numeric
optimizer (plain numpy, independent of the torch simulators and of the diagram
engine) at every η at once, and the outcomes are averaged with their
probabilities Π_n p_{x_n}.  This is the ground truth that predictions and
simulations are compared against; it costs K^N · T gradient evaluations, so it
is for small problems only.

Optimizers: ``sgd`` (the schedule's batches), ``gd`` (every step uses all N
points), ``gdc`` (GD plus the GDC regularizer of Corollary 2, seed 001 App. C.3:
κ·η·∇ of the unbiased variance estimate), ``momentum`` (heavy ball on the
schedule's batches, velocity v ← βv + g).
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import sympy as sp

from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule
from ..theory.gdc import gdc_coefficient as schedule_gdc_coefficient

__all__ = ["exact_expectation", "MAX_SEQUENCES", "OPTIMIZERS"]

MAX_SEQUENCES = 500_000
OPTIMIZERS = ("sgd", "gd", "gdc", "momentum")


@cache
def _hessian_functions(landscape):
    out = []
    for loss in landscape.losses:
        entries = [[sp.diff(loss, a, b) for b in landscape.symbols] for a in landscape.symbols]
        out.append(sp.lambdify(landscape.symbols, entries, modules="numpy"))
    return out


def _hessian(landscape, j: int, theta: np.ndarray) -> np.ndarray:
    """∇²l_j at each θ (…, dim) → (…, dim, dim)."""
    values = _hessian_functions(landscape)[j](*np.moveaxis(theta, -1, 0))
    dim = landscape.dim
    out = np.empty(theta.shape + (dim,))
    for a in range(dim):
        for b in range(dim):
            out[..., a, b] = np.broadcast_to(np.asarray(values[a][b], dtype=np.float64), theta.shape[:-1])
    return out


def _point_sum(landscape, seqs: np.ndarray, columns, theta: np.ndarray, fn) -> np.ndarray:
    """Σ over ``columns`` n of fn(x_n, θ[mask], mask), each sequence with its own points (mask: its rows)."""
    total = None
    for n in columns:
        for j in range(landscape.n_points):
            mask = seqs[:, n] == j
            if mask.any():
                value = fn(j, theta[mask], mask)
                if total is None:
                    total = np.zeros(theta.shape[:2] + value.shape[2:])
                total[mask] += value
    return total


def _gradient(landscape):
    return lambda j, th, _rows: landscape.gradient(j, th)


def _hessian_times_centred(landscape, mean: np.ndarray):
    """(j, θ, rows) ↦ ∇²l_j(θ) (∇l_j(θ) − ḡ), with ḡ each sequence's mean gradient."""
    return lambda j, th, rows: np.einsum("seab,seb->sea", _hessian(landscape, j, th),
                                         landscape.gradient(j, th) - mean[rows])


def exact_expectation(landscape, schedule: Schedule, etas, metric: np.ndarray | None = None,
                      optimizer: str = "sgd", beta: float = 0.9, gdc_coefficient: float | None = None) -> dict:
    """E[test loss], E[train loss], E[gen gap], E[θ_T − θ0], Var[test loss] for each η, exactly.

    Vectorized over η.  Returns a dict of arrays: scalars with shape (len(etas),),
    ``displacement`` with shape (len(etas), dim).  ``metric`` P makes the step −η·P·g.
    Step t uses η·m_t (the schedule's lr multipliers); a schedule with momentum β > 0 makes sgd and gd
    heavy-ball descents with that β, and the ``momentum`` optimizer uses it instead of ``beta``.
    """
    if optimizer not in OPTIMIZERS:
        raise SgdDiagramsError(f"exact enumeration supports {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    K, N = landscape.n_points, schedule.N
    if K**N > MAX_SEQUENCES:
        raise SgdDiagramsError(
            f"exact enumeration needs K^N = {K}^{N} training sequences (> {MAX_SEQUENCES}); use fewer points or N"
        )
    if optimizer == "gdc" and N < 2:
        raise SgdDiagramsError("GDC needs at least 2 training points")
    P = np.eye(landscape.dim) if metric is None else np.asarray(metric, dtype=np.float64)
    if gdc_coefficient is None and optimizer == "gdc":
        gdc_coefficient = schedule_gdc_coefficient(schedule)
    seqs = np.array(list(itertools.product(range(K), repeat=N)), dtype=np.int64)  # (S, N)
    probs = np.prod(landscape.probs[seqs], axis=1)
    S = len(seqs)
    theta = np.broadcast_to(landscape.init, (S, len(etas), landscape.dim)).copy()
    velocity = np.zeros_like(theta)
    if optimizer == "gdc" and not schedule.plain:
        raise SgdDiagramsError("exact enumeration of gdc does not support lr multipliers or momentum")
    if schedule.momentum > 0:
        beta = schedule.momentum
    elif optimizer != "momentum":
        beta = 0.0
    multipliers = schedule.lr_multipliers()
    with np.errstate(all="ignore"):
        for t, batch in enumerate(schedule.batches):
            columns = range(N) if optimizer in ("gd", "gdc") else batch
            step = _point_sum(landscape, seqs, columns, theta, _gradient(landscape)) / len(columns)
            if optimizer == "gdc":
                # ∇ of the unbiased variance estimate Σ_n |g_n − ḡ|²/(2(N−1)) · 2 = 2/(N−1) Σ_n H_n (g_n − ḡ).
                trace_grad = _point_sum(landscape, seqs, range(N), theta, _hessian_times_centred(landscape, step))
                step = step + gdc_coefficient * etas[None, :, None] * (2.0 / (N - 1)) * trace_grad
            if beta:
                velocity = beta * velocity + step
                step = velocity
            theta = theta - multipliers[t] * etas[None, :, None] * (step @ P.T)
        test = landscape.test_loss(theta)
        train = _point_sum(landscape, seqs, range(N), theta, lambda j, th, _: landscape.loss(j, th)) / N
    if not (np.all(np.isfinite(test)) and np.all(np.isfinite(train))):
        raise SgdDiagramsError("SGD diverged (NaN/inf loss) for some training sequence; use a smaller eta")
    out = {"test-loss": probs @ test}
    out["test-loss-variance"] = probs @ test**2 - out["test-loss"] ** 2
    out["train-loss"] = probs @ train
    out["gen-gap"] = out["test-loss"] - out["train-loss"]
    out["displacement"] = np.einsum("s,sea->ea", probs, theta - landscape.init)
    return out
