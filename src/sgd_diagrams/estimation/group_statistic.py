"""The per-sample + group-mean statistic for dense (or projected) derivative tensors (seed 001 App. C.6).

A part's joint cumulant is Σ_τ b(τ) Π_{β∈τ} E[Π_{m∈β} x_m] over partitions τ of its factors (Möbius,
:func:`~sgd_diagrams.values.estimators.cumulant_estimator` with S = 1).  Each block β of τ reads its
own group of S samples (the group labelled by β's smallest node), so different blocks — and different
parts of a diagram — read independent samples and the product of the block estimates is unbiased:

* a block with one factor reads the group's **mean** tensor (1/S Σ_s ∇^k l_s);
* a block of several factors reads the **average of products** 1/S Σ_s ⊗_m ∇^{k_m} l_s of one sample
  at a time (no Bessel-type correction, no variance growth with S).

This is the statistic of the matrix-free Taylor path (:mod:`.evaluators`), here for materialized
tensors: of dimension ``dim`` (the dense path, dim ≤ 24) or ``k`` (tensors projected on a Krylov
basis, :mod:`.krylov`).  The propagators' H (``part_cumulant((2,))``) is the mean Hessian over *all*
groups — the sample-mean Hessian of the replication.
"""

from __future__ import annotations

import string
from typing import Protocol

import numpy as np

from ..diagrams.diagram import Diagram
from ..errors import SgdDiagramsError
from ..values.estimators import block_groups, cumulant_estimator
from ..values.uvalue import PartTable, UvalueTable, contract_uvalue, contracted_parts

__all__ = ["TensorSource", "GroupStatisticEvaluator"]

_LETTERS = string.ascii_letters


class TensorSource(Protocol):
    """Derivative tensors of G groups of S samples each, in some fixed basis of dimension ``dim``."""

    dim: int
    groups: int

    def mean(self, g: int, degree: int) -> np.ndarray:
        """1/S Σ_s ∇^degree l_s over group g, shape (dim,)*degree."""

    def samples(self, g: int, degree: int) -> np.ndarray:
        """∇^degree l_s for every sample s of group g, shape (S,) + (dim,)*degree."""


class GroupStatisticEvaluator:
    """Unbiased estimates of part cumulants from a :class:`TensorSource` (a UvalueEvaluator's interface).

    Usable wherever the resummed or Taylor engines take ``evaluator=`` (``part_tensor``,
    ``part_cumulant``, ``metric``, ``root_tensors``, and calling it on a diagram for its uvalue).
    """

    def __init__(self, source: TensorSource, metric: np.ndarray | None = None) -> None:
        self.source = source
        self.dim = source.dim
        self.metric = None if metric is None else np.asarray(metric, dtype=np.float64)
        self.root_tensors = None
        self._cache: dict[tuple, np.ndarray] = {}

    def part_tensor(self, d: Diagram, members: tuple[int, ...]) -> np.ndarray:
        return self._estimate(tuple(members), tuple(d.degree(v) for v in members))

    def part_cumulant(self, degrees: tuple[int, ...]) -> np.ndarray:
        degrees = tuple(degrees)
        if degrees == (2,):
            key = ("hessian",)
            if key not in self._cache:
                self._cache[key] = np.mean([self.source.mean(g, 2) for g in range(self.source.groups)], axis=0)
            return self._cache[key]
        return self._estimate(tuple(range(len(degrees))), degrees)

    def _estimate(self, members: tuple[int, ...], degrees: tuple[int, ...]) -> np.ndarray:
        key = (members, degrees)
        if key in self._cache:
            return self._cache[key]
        if max(members) >= self.source.groups:
            raise SgdDiagramsError("internal: diagram has more nodes than sample groups")
        letters: dict[int, str] = {}
        pos = 0
        for m, k in zip(members, degrees, strict=True):
            letters[m] = _LETTERS[pos:pos + k]
            pos += k
        degree_of = dict(zip(members, degrees, strict=True))
        out = "".join(letters[m] for m in members)
        total = np.zeros((self.dim,) * sum(degrees))
        for tau, b in cumulant_estimator(members, 1).items():
            group = block_groups(tau)
            operands, specs = [], []
            for block in tau:
                operands.append(self._moment(group[block[0]], tuple(degree_of[m] for m in block)))
                specs.append("".join(letters[m] for m in block))
            total = total + b * (np.einsum(",".join(specs) + "->" + out, *operands) if operands else 1.0)
        self._cache[key] = total
        return total

    def _moment(self, g: int, degrees: tuple[int, ...]) -> np.ndarray:
        """E[⊗_m ∇^{k_m} l] from group g: its mean tensor for one factor, else the average of products."""
        key = ("moment", g, degrees)
        if key not in self._cache:
            if len(degrees) == 1:
                value = np.asarray(self.source.mean(g, degrees[0]), dtype=np.float64)
            else:
                specs, pos = [], 0
                for k in degrees:
                    specs.append("z" + _LETTERS[pos:pos + k])
                    pos += k
                tensors = [self.source.samples(g, k) for k in degrees]
                S = tensors[0].shape[0]
                value = np.einsum(",".join(specs) + "->" + _LETTERS[:pos], *tensors, optimize="greedy") / S
            self._cache[key] = value
        return self._cache[key]

    def __call__(self, d: Diagram, root: str = "loss"):
        """The estimated uvalue of ``d``: its part tensors estimated here, then contracted by the exact rules."""
        parts = {members: self.part_tensor(d, members) for members in contracted_parts(d, root)}
        return contract_uvalue(d, parts, self.metric, root)

    def prepare(self, diagrams, root: str = "loss") -> None:
        """Hand the source, at once, every tensor the estimates of ``diagrams`` and Ĥ will read.

        A source with ``prefetch(means, samples)`` (:class:`~.tensor_sources.TorchGroupSource`) then computes
        them batched over groups; the estimates are unchanged (the same tensors, read from its cache).
        """
        prefetch = getattr(self.source, "prefetch", None)
        if prefetch is None:
            return
        groups = self.source.groups
        means = {(g, 2) for g in range(groups)}  # Ĥ: every group's mean Hessian
        samples: set[tuple[int, int]] = set()
        for d in diagrams:
            for members in contracted_parts(d, root):
                if max(members) >= groups:
                    continue  # _estimate raises its error when asked
                for tau in cumulant_estimator(tuple(members), 1):
                    group = block_groups(tau)
                    for block in tau:
                        g = group[block[0]]
                        if len(block) == 1:
                            means.add((g, d.degree(block[0])))
                        else:
                            samples.update((g, d.degree(m)) for m in block)
        prefetch(means, samples)

    def part_table(self, diagrams, root: str = "loss") -> PartTable:
        """Every part tensor the uvalues of ``diagrams`` read, and Ĥ, estimated now: a table the theory only reads.

        The resummed engine (propagators of Ĥ, projected uvalues) then computes from numbers handed down,
        without calling back into the estimator; the tensors are the ones :meth:`part_tensor` gives.
        """
        parts = {}
        for d in diagrams:
            for members in contracted_parts(d, root):
                parts[(members, tuple(d.degree(v) for v in members))] = self.part_tensor(d, members)
        return PartTable(parts, self.dim, self.metric, self.part_cumulant((2,)))

    def table(self, diagrams, root: str = "loss") -> UvalueTable:
        """Every uvalue of ``diagrams`` estimated now, as a lookup table the theory only reads."""
        return UvalueTable({str(d): self(d, root) for d in diagrams})


def dense_group_evaluators(landscape, plan, max_degree: int, seed: int = 0, metric: np.ndarray | None = None):
    """One dense :class:`GroupStatisticEvaluator` per replication of ``plan`` (R × 1 × G × S rows)."""
    from ..landscapes.conversions import is_exact
    from .evaluators import draw_rows
    from .tensor_sources import ExactGroupSource, TorchGroupSource

    rows = draw_rows(landscape, plan.used, seed)
    rows = rows.reshape((plan.replications, plan.groups, plan.per_group) + tuple(rows.shape[1:]))
    tensors = landscape.derivative_tensors(max_degree) if is_exact(landscape) else None
    for r in range(plan.replications):
        source = ExactGroupSource(tensors, rows[r]) if tensors is not None else TorchGroupSource(landscape, rows[r])
        yield GroupStatisticEvaluator(source, metric)
