"""When a truncated Taylor prediction can be believed: an estimated truncation error and the ``trusted`` flag.

Theorem 1 (seed 001 §"Main result") gives E[quantity] = Σ_{k≤D} c_k η^k + o(η^D); nothing in the theorem says
how large the o(η^D) is at a given η.  This module estimates it and decides trust from the estimate, in ONE
function (:func:`assess_trust`) that every caller uses — :func:`sgd_diagrams.predict`, ``whatif``, ``plot``
and the reports:

* **Tail bound (ratio test).**  With terms a_k = ‖c_k‖ η^k, take the last two *non-vanishing* orders
  k₁ < k₂ (an order vanishes when its term is below :data:`VANISHING` times the largest term: c₁ = 0 at a
  minimum, odd orders of symmetric landscapes); their ratio per order r = (a_{k₂}/a_{k₁})^{1/(k₂−k₁)} is the
  ratio test of the series in η (equivalently in ηT: the coefficients grow like T^k).  The omitted orders
  D+1, D+2, … are bounded by the geometric tail a_{k₂} r^{D+1−k₂}/(1 − r); r ≥ 1 means the series is not
  converging at this η (error ∞).  A zero coefficient does not break the test: it is skipped.
* **Look-ahead.**  When the next coefficient c_{D+1} is known (exact landscapes at low order, where it is
  cheap), it joins the ratio test and its term is counted in the tail — this is what keeps order 1 from
  being trusted beyond where it is right (the noise term first appears at order 2).
* **One non-vanishing order.**  A single order cannot show convergence; the ratio then comes from the
  curvature, r = η·λ_max·Σ_t m_t/(1 − β) (the expansion parameter of the propagators (I − ηH)^t), or from
  ‖c_k‖η^k/‖c_0‖ when c_0 ≠ 0 — the larger of those known.  With neither, the error is unknown (∞).
* **Second witness.**  Where the resummed form exists (exact landscapes), |Taylor − resummed| is a direct
  measure of the higher orders the linkless diagrams contribute; the estimate is the larger of the two.
* **Descent itself diverges** when η·m_max·λ_max ≥ 2(1 + β): error ∞.

``trusted`` ⇔ estimated error ≤ tolerance, with tolerance = ``rtol``·‖P(η) − c_0‖ (the predicted change
from l(θ0); ``rtol`` = :data:`DEFAULT_RTOL` unless given) + 2·stderr for estimates from samples: a
truncation error well inside the reported error bar cannot be told from noise.

:func:`legacy_trust_region` is the rule used before (last order ≤ half the one before), kept so that
``benchmarks/bench_trust.py`` can show both confusion tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DEFAULT_RTOL", "VANISHING", "Trust", "assess_trust", "assess_trust_steps", "curvature_rate",
           "legacy_trust_region", "tail_bound", "tail_bound_steps"]

DEFAULT_RTOL = 0.1
"""Default tolerance: the estimated truncation error may be at most 10 % of the predicted change from l(θ0)."""
VANISHING = 1e-9
"""An order whose term is below this fraction of the largest term counts as vanishing (a zero coefficient)."""
LEGACY_RATIO = 0.5


@dataclass(frozen=True)
class Trust:
    """Per η: the estimated truncation ``error``, the ``tolerance`` it is held to, and ``trusted``."""

    error: np.ndarray
    tolerance: np.ndarray
    trusted: np.ndarray
    rtol: float


def _norms(coefficients: Sequence[Any]) -> np.ndarray:
    return np.array([float(np.linalg.norm(np.asarray(c, dtype=np.float64))) for c in coefficients])


def curvature_rate(lambda_max: float | None, schedule: Any = None) -> float | None:
    """λ_max·Σ_t m_t/(1 − β): multiplied by η, the ratio per order of a series dominated by curvature."""
    if lambda_max is None or not np.isfinite(lambda_max):
        return None
    if schedule is None:
        return float(lambda_max)
    steps = float(np.sum(schedule.lr_multipliers()))
    return float(lambda_max) * steps / (1.0 - float(schedule.momentum))


def tail_bound(coefficients: Sequence[Any], etas: Any, *, lookahead: Any = None,
               rate: float | None = None) -> np.ndarray:
    """Estimated |Σ_{k>D} c_k η^k| per η from c_0..c_D (and c_{D+1} = ``lookahead`` when known).

    ``rate``: λ_max·Σm_t/(1−β) (see :func:`curvature_rate`), used when only one order is non-vanishing.
    """
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    norms = _norms(list(coefficients) + ([] if lookahead is None else [lookahead]))
    D = len(coefficients) - 1
    out = np.empty(etas.size)
    for i, eta in enumerate(etas):
        with np.errstate(over="ignore", invalid="ignore"):
            terms = norms * eta ** np.arange(norms.size)
        if not np.all(np.isfinite(terms)):
            out[i] = np.inf
            continue
        top = float(terms.max()) if terms.size else 0.0
        live = [k for k in range(1, terms.size) if terms[k] > VANISHING * top]
        if not live:  # no order changes anything: zero if even c_{D+1} (or everything) vanishes, else unknown
            out[i] = 0.0 if (top == 0.0 or lookahead is not None) else np.inf
            continue
        k2 = live[-1]
        ratios = []
        if len(live) >= 2:
            k1 = live[-2]
            ratios.append((terms[k2] / terms[k1]) ** (1.0 / (k2 - k1)))
        else:
            if rate is not None:
                ratios.append(eta * rate)
            if terms[0] > 0.0:
                ratios.append((terms[k2] / terms[0]) ** (1.0 / k2))
        if not ratios:
            out[i] = np.inf
            continue
        r = max(ratios)
        if r >= 1.0:
            out[i] = np.inf
            continue
        first = D + 1  # the first omitted order
        counted = float(terms[D + 1]) if lookahead is not None else 0.0
        start = first + 1 if lookahead is not None else first
        out[i] = counted + float(terms[k2]) * r ** (start - k2) / (1.0 - r)
    return out


def assess_trust(coefficients: Sequence[Any], etas: Any, value: Any, *, stderr: Any = None,
                 lookahead: Any = None, resummed: Any = None, lambda_max: float | None = None,
                 schedule: Any = None, rtol: float | None = None, extra_error: Any = None) -> Trust:
    """THE trust decision for a Taylor prediction ``value`` = Σ_{k≤D} c_k η^k at each η (module docstring).

    ``stderr``: the prediction's standard error (estimates from samples); ``lookahead``: c_{D+1} when known;
    ``resummed``: the resummed prediction at the same η (a second witness; NaN where it does not exist);
    ``lambda_max``: the largest
    |eigenvalue| of the mean Hessian (with ``schedule``: the divergence bound and the curvature rate);
    ``extra_error``: any further error estimate per η to fold in (e.g. a matrix-free complement term).
    """
    rtol = DEFAULT_RTOL if rtol is None else float(rtol)
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    value = np.asarray(value, dtype=np.float64).reshape(etas.size, -1)
    c0 = np.asarray(coefficients[0], dtype=np.float64).reshape(-1)
    error = tail_bound(coefficients, etas, lookahead=lookahead, rate=curvature_rate(lambda_max, schedule))
    if resummed is not None:
        witness = np.linalg.norm(value - np.asarray(resummed, dtype=np.float64).reshape(etas.size, -1), axis=1)
        error = np.where(np.isnan(witness), error, np.maximum(error, witness))  # NaN: no witness at that η
    if extra_error is not None:
        error = np.maximum(error, np.abs(np.asarray(extra_error, dtype=np.float64).reshape(etas.size)))
    if lambda_max is not None and np.isfinite(lambda_max):
        m_max = 1.0 if schedule is None else float(np.max(schedule.lr_multipliers(), initial=1.0))
        beta = 0.0 if schedule is None else float(schedule.momentum)
        error = np.where(etas * m_max * float(lambda_max) >= 2.0 * (1.0 + beta), np.inf, error)
    tolerance = rtol * np.linalg.norm(value - c0[None, :], axis=1)
    if stderr is not None:
        tolerance = tolerance + 2.0 * np.linalg.norm(np.asarray(stderr, dtype=np.float64).reshape(etas.size, -1),
                                                     axis=1)
    trusted = np.isfinite(error) & (error <= tolerance)
    return Trust(error, tolerance, trusted, rtol)


def tail_bound_steps(norms: np.ndarray, etas: np.ndarray, rates: np.ndarray | None) -> np.ndarray:
    """:func:`tail_bound` (no look-ahead) at every step of a curve at once: ``norms`` (steps, D+1) are ‖c_k‖
    per step, ``rates`` (steps,) the curvature rates or None; returns (steps, etas) — the same rule, vectorised
    over steps and η (a curve of 10⁵ steps is one array expression, not 10⁵ calls)."""
    norms = np.asarray(norms, dtype=np.float64)
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    S, K = norms.shape
    D = K - 1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        terms = norms[:, None, :] * etas[None, :, None] ** np.arange(K)  # (S, E, K)
        finite = np.all(np.isfinite(terms), axis=2)
        terms = np.where(np.isfinite(terms), terms, 0.0)
        top = terms.max(axis=2)
        live = terms > VANISHING * top[..., None]
        live[..., 0] = False
        count = live.sum(axis=2)
        index = np.arange(K)
        k2 = np.where(live, index, -1).max(axis=2)
        k1 = np.where(live & (index < k2[..., None]), index, -1).max(axis=2)
        t2 = np.take_along_axis(terms, np.maximum(k2, 0)[..., None], axis=2)[..., 0]
        t1 = np.take_along_axis(terms, np.maximum(k1, 0)[..., None], axis=2)[..., 0]
        pair = (t2 / t1) ** (1.0 / np.maximum(k2 - k1, 1))
        r_rate = np.full((S, etas.size), -np.inf) if rates is None else etas[None, :] * np.asarray(rates)[:, None]
        t0 = terms[..., 0]
        r_zero = np.where(t0 > 0.0, (t2 / t0) ** (1.0 / np.maximum(k2, 1)), -np.inf)
        single = np.maximum(r_rate, r_zero)
        r = np.where(count >= 2, pair, single)
        bound = t2 * r ** (D + 1 - k2) / (1.0 - r)
        out = np.where((r >= 1.0) | ~np.isfinite(r), np.inf, bound)
        out = np.where(count == 0, np.where(top == 0.0, 0.0, np.inf), out)
    return np.where(finite, out, np.inf)


def assess_trust_steps(coefficients: Sequence[Any], etas: Any, values: Any, *, stderr: Any = None,
                       lambda_max: float | None = None, multipliers: Any = None, momentum: float = 0.0,
                       steps: Any, rtol: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`assess_trust` at every recorded step of a curve, vectorised: (trusted, error, tolerance), each
    (steps, etas).  ``coefficients[k]`` has the steps on axis 0; the schedule of step t is the prefix of
    ``multipliers`` (lr multipliers) with ``momentum``.  Equal to calling :func:`assess_trust` per step."""
    rtol = DEFAULT_RTOL if rtol is None else float(rtol)
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    steps = np.asarray(steps, dtype=np.int64)
    S = steps.size
    coeffs = [np.asarray(c, dtype=np.float64).reshape(S, -1) for c in coefficients]
    norms = np.stack([np.linalg.norm(c, axis=1) for c in coeffs], axis=1)
    m = np.ones(int(steps.max(initial=0))) if multipliers is None else np.asarray(multipliers, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(m)])[steps]
    rates = None
    if lambda_max is not None and np.isfinite(lambda_max):
        rates = float(lambda_max) * cumulative / (1.0 - float(momentum))
    error = tail_bound_steps(norms, etas, rates)
    if lambda_max is not None and np.isfinite(lambda_max):
        running = np.concatenate([[1.0], np.maximum.accumulate(np.maximum(m, 1.0))])[steps]  # max(m[:t], 1)
        diverges = etas[None, :] * running[:, None] * float(lambda_max) >= 2.0 * (1.0 + float(momentum))
        error = np.where(diverges, np.inf, error)
    values = np.asarray(values, dtype=np.float64).reshape(S, etas.size, -1)
    tolerance = rtol * np.linalg.norm(values - coeffs[0][:, None, :], axis=2)
    if stderr is not None:
        tolerance = tolerance + 2.0 * np.linalg.norm(np.asarray(stderr, dtype=np.float64).reshape(S, etas.size, -1),
                                                     axis=2)
    trusted = np.isfinite(error) & (error <= tolerance)
    return trusted, error, tolerance


def legacy_trust_region(coefficients: Sequence[Any], etas: Any, curvature: float) -> np.ndarray:
    """The earlier rule (kept for the calibration benchmark).

    Untrusted when η·λ_max ≥ 2 or the last order exceeds half the one before."""
    etas = np.asarray(etas, dtype=np.float64)
    ok = etas * curvature < 2.0
    d = len(coefficients) - 1
    if d >= 2:
        norms = _norms(coefficients)
        last = norms[d] * etas**d
        prev = norms[d - 1] * etas ** (d - 1)
        ok &= ~(last > LEGACY_RATIO * prev + 1e-12 * (1.0 + prev))
    return ok
