"""Paired trials across schedules, and the statistics the analytic reproductions draw verdicts from.

:func:`paired_runs` runs several (schedule, optimizer, η) settings on the *same* training sets — the
pairing of seed 001 App. C.3, extended across schedules with equal N (``sgd.simulate`` pairs across η and
optimizers of one schedule) — and returns every trial's metrics, so that differences such as "M-epoch SGD
at η/M minus one-epoch SGD at η" get standard errors from paired differences.  :func:`summary` gives the
mean, standard error and 95% CI; :func:`leading_coefficient` fits d(η)/η² = a + b·η by weighted least
squares to read the order-η² coefficient a (with its standard error) off a simulated η sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import SgdDiagramsError

__all__ = ["Run", "leading_coefficient", "merge_moments", "moments", "paired_runs", "summaries", "summary", "z_score"]

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Run:
    """One setting of a paired comparison: a label, a schedule, an optimizer name and a learning rate."""

    label: str
    schedule: Any
    optimizer: str
    eta: float


def summary(values: Any) -> dict[str, Any]:
    """Mean, standard error, 95% CI and n of the finite entries of ``values``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        raise SgdDiagramsError("fewer than two finite trials; use a smaller eta or more trials")
    mean, sem = float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))
    return {"mean": mean, "sem": sem, "ci95": [mean - Z95 * sem, mean + Z95 * sem], "n": int(v.size)}


def z_score(observed: float, sem: float, predicted: float) -> float:
    """(observed − predicted)/sem (±inf when sem is 0 and they differ)."""
    if sem <= 0:
        return 0.0 if observed == predicted else float(np.sign(observed - predicted) * np.inf)
    return float((observed - predicted) / sem)


def _chunk_seed(seed: int, chunk: int) -> int:
    state = np.random.SeedSequence([int(seed), 0x9A1E, int(chunk)]).generate_state(1, dtype=np.uint64)[0]
    return int(state % (2**63 - 1))


def paired_runs(landscape: Any, runs: Sequence[Run], trials: int, seed: int, *, chunk: int = 4000,
                metrics: Sequence[str] = ("test-loss", "train-loss", "gen-gap"),
                on_chunk: Any = None) -> dict[str, dict[str, np.ndarray]]:
    """Every trial's final metrics for each run, all runs on the same training sets (equal N required).

    Chunk c draws its training sets from ``SeedSequence([seed, c])``-derived seeds, so results depend
    only on (seed, trials, chunk).  ``on_chunk(k)`` is called after each chunk (progress).
    """
    from ...landscapes import as_sampled
    from ...optimizers.registry import make_optimizer
    from ...optimizers.trials import chunk_sizes, run_trials, trial_metrics

    if not runs:
        raise SgdDiagramsError("paired_runs needs at least one run")
    Ns = {r.schedule.N for r in runs}
    if len(Ns) != 1:
        raise SgdDiagramsError(f"paired runs need one training-set size N, got {sorted(Ns)}")
    N = Ns.pop()
    land = as_sampled(landscape)
    out: dict[str, dict[str, list[np.ndarray]]] = {r.label: {m: [] for m in metrics} for r in runs}
    import torch

    for c, size in enumerate(chunk_sizes(int(trials), int(chunk))):
        gen = torch.Generator().manual_seed(_chunk_seed(seed, c))
        rows = land.sample_training_sets(gen, size, N)
        for r in runs:
            stepper = make_optimizer(r.optimizer).bind(land, r.schedule, float(r.eta))
            noise = torch.Generator().manual_seed(_chunk_seed(seed, 1000003 + c))
            theta = run_trials(stepper, rows, [r.schedule.T], noise)[r.schedule.T]
            got = trial_metrics(land, theta, rows)
            for m in metrics:
                out[r.label][m].append(got[m] if got[m].ndim == 1 else got[m][:, 0])
        if on_chunk is not None:
            on_chunk(size)
    return {label: {m: np.concatenate(v) for m, v in d.items()} for label, d in out.items()}


def moments(diffs: Any) -> dict[str, Any]:
    """Sufficient statistics of per-trial vectors (trials, K): n, Σd and Σd dᵀ (JSON-able; merge by adding)."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.all(np.isfinite(d), axis=1)]
    return {"n": int(d.shape[0]), "sum": d.sum(axis=0).tolist(), "outer": (d.T @ d).tolist()}


def merge_moments(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The moments of the union of disjoint sets of trials."""
    return {"n": int(sum(p["n"] for p in parts)),
            "sum": np.sum([p["sum"] for p in parts], axis=0).tolist(),
            "outer": np.sum([p["outer"] for p in parts], axis=0).tolist()}


def _mean_cov(m: dict[str, Any]) -> tuple[int, np.ndarray, np.ndarray]:
    n = int(m["n"])
    if n < 2:
        raise SgdDiagramsError("fewer than two finite trials; use a smaller eta or more trials")
    mean = np.asarray(m["sum"], dtype=np.float64) / n
    cov = (np.asarray(m["outer"], dtype=np.float64) - n * np.outer(mean, mean)) / (n - 1)
    return n, mean, cov


def summaries(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-coordinate mean, standard error and 95% CI from :func:`moments`."""
    n, mean, cov = _mean_cov(m)
    sem = np.sqrt(np.clip(np.diag(cov), 0.0, None) / n)
    return [{"mean": float(a), "sem": float(s), "ci95": [float(a - Z95 * s), float(a + Z95 * s)], "n": n}
            for a, s in zip(mean, sem, strict=True)]


def leading_coefficient(eta: Any, m: dict[str, Any]) -> dict[str, Any]:
    """The order-η² coefficient of a simulated difference d(η), from the :func:`moments` of per-trial d over η.

    Fits d/η² = a + b·η by weighted least squares (weights from each η's variance).  The fit is a linear
    map applied to each trial's differences, so ``a_se`` is the exact standard error of the mean of the
    per-trial coefficients even though the η points share training sets (and so are correlated).
    ``intercept_weights`` w give a = Σ_k w_k·d(η_k): apply them to a predicted d(η) to see what the same fit
    reads off the prediction.
    """
    e = np.asarray(eta, dtype=np.float64)
    n, mean, cov = _mean_cov(m)
    if e.size < 2 or mean.size != e.size:
        raise SgdDiagramsError("the order-2 fit needs differences at two or more learning rates")
    scale = 1.0 / e**2
    mean_y, cov_y = mean * scale, cov * np.outer(scale, scale)
    X = np.stack([np.ones_like(e), e], axis=1)
    W = 1.0 / np.maximum(np.diag(cov_y), 1e-300)
    L = np.linalg.solve(X.T @ (X * W[:, None]), X.T * W)  # coefficients = L @ y, per trial
    coef = L @ mean_y
    var = L @ cov_y @ L.T / n
    return {"a": float(coef[0]), "a_se": float(np.sqrt(max(var[0, 0], 0.0))), "b": float(coef[1]),
            "b_se": float(np.sqrt(max(var[1, 1], 0.0))), "n": n, "intercept_weights": (L[0] * scale).tolist()}
