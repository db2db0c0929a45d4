"""Exact expectations of plain SGD on small finite landscapes, by enumeration.

For a finite landscape with K support points and a schedule on N training
points, every one of the K^N training sequences is run through numeric SGD
(at the given η) and the outcomes are averaged with their probabilities.
This is the ground truth that predictions are compared against; it costs
K^N · T gradient evaluations, so it is for small problems only.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule

__all__ = ["exact_expectation", "MAX_SEQUENCES"]

MAX_SEQUENCES = 200_000


def exact_expectation(landscape, schedule: Schedule, etas, metric: np.ndarray | None = None) -> dict:
    """E[test loss], E[train loss], E[gen gap], E[θ_T − θ0], Var[test loss] for each η, exactly.

    Vectorized over η.  Returns a dict of arrays: scalars with shape (len(etas),),
    ``displacement`` with shape (len(etas), dim).
    """
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    K, N = landscape.n_points, schedule.N
    if K**N > MAX_SEQUENCES:
        raise SgdDiagramsError(
            f"exact enumeration needs K^N = {K}^{N} training sequences (> {MAX_SEQUENCES}); use fewer points or N"
        )
    P = np.eye(landscape.dim) if metric is None else np.asarray(metric, dtype=np.float64)
    out = {k: np.zeros(len(etas)) for k in ("test-loss", "train-loss")}
    out["displacement"] = np.zeros((len(etas), landscape.dim))
    seqs = np.array(list(itertools.product(range(K), repeat=N)), dtype=np.int64)  # (S, N)
    probs = np.prod(landscape.probs[seqs], axis=1)
    S = len(seqs)
    theta = np.broadcast_to(landscape.init, (S, len(etas), landscape.dim)).copy()
    with np.errstate(all="ignore"):
        for batch in schedule.batches:
            grad = np.zeros_like(theta)
            for n in batch:
                for j in range(K):
                    mask = seqs[:, n] == j
                    if mask.any():
                        grad[mask] += landscape.gradient(j, theta[mask])
            grad /= len(batch)
            theta = theta - etas[None, :, None] * (grad @ P.T)
        test = landscape.test_loss(theta)
        train = np.zeros(theta.shape[:2])
        for n in range(N):
            for j in range(K):
                mask = seqs[:, n] == j
                if mask.any():
                    train[mask] += landscape.loss(j, theta[mask])
        train /= N
    if not (np.all(np.isfinite(test)) and np.all(np.isfinite(train))):
        raise SgdDiagramsError("SGD diverged (NaN/inf loss) for some training sequence; use a smaller eta")
    out["test-loss"] = probs @ test
    out["test-loss-variance"] = probs @ test**2 - out["test-loss"] ** 2
    out["train-loss"] = probs @ train
    out["gen-gap"] = out["test-loss"] - out["train-loss"]
    out["displacement"] = np.einsum("s,sea->ea", probs, theta - landscape.init)
    return out
