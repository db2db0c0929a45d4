"""What a Krylov space does not see: the complement's contribution to a resummed prediction (issue 24).

Seed 001 Theorem 1 resummed (§"Re-summation cures large-T divergences", Def. 4) sums linkless diagrams
whose edges carry the propagator (I − ηH)^{Δt−1}η: a chain of links (lone Hessian nodes) between two
nodes, summed, is that propagator.  The matrix-free path resums with H restricted to a Krylov space
span(Z) (:mod:`.krylov`); this module adds back everything outside it, to the prediction's order.

**The split.**  Write R_Z for the resummed value of SGD restricted to θ0 + span(Z) (every tensor projected
on Z, propagators Z (I − ηΘ)^{Δt−1} Zᵀ η) and, for any scalar curvature μ,

    F_μ[U] = Σ_{m=1}^{d} Σ_{D: m edges, links allowed} sign · (−η)^m · S_D(q_μ) · Σ_{A ⊆ links(D)} (−μ)^{|A|} U(D∖A),

the series reorganized around H = μI + V: every edge carries the scalar propagator q_μ^{Δt−1}η·I
(q_μ = 1 − ημ, geometric history sums S_D as for one eigen-label), every link carries V = H − μI — a link
taking −μI is the diagram with that link reduced, D∖A — and everything is expanded to d edges.  F_μ[U] is
therefore the Taylor polynomial of order d plus O(η^{d+1}) for any μ.  The prediction is

    R_Z + (F_μ[U_full] − F_μ[U_Z]),

with U_full the diagram values in the whole space and U_Z those of the projected tensors (the ones R_Z is
made of).  Every term of R_Z agrees with U_Z's Taylor polynomial to order d, so the sum is the full Taylor
polynomial + O(η^{d+1}): **exact to the series order for every k**.  At k = dim, Q = I − ZZᵀ = 0 and
U_Z = U_full (a rotation), so the bracket vanishes: **exactly the resummed answer**.  The bracket, the
*complement term*, collects every labelling of a diagram in which some edge or link reaches outside
span(Z) — the complement itself and the cross terms between the two spaces — expanded to order d around
the single curvature μ instead of resummed.  Choosing μ as the curvature the gradient noise sees in the
complement, μ = Σ_s (Qu_s)ᵀĤ(Qu_s) / Σ_s ‖Qu_s‖² over noise vectors u_s = ∇l_s − Ĝ
(:func:`complement_curvature`), makes the leading noise diagram's expansion decay like the complement's
directions do (for μ = 0 the bracket is the bare Taylor series).  ``docs/resummation.md`` has the
derivation and the measurements.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ..diagrams import Diagram, Quantity
from ..schedules.grid import Schedule
from ..theory.geometric import continuous_history_sum, geometric_history_sum
from ..theory.geometric_prefixes import continuous_prefix_sums, geometric_prefix_sums

__all__ = ["reduced", "scalar_resummed", "complement_values", "complement_sum", "complement_sum_curve",
           "complement_difference", "complement_values_needed",
           "complement_curvature", "complement_term", "complement_diagrams", "complement_links", "COMPLEMENT_LINKS",
           "NOISE_PROBES"]

COMPLEMENT_LINKS = {1: 3, 2: 3, 3: 1}
"""Extra V-links carried in the complement's expansion by prediction order (0 from order 4: cost)."""


def complement_links(order: int) -> int:
    """The default number of extra V-links of the complement term at ``order`` (:data:`COMPLEMENT_LINKS`)."""
    return COMPLEMENT_LINKS.get(order, 0)


NOISE_PROBES = 8
"""Noise vectors ∇l_s − Ĝ (of group 0) whose Hessian products give the complement's curvature μ."""


def reduced(d: Diagram, links: tuple[int, ...]) -> Diagram:
    """``d`` with the links ``links`` reduced (each replaced by an edge joining its child to its parent)."""
    for v in sorted(links, reverse=True):  # reducing v renumbers only the nodes after it
        d = d.reduce_link(v)
    return d


def _history_sum(d: Diagram, schedule: Schedule, eta: float, mu: float, continuous: bool) -> float:
    """S_D with one scalar curvature μ on every edge (q = 1 − ημ; Remark 1's e^{−ημΔt} if ``continuous``)."""
    if continuous:
        return float(continuous_history_sum(d, schedule, np.full((1, d.n_edges), eta * mu))[0])
    return float(geometric_history_sum(d, schedule, np.full((1, d.n_edges), 1.0 - eta * mu))[0])


def complement_diagrams(q: Quantity, order: int, extra_links: int = 0) -> list[Diagram]:
    """The diagrams of F_μ: ≤ ``order`` edges, plus up to ``extra_links`` more links on them (no more cumulants).

    A diagram with m > order edges enters only when its linkless reduction has ≤ ``order`` edges: its
    extra edges are V-links, the next terms of the propagators' expansion around μ (not new physics).
    """
    return [d for d, _ in _link_expansions(q, order, extra_links)]


@lru_cache(maxsize=64)
def _link_expansions(q: Quantity, order: int, extra_links: int) -> tuple[tuple[Diagram, tuple[tuple[int, Diagram],
                                                                                                     ...]], ...]:
    """Every diagram D of F_μ with (|A|, D∖A) for each subset A of its links (the order of the sums below).

    Pure diagram combinatorics — no schedule, no values — so it is built once per (quantity, order, links)
    and shared by every replication of an estimate (it was most of a replication's Python time).
    """
    out = []
    for m in range(1, order + extra_links + 1):
        for d in q.diagrams(m):
            if m > order and d.linkless_reduction().n_edges > order:
                continue
            links = d.links()
            terms = tuple((size, reduced(d, subset)) for size in range(len(links) + 1)
                          for subset in itertools.combinations(links, size))
            out.append((d, terms))
    return tuple(out)


def complement_values_needed(q: Quantity, order: int, extra_links: int = 0) -> list[Diagram]:
    """Every diagram whose value :func:`scalar_resummed` reads: those of :func:`complement_diagrams` and each
    with any subset of its links reduced (in a stable order, each once)."""
    out: dict[Diagram, None] = {}
    for _, terms in _link_expansions(q, order, extra_links):
        for _, r in terms:
            out.setdefault(r, None)
    return list(out)


def complement_values(values_of: Callable[[Diagram], np.ndarray | float], q: Quantity, order: int, mu: float,
                      extra_links: int = 0) -> list[tuple[Diagram, np.ndarray]]:
    """The schedule-independent part of F_μ[U]: Σ_{A ⊆ links(D)} (−μ)^{|A|} U(D∖A) for every diagram of F_μ.

    Computed once per set of diagram values; :func:`complement_sum` then evaluates F_μ on any schedule
    (every prefix of a training curve) from these numbers alone.
    """
    out = []
    for d, terms in _link_expansions(q, order, extra_links):
        value = 0.0
        for size, r in terms:
            value = value + (-mu) ** size * np.asarray(values_of(r), dtype=np.float64)
        out.append((d, np.asarray(value, dtype=np.float64)))
    return out


def complement_sum(values: list[tuple[Diagram, np.ndarray]], q: Quantity, schedule: Schedule, etas: np.ndarray,
                   mu: float, continuous: bool = False) -> np.ndarray:
    """F_μ at each η from :func:`complement_values`: Σ_D sign·(−η)^m·S_D(q_μ)·value_D on ``schedule``."""
    width = values[0][1].shape if values else ()
    out = np.zeros((len(etas),) + tuple(width))
    for e, eta in enumerate(etas):
        for d, value in values:
            out[e] += q.sign * (-eta) ** d.n_edges * _history_sum(d, schedule, float(eta), mu, continuous) * value
    return out


def complement_sum_curve(values: list[tuple[Diagram, np.ndarray]], q: Quantity, schedule: Schedule,
                         etas: np.ndarray, mu: float, steps: np.ndarray, continuous: bool = False) -> np.ndarray:
    """:func:`complement_sum` on ``schedule.prefix(t)`` for every t in ``steps``: (len(steps), len(etas)[, width]).

    Every prefix's history sums S_D(q_μ) from one sweep (:mod:`sgd_diagrams.theory.geometric_prefixes`),
    all η at once; step 0 (no step taken) is 0.
    """
    etas = np.asarray(etas, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.int64)
    width = values[0][1].shape if values else ()
    out = np.zeros((len(steps), len(etas)) + tuple(width))
    for d, value in values:
        rates = np.repeat((etas * mu)[:, None], d.n_edges, axis=1)  # ημ on every edge, one row per η
        S = (continuous_prefix_sums(d, schedule, rates, steps) if continuous
             else geometric_prefix_sums(d, schedule, 1.0 - rates, steps))  # (steps, η)
        scale = q.sign * (-etas) ** d.n_edges * S
        out += scale.reshape(scale.shape + (1,) * len(width)) * value
    return out


def scalar_resummed(values_of: Callable[[Diagram], np.ndarray | float], q: Quantity, schedule: Schedule,
                    order: int, etas: np.ndarray, mu: float, continuous: bool = False,
                    extra_links: int = 0) -> np.ndarray:
    """F_μ[U] (module docstring) from the diagram values ``values_of(D)``, edges 1..order, at each η.

    Order 0 is left out: l(θ0) is the same in every basis.  Shape (len(etas),) or (len(etas), width).
    ``extra_links``: also the diagrams of :func:`complement_diagrams` with that many more V-links.
    """
    return complement_sum(complement_values(values_of, q, order, mu, extra_links), q, schedule, etas, mu,
                          continuous)


def complement_curvature(noise: np.ndarray, Z: np.ndarray, hvp: Callable[[np.ndarray], np.ndarray],
                         ritz_values: np.ndarray, probes: int = NOISE_PROBES,
                         with_captured: bool = False) -> tuple[float, float | None]:
    """(μ, captured curvature or None) from gradient-noise vectors ``noise`` (S, P) and Ĥ products.

    μ = Σ (Qu)ᵀĤ(Qu) / Σ ‖Qu‖² over the first ``probes`` noise vectors (Q = I − ZZᵀ), clipped to
    [0, max Ritz value]: the curvature the complement's gradient noise sees.  ``with_captured``: also the
    captured curvature Σ (Zᵀu)ᵀΘ(Zᵀu) / Σ uᵀĤu, the share of the noise-weighted curvature tr(ĤC) inside
    span(Z) (ZᵀĤZ = Θ), at ``probes`` more products.  Where ``hvp`` has a ``rows`` attribute (M ↦ Ĥ on
    every row of M, as the torch path's), the products are taken in one batched call.
    """
    u = np.asarray(noise[:probes], dtype=np.float64)
    a = u @ Z
    inside = float(np.sum(a * a * np.asarray(ritz_values)[None, :]))
    Qu = u - a @ Z.T
    probed = np.concatenate([Qu, u]) if with_captured else Qu
    rows = getattr(hvp, "rows", None)  # Ĥ on many vectors at once, where the operator offers it
    products = rows(probed) if rows is not None and len(probed) else [hvp(w) for w in probed]
    num = total = den = 0.0
    for i, (v, w) in enumerate(zip(u, Qu, strict=True)):
        Hw = products[i]
        num += float(w @ Hw)
        den += float(w @ w)
        if with_captured:
            total += float(v @ products[len(Qu) + i])
    top = max(float(np.max(ritz_values)) if len(ritz_values) else 0.0, 0.0)
    mu = min(max(num / den, 0.0), top) if den > 0 else 0.0
    if not with_captured:
        return mu, None
    return mu, (inside / total if total > 0 else 1.0)


def complement_difference(full, projected, Z: np.ndarray, q: Quantity, order: int, mu: float,
                          extra_links: int = 0) -> list[tuple[Diagram, np.ndarray]]:
    """:func:`complement_values` of U_full − U_Z: the schedule-independent numbers of the complement term.

    ``full`` and ``projected`` are evaluators (``ev(D, root=…)``) of the diagram values in the whole space
    and on the tensors projected on Z; a displacement's projected part is lifted by Zᵀ.  Estimated once per
    replication, they give the complement term on every schedule (:func:`complement_sum`).
    """
    root = q.root
    if hasattr(full, "prepare"):  # the matrix-free estimator: every diagram in one vectorized pass
        full.prepare(complement_diagrams(q, order, extra_links), root)
    outside = complement_values(lambda d: full(d, root=root), q, order, mu, extra_links)
    inside = complement_values(lambda d: projected(d, root=root), q, order, mu, extra_links)
    lift = (lambda v: v @ Z.T) if root == "displacement" else (lambda v: v)
    return [(d, a - lift(b)) for (d, a), (_, b) in zip(outside, inside, strict=True)]


def complement_term(full, projected, Z: np.ndarray, q: Quantity, schedule: Schedule, order: int,
                    etas: np.ndarray, mu: float, continuous: bool = False, extra_links: int = 0) -> np.ndarray:
    """F_μ[U_full] − F_μ[U_Z]: the complement and cross terms of span(Z), to the series order.

    ``full`` and ``projected`` as in :func:`complement_difference` (F_μ is linear in U, so the difference of
    the values is summed once).
    """
    return complement_sum(complement_difference(full, projected, Z, q, order, mu, extra_links), q, schedule,
                          np.asarray(etas, dtype=np.float64), mu, continuous)
