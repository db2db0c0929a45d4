"""Unbiased estimators of multipoint correlators and joint cumulants (seed 001 App. C.6).

Factors x_0 … x_{D−1} are read from D independent *groups* of S samples each.  A
partition μ of [D] (blocks; each block labelled by its smallest element) defines the
batch-friendly statistic

    {x}_μ = Π_d A_{0≤s<S} x_d^{(μ(d)·S + s)},

each factor averaged over the group of its block.  Its expectation mixes the
correlators ⟨x⟩_τ = Π_{β∈τ} E[Π_{d∈β} x_d] of partitions τ finer than μ (eq. 7):

    E[S^D {x}_μ] = Σ_{τ≤μ} Π_{β∈μ} S!/(S − k_β(τ))! · ⟨x⟩_τ,   k_β(τ) = #blocks of τ inside β,

which the dynamic programme :func:`correlator_estimator` inverts: ⟨x⟩_μ = Σ_{τ≤μ} a_μ(τ) E[{x}_τ].
S = 1 is allowed (then a_μ is the indicator of μ: one sample per block).

A joint cumulant is Σ_σ (−1)^{|σ|−1}(|σ|−1)! ⟨x⟩_σ over all partitions σ of its factors
(:mod:`sgd_diagrams.values.cumulants`), so :func:`cumulant_estimator` gives its unbiased
estimator Σ_τ b(τ) {x}_τ.  Because every step is linear in the {x}_τ, the same coefficients
serve tensors contracted multilinearly (diagram values): the statistic {x}_τ is then the
contraction with each factor replaced by its group mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from .cumulants import set_partitions_of

__all__ = ["Partition", "canonical_partition", "finer_partitions", "correlator_estimator",
           "cumulant_estimator", "block_groups"]

Partition = tuple[tuple[int, ...], ...]


def canonical_partition(blocks: Sequence[Sequence[int]]) -> Partition:
    """Blocks sorted internally and by their smallest element (so block labels = minima)."""
    return tuple(sorted((tuple(sorted(b)) for b in blocks if len(b)), key=lambda b: b[0]))


def finer_partitions(mu: Partition) -> list[Partition]:
    """Every partition τ ≤ μ (each block of μ split arbitrarily), μ itself included."""
    per_block = [[canonical_partition(p) for p in set_partitions_of(list(b))] for b in mu]
    out: list[Partition] = [()]
    for options in per_block:
        out = [prev + opt for prev in out for opt in options]
    return [canonical_partition(p) for p in out]


def _falling(S: int, k: int) -> float:
    """(S−1)!/(S−k)!: zero when k > S."""
    if k > S:
        return 0.0
    return float(math.prod(range(S - k + 1, S)))


def _blocks_inside(tau: Partition, beta: tuple[int, ...]) -> int:
    members = set(beta)
    return sum(1 for b in tau if b[0] in members)


@lru_cache(maxsize=4096)
def correlator_estimator(mu: Partition, S: int) -> dict[Partition, float]:
    """{τ: a_μ(τ)} with ⟨x⟩_μ = Σ_τ a_μ(τ) E[{x}_τ] (App. C.6, solved by recursion over finer τ).

    ⟨x⟩_μ = S^{D−|μ|} E[{x}_μ] − Σ_{τ≺μ} Π_{β∈μ} (S−1)!/(S−k_β(τ))! · ⟨x⟩_τ.
    """
    if S < 1:
        raise ValueError("need S >= 1 samples per group")
    mu = canonical_partition(mu)
    D = sum(len(b) for b in mu)
    coeffs: dict[Partition, float] = {mu: float(S) ** (D - len(mu))}
    for tau in finer_partitions(mu):
        if tau == mu:
            continue
        c = math.prod(_falling(S, _blocks_inside(tau, beta)) for beta in mu)
        if c == 0.0:
            continue
        for rho, a in correlator_estimator(tau, S).items():
            coeffs[rho] = coeffs.get(rho, 0.0) - c * a
    return {k: v for k, v in coeffs.items() if v != 0.0}


@lru_cache(maxsize=4096)
def cumulant_estimator(members: tuple[int, ...], S: int) -> dict[Partition, float]:
    """{τ: b(τ)}: the joint cumulant of the factors ``members`` is Σ_τ b(τ) E[{x}_τ] (τ partitions of members)."""
    out: dict[Partition, float] = {}
    for sigma in set_partitions_of(list(members)):
        sigma = canonical_partition(sigma)
        coef = (-1) ** (len(sigma) - 1) * math.factorial(len(sigma) - 1)
        for tau, a in correlator_estimator(sigma, S).items():
            out[tau] = out.get(tau, 0.0) + coef * a
    return {k: v for k, v in out.items() if abs(v) > 0.0}


def block_groups(tau: Partition) -> dict[int, int]:
    """The group each factor reads under τ: the smallest member of its block."""
    return {d: b[0] for b in tau for d in b}
