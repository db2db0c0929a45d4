"""The time sweep of a diagram: its states and one-step transitions (seed 001 App. A.3).

A history places every non-root node of a diagram D in a shaded cell (n, t), a
child strictly before its parent, the root at time T (seed 001 Def. 2, App.
A.3).  Sweeping t from 0 to T−1, the nodes placed so far form a *state*: a set
of non-root nodes closed under children.  One step moves a state s to a state
s' ⊇ s by placing some of the nodes *available* in s (unplaced, every child
placed) — possibly none.  Nodes of one part must share a row n, so a step that
places nodes of a *tied* part (a part with two or more non-root nodes) must
happen in a cell of that part's row; such transitions are grouped by their
*tied-count vector* (how many nodes of each tied part the step places).

Both consumers read the same :class:`HistorySweep`:

* :mod:`sgd_diagrams.schedules.histories` counts histories (Theorem 1's
  Σ_f 1/|Aut_f(D)|) with weight 1 per step: :meth:`HistorySweep.step_matrices`
  without ``q`` gives the integer idle matrix A = I + N₁ and the event matrices;
* :mod:`sgd_diagrams.theory.geometric` sums propagators over histories
  (seed 001 §"Re-summation cures large-T divergences"): each step is weighted by
  q_e for every edge e *open* during it (its child placed before the step, its
  parent after), so :meth:`HistorySweep.step_matrices` with ``q`` gives the
  weighted matrices, and Remark 1's continuous-time generator reads the open
  edges of a state with :meth:`HistorySweep.open_edges`.

States are bitmasks over nodes 1..m (bit v−1 for node v); edges are named by
their child c = 1..m (index c−1 in ``q``).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from ..diagrams.diagram import Diagram

__all__ = ["HistorySweep", "KernelMoves", "KernelSweep", "SweepTransition", "history_sweep", "kernel_moves",
           "kernel_sweep"]


class SweepTransition(NamedTuple):
    """One step of the sweep: state ``source`` → state ``target`` (indices into ``states``).

    ``tied_counts[j]`` is how many nodes of tied part j the step places; ``open_edges``
    lists the children c whose edge (c → parent) is open during the step.
    """

    source: int
    target: int
    tied_counts: tuple[int, ...]
    open_edges: tuple[int, ...]


class _SweepStates:
    """What every time sweep derives from its ``states`` and ``tied_parts``."""

    states: tuple
    tied_parts: tuple[tuple[int, ...], ...]

    @property
    def n_states(self) -> int:
        """Number of states (the size of every step matrix)."""
        return len(self.states)

    @property
    def zero_counts(self) -> tuple[int, ...]:
        """The tied-count vector of an idle step (no tied node placed)."""
        return (0,) * len(self.tied_parts)


@dataclass(frozen=True, eq=False)
class HistorySweep(_SweepStates):
    """States and transitions of the time sweep of one diagram (build with :func:`history_sweep`).

    ``states[i]`` is a bitmask of placed nodes, ``index`` its inverse, ``states[0] == 0``
    (nothing placed) and ``full`` indexes the state with every node placed.
    ``tied_parts`` lists the non-root nodes of each part with two or more of them;
    ``root_shared`` is True for a train root that shares its part (weight 1/N), and
    ``root_tied_index`` is the tied part holding the root's partners (None if none).
    """

    m: int
    parents: tuple[int, ...]
    states: tuple[int, ...]
    index: Mapping[int, int]
    full: int
    tied_parts: tuple[tuple[int, ...], ...]
    root_shared: bool
    root_tied_index: int | None
    transitions: tuple[SweepTransition, ...] = field(repr=False)

    def open_edges(self, before: int, after: int) -> tuple[int, ...]:
        """Edges open during a step from state bitmask ``before`` to ``after``: child placed, parent not yet.

        With ``before == after`` these are the edges open while the sweep rests in that state.
        """
        return _open_edges(self.parents, before, after)

    @cached_property
    def _counting(self) -> tuple[np.ndarray, dict[tuple[int, ...], np.ndarray]]:
        ns = self.n_states
        mats: dict[tuple[int, ...], np.ndarray] = {}
        for a, b, counts, _open in self.transitions:
            mats.setdefault(counts, np.zeros((ns, ns), dtype=np.int64))[a, b] += 1
        for mat in mats.values():
            mat.setflags(write=False)
        idle = mats.pop(self.zero_counts)
        return idle, mats

    @cached_property
    def idle_nilpotent(self) -> np.ndarray:
        """N₁ = A − I for the counting idle matrix A: steps placing ≥ 1 singleton node (nilpotent, N₁^{m+1} = 0)."""
        idle, _ = self._counting
        out = idle - np.eye(self.n_states, dtype=np.int64)
        out.setflags(write=False)
        return out

    def step_matrices(self, q: np.ndarray | None = None) -> tuple[np.ndarray, dict[tuple[int, ...], np.ndarray]]:
        """The idle matrix and the event matrices (keyed by nonzero tied-count vector) of one step.

        Without ``q`` every step has weight 1: read-only int64 (ns, ns) matrices counting
        transitions, exact for :func:`~sgd_diagrams.schedules.histories.history_count`.
        With ``q`` of shape (nA, m) (per-step factor of each edge, indexed by child − 1) a
        transition is weighted by Π_{e open} q_e and the matrices are float64 (nA, ns, ns).
        Event matrices are listed in the order their tied-count vectors first occur.
        """
        if q is None:
            idle, events = self._counting
            return idle, dict(events)
        q = np.asarray(q, dtype=np.float64)
        nA = q.shape[0]
        ns = self.n_states
        mats: dict[tuple[int, ...], np.ndarray] = {}
        for a, b, counts, open_edges in self.transitions:
            w = np.prod(q[:, [c - 1 for c in open_edges]], axis=1) if open_edges else np.ones(nA)
            mat = mats.setdefault(counts, np.zeros((nA, ns, ns)))
            mat[:, a, b] += w
        return mats.pop(self.zero_counts), mats


def _open_edges(parents: tuple[int, ...], before: int, after: int) -> tuple[int, ...]:
    return tuple(
        c for c in range(1, len(parents))
        if (before >> (c - 1)) & 1 and (parents[c] == 0 or not (after >> (parents[c] - 1)) & 1)
    )


def _build(d: Diagram) -> HistorySweep:
    m = d.n_edges  # non-root nodes are 1..m
    kids = d.children
    root_part = d.parts[0]
    members: dict[int, list[int]] = defaultdict(list)
    for v in range(1, m + 1):
        members[d.parts[v]].append(v)
    tied_parts = tuple(tuple(vs) for _, vs in sorted(members.items()) if len(vs) >= 2)
    root_tied_index = None
    for i, vs in enumerate(tied_parts):
        if d.parts[vs[0]] == root_part:
            root_tied_index = i
    tied_of = {v: i for i, vs in enumerate(tied_parts) for v in vs}
    child_mask = [0] * (m + 1)
    for v in range(1, m + 1):
        for c in kids[v]:
            child_mask[v] |= 1 << (c - 1)
    states = tuple(s for s in range(1 << m) if all(
        not (s >> (v - 1)) & 1 or (s & child_mask[v]) == child_mask[v] for v in range(1, m + 1)
    ))
    index = {s: i for i, s in enumerate(states)}
    parents = tuple(d.parents)
    transitions = []
    for s in states:
        avail = [v for v in range(1, m + 1)
                 if not (s >> (v - 1)) & 1 and (s & child_mask[v]) == child_mask[v]]
        for r in range(len(avail) + 1):
            for placed in itertools.combinations(avail, r):
                counts = [0] * len(tied_parts)
                for v in placed:
                    if v in tied_of:
                        counts[tied_of[v]] += 1
                target = s | sum(1 << (v - 1) for v in placed)
                transitions.append(SweepTransition(index[s], index[target], tuple(counts),
                                                   _open_edges(parents, s, target)))
    return HistorySweep(
        m=m, parents=parents, states=states, index=MappingProxyType(index), full=index[(1 << m) - 1],
        tied_parts=tied_parts, root_shared=not d.root_alone, root_tied_index=root_tied_index,
        transitions=tuple(transitions),
    )


@lru_cache(maxsize=4096)
def history_sweep(d: Diagram) -> HistorySweep:
    """The (cached) :class:`HistorySweep` of diagram ``d``: every state and one-step transition."""
    return _build(d)


# -- kernel-weighted sweep: per-step learning rates and heavy-ball momentum ----------------------
@dataclass(frozen=True, eq=False)
class KernelSweep(_SweepStates):
    """The time sweep with every edge weighted by k(s, u) = Σ_{t=s}^{u−1} m_t β^{t−s} (build with
    :func:`kernel_sweep`).

    With momentum, θ_u = θ_0 − η Σ_{s<u} k(s, u) g_s(θ_s), so in the Key Lemma's expansion the edge from
    a node at step s to its parent at step u (the root at u = T) carries k(s, u) instead of 1 (plain SGD
    with multipliers: k = m_s).  Write k(s, u) = Σ_a m_a β^{a−s} over an *application step*
    a ∈ [s, u): an edge is *pending* from its child's step until a (weight β per step), *applied* at a
    (weight m_a), and its parent may be placed only after a.  A state is (placed, applied) bitmasks
    with every placed node's children applied; one step places available nodes (children applied),
    then every pending edge either applies (m_t) or waits (β).  ``coefficients[counts][a, p]`` counts
    the transitions placing ``counts`` tied nodes that apply a edges and leave p pending, so the step
    matrix at time t is Σ_{a,p} m_t^a β^p coefficients[counts][a, p].  Without momentum (β = 0)
    only states with every placed edge applied survive (``momentum=False`` drops the others).
    """

    m: int
    states: tuple[tuple[int, int], ...]
    start: int
    full: int
    tied_parts: tuple[tuple[int, ...], ...]
    root_shared: bool
    momentum: bool
    diagram: Diagram = field(repr=False)

    @cached_property
    def coefficients(self) -> Mapping[tuple[int, ...], np.ndarray]:
        """{counts: (m+1, m+1, ns, ns) int64} (built on first use: (m+1)²·states² entries per key)."""
        return MappingProxyType(_kernel_coefficients(self.diagram, self.states, self.momentum))

    def beta_matrices(self, beta: float) -> dict[tuple[int, ...], np.ndarray]:
        """{counts: C (m+1, ns, ns)} with C[a] = Σ_p β^p coefficients[counts][a, p] (float64)."""
        pows = np.array([1.0] + [float(beta) ** p for p in range(1, self.m + 1)])
        return {c: np.einsum("apij,p->aij", coef, pows) for c, coef in self.coefficients.items()}


def _submasks(mask: int):
    sub = mask
    while True:
        yield sub
        if sub == 0:
            return
        sub = (sub - 1) & mask


def _child_masks(parents: tuple[int, ...]) -> list[int]:
    m = len(parents) - 1
    child_mask = [0] * (m + 1)
    for v in range(1, m + 1):
        if parents[v]:
            child_mask[parents[v]] |= 1 << (v - 1)
    return child_mask


def _kernel_states(d: Diagram, momentum: bool) -> tuple[tuple[int, int], ...]:
    """Every (placed, applied) pair with each placed node's children applied (applied = placed without momentum)."""
    base = history_sweep(d)
    child_mask = _child_masks(base.parents)
    states = []
    for S in base.states:
        for A in (_submasks(S) if momentum else (S,)):
            if all(not (S >> (v - 1)) & 1 or (A & child_mask[v]) == child_mask[v] for v in range(1, base.m + 1)):
                states.append((S, A))
    return tuple(states)


def _kernel_coefficients(d: Diagram, states: tuple[tuple[int, int], ...],
                         momentum: bool) -> dict[tuple[int, ...], np.ndarray]:
    base = history_sweep(d)
    m = base.m
    child_mask = _child_masks(base.parents)
    tied_of = {v: i for i, vs in enumerate(base.tied_parts) for v in vs}
    index = {s: i for i, s in enumerate(states)}
    ns = len(states)
    coefficients: dict[tuple[int, ...], np.ndarray] = {}
    for i, (S, A) in enumerate(states):
        avail = [v for v in range(1, m + 1) if not (S >> (v - 1)) & 1 and (A & child_mask[v]) == child_mask[v]]
        for r in range(len(avail) + 1):
            for placed in itertools.combinations(avail, r):
                counts = [0] * len(base.tied_parts)
                for v in placed:
                    if v in tied_of:
                        counts[tied_of[v]] += 1
                S2 = S | sum(1 << (v - 1) for v in placed)
                pending = S2 & ~A
                n_pending = bin(pending).count("1")
                for apply in (_submasks(pending) if momentum else (pending,)):
                    j = index[(S2, A | apply)]
                    a = bin(apply).count("1")
                    coef = coefficients.setdefault(tuple(counts), np.zeros((m + 1, m + 1, ns, ns), dtype=np.int64))
                    coef[a, n_pending - a, i, j] += 1
    for coef in coefficients.values():
        coef.setflags(write=False)
    zero = (0,) * len(base.tied_parts)
    return {zero: coefficients.pop(zero), **coefficients}


def _build_kernel(d: Diagram, momentum: bool) -> KernelSweep:
    base = history_sweep(d)
    states = _kernel_states(d, momentum)
    index = {s: i for i, s in enumerate(states)}
    full_mask = (1 << base.m) - 1
    return KernelSweep(m=base.m, states=states, start=index[(0, 0)], full=index[(full_mask, full_mask)],
                       tied_parts=base.tied_parts, root_shared=base.root_shared, momentum=momentum, diagram=d)


@lru_cache(maxsize=4096)
def kernel_sweep(d: Diagram, momentum: bool) -> KernelSweep:
    """The (cached) :class:`KernelSweep` of ``d``: with ``momentum`` the pending/applied edge automaton."""
    return _build_kernel(d, bool(momentum))


class KernelMoves(NamedTuple):
    """The kernel sweep's step factored into one move per node and per edge (build with :func:`kernel_moves`).

    States are (placed, applied) pairs (every valid pair, pending edges included).  One step is: for every
    node v, *place it or not* — ``place[v−1] = (src, dst, tied)``: the states where v is available and
    the states with v placed (pending), ``tied`` the index of v's tied part or −1 — then, for every edge c,
    *apply it or let it wait* — ``apply[c−1] = (pending, dst)``: the states where c is pending and the
    states with c applied.  Placing different nodes commutes (a newly placed node is pending, so it makes
    no parent available), and so does applying different edges, so the products of (I + P_v) and of
    (β·I_pending + m_t·A_c) give exactly the step matrices of :class:`KernelSweep` at O(states·m) cost.
    ``feedback[c−1] = (applied, dst)``: the states where edge c is applied but its parent not yet placed,
    and the same states with c pending again — the resummed heavy ball's curvature feedback (a
    displacement's gradient H·x re-entering the buffer, :mod:`sgd_diagrams.theory.geometric`).
    """

    m: int
    n_states: int
    start: int
    full: int
    tied_parts: tuple[tuple[int, ...], ...]
    root_shared: bool
    place: tuple[tuple[np.ndarray, np.ndarray, int], ...]
    apply: tuple[tuple[np.ndarray, np.ndarray], ...]
    feedback: tuple[tuple[np.ndarray, np.ndarray], ...]


@lru_cache(maxsize=4096)
def kernel_moves(d: Diagram) -> KernelMoves:
    """The (cached) :class:`KernelMoves` of ``d``."""
    ks = kernel_sweep(d, True)
    m = ks.m
    base = history_sweep(d)
    child_mask = _child_masks(base.parents)
    tied_of = {v: i for i, vs in enumerate(ks.tied_parts) for v in vs}
    index = {s: i for i, s in enumerate(ks.states)}
    place, apply, feedback = [], [], []
    for v in range(1, m + 1):
        bit = 1 << (v - 1)
        pairs = [(i, index[(S | bit, A)]) for i, (S, A) in enumerate(ks.states)
                 if not S & bit and (A & child_mask[v]) == child_mask[v]]
        place.append((np.array([a for a, _ in pairs], dtype=np.int64), np.array([b for _, b in pairs], dtype=np.int64),
                      tied_of.get(v, -1)))
        pairs = [(i, index[(S, A | bit)]) for i, (S, A) in enumerate(ks.states) if S & bit and not A & bit]
        apply.append((np.array([a for a, _ in pairs], dtype=np.int64), np.array([b for _, b in pairs], dtype=np.int64)))
        parent_bit = (1 << (base.parents[v] - 1)) if base.parents[v] else 0
        pairs = [(i, index[(S, A & ~bit)]) for i, (S, A) in enumerate(ks.states)
                 if A & bit and not S & parent_bit]
        feedback.append((np.array([a for a, _ in pairs], dtype=np.int64),
                         np.array([b for _, b in pairs], dtype=np.int64)))
    return KernelMoves(m, ks.n_states, ks.start, ks.full, ks.tied_parts, ks.root_shared, tuple(place), tuple(apply),
                       tuple(feedback))
