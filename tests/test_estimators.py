"""App. C.6 estimators: exact unbiasedness by enumerating every sample tuple of small discrete laws."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sgd_diagrams.values.cumulants import joint_cumulant, set_partitions_of
from sgd_diagrams.values.estimators import (
    block_groups,
    canonical_partition,
    correlator_estimator,
    cumulant_estimator,
    finer_partitions,
)


def _law(D: int, seed: int):
    rng = np.random.default_rng(seed)
    probs = np.array([0.5, 0.3, 0.2])
    values = rng.normal(size=(D, 3)) + 0.7  # x_d(ω) for ω in {0, 1, 2}
    return probs, values


def _exact_expectation(coeffs, D: int, S: int, probs, values) -> float:
    """E[Σ_τ c(τ) {x}_τ] over all 3^(D·S) sample tuples (D groups of S)."""
    tuples = np.array(list(itertools.product(range(3), repeat=D * S)))  # (n, D*S)
    weight = np.prod(probs[tuples], axis=1)
    total = np.zeros(len(tuples))
    for tau, c in coeffs.items():
        groups = block_groups(tau)
        stat = np.ones(len(tuples))
        for d in range(D):
            g = groups[d]
            stat = stat * values[d][tuples[:, g * S:(g + 1) * S]].mean(axis=1)
        total += c * stat
    return float(weight @ total)


def _correlator(mu, probs, values) -> float:
    return math.prod(float(probs @ np.prod(values[list(b)], axis=0)) for b in mu)


@pytest.mark.parametrize("D,S", [(2, 1), (2, 3), (3, 2), (3, 1), (4, 2)])
def test_correlator_estimator_is_exactly_unbiased(D, S):
    probs, values = _law(D, seed=D * 10 + S)
    for mu in map(canonical_partition, set_partitions_of(list(range(D)))):
        est = _exact_expectation(correlator_estimator(mu, S), D, S, probs, values)
        assert est == pytest.approx(_correlator(mu, probs, values), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("D,S", [(1, 2), (2, 2), (3, 2), (3, 3), (4, 2)])
def test_cumulant_estimator_is_exactly_unbiased(D, S):
    probs, values = _law(D, seed=100 + D)
    exact = float(joint_cumulant([values[d] for d in range(D)], probs))
    est = _exact_expectation(cumulant_estimator(tuple(range(D)), S), D, S, probs, values)
    assert est == pytest.approx(exact, rel=1e-10, abs=1e-12)


def test_bessel_special_case():
    # ⟨x0 x1⟩ = S{x}_{01} + (1 − S){x}_{0|1}  (eq. 6)
    assert correlator_estimator(((0, 1),), 5) == {((0, 1),): 5.0, ((0,), (1,)): -4.0}


def test_finer_partitions_counts():
    assert len(finer_partitions(((0, 1, 2, 3),))) == 15
    assert len(finer_partitions(((0, 2), (1, 3)))) == 4
