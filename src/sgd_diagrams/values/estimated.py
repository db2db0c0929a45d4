"""Estimated uvalues from sampled data, unbiased, with standard errors (seed 001 App. C.3, C.6).

A uvalue is Π_parts 𝒞[part] contracted along edges.  Each part's cumulant has the unbiased
estimator Σ_τ b(τ) {x}_τ of :mod:`.estimators` (τ ranging over partitions of the part), with
the factors of a τ-block reading the sample group labelled by the block's smallest node.
Parts are disjoint, so different parts read different groups and the product of their
estimators is unbiased for the product of cumulants: the uvalue estimator is

    Σ_{(τ_p)_p} Π_p b(τ_p) · {x}_{∪τ_p},

a linear combination of tree contractions of group-mean derivative tensors.  Two evaluators
compute those contractions:

* :class:`DenseEstimatedEvaluator` — materializes each group's mean tensors ∇^k L_g(θ0)
  (small dim; serves the resummed form too, through the exact machinery's ``part_tensor``);
* :class:`MatrixFreeEstimatedEvaluator` — nested Jacobian/Hessian-vector products
  (:mod:`.matrix_free`), never a P×P tensor.

One *replication* draws G = (most nodes) groups of S samples; R independent replications give
a mean and a standard error std/√R of anything computed linearly or not from them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce

import numpy as np

from ..diagrams.diagram import Diagram
from ..errors import SgdDiagramsError
from .estimators import Partition, block_groups, cumulant_estimator
from .uvalue import UvalueEvaluator

__all__ = ["statistic_terms", "DenseEstimatedEvaluator", "MatrixFreeEstimatedEvaluator", "SamplePlan",
           "plan_samples", "replication_evaluators", "dense_evaluator", "matrix_free_evaluator",
           "choose_method", "DENSE_MAX_DIM"]

DENSE_MAX_DIM = 24


@lru_cache(maxsize=4096)
def statistic_terms(d: Diagram, S: int, root: str = "loss") -> tuple[tuple[float, tuple[tuple[int, int], ...]], ...]:
    """The uvalue estimator of ``d`` as [(coefficient, ((node, group), …))], groups by node label."""
    parts = [m for m in d.part_members if not (root == "displacement" and 0 in m)]
    options: list[list[tuple[Partition, float]]] = [list(cumulant_estimator(tuple(m), S).items()) for m in parts]
    terms = []
    for combo in itertools.product(*options):
        coef = math.prod(b for _, b in combo)
        groups: dict[int, int] = {}
        for tau, _ in combo:
            groups.update(block_groups(tau))
        terms.append((coef, tuple(sorted(groups.items()))))
    return tuple(terms)


class DenseEstimatedEvaluator(UvalueEvaluator):
    """A :class:`UvalueEvaluator` whose part cumulants are unbiased estimates from sample groups.

    ``group_tensors[g][k]`` is the mean ∇^k l_x(θ0) over group g (S samples each).  A part with
    node labels ``members`` reads the groups named by those labels, so the parts of one diagram
    use disjoint groups.  ``part_cumulant(degrees)`` (e.g. H for the propagators) reads groups 0….
    """

    def __init__(self, group_tensors: Sequence[Sequence[np.ndarray]], S: int, dim: int,
                 metric: np.ndarray | None = None) -> None:
        self.group_tensors = [[np.asarray(t, dtype=np.float64) for t in g] for g in group_tensors]
        self.S = S
        self.dim = dim
        self.metric = None if metric is None else np.asarray(metric, dtype=np.float64)
        self.root_tensors = None
        self._estimates: dict[tuple, np.ndarray] = {}

    def part_tensor(self, d: Diagram, members: tuple[int, ...]) -> np.ndarray:
        return self._estimate(tuple(members), tuple(d.degree(v) for v in members))

    def part_cumulant(self, degrees: tuple[int, ...]) -> np.ndarray:
        return self._estimate(tuple(range(len(degrees))), tuple(degrees))

    def _estimate(self, members: tuple[int, ...], degrees: tuple[int, ...]) -> np.ndarray:
        key = (members, degrees)
        if key not in self._estimates:
            if max(members) >= len(self.group_tensors):
                raise SgdDiagramsError("internal: diagram has more nodes than sample groups")
            if max(degrees) >= len(self.group_tensors[0]):
                raise SgdDiagramsError("internal: derivative order exceeds the prepared maximum")
            total = None
            for tau, b in cumulant_estimator(members, self.S).items():
                g = block_groups(tau)
                factors = [self.group_tensors[g[m]][k] for m, k in zip(members, degrees, strict=True)]
                term = b * reduce(np.multiply.outer, factors)
                total = term if total is None else total + term
            self._estimates[key] = total
        return self._estimates[key]


class MatrixFreeEstimatedEvaluator:
    """Estimated uvalues by matrix-free contractions (scalar η only); callable like a UvalueEvaluator."""

    def __init__(self, cache, S: int) -> None:
        self.cache = cache
        self.S = S
        self.metric = None

    def __call__(self, d: Diagram, root: str = "loss"):
        total = None
        for coef, groups in statistic_terms(d, self.S, root):
            value = self.cache.contract(d, dict(groups), root)
            if root == "displacement":
                value = value.detach().to("cpu").double().numpy()
            term = coef * value
            total = term if total is None else total + term
        return float(total) if root == "loss" else np.asarray(total, dtype=np.float64)


# -- sampling plans ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplePlan:
    """K samples split as R replications × G groups × S samples (K − R·G·S left unused)."""

    samples: int
    replications: int
    groups: int
    per_group: int


def plan_samples(samples: int, groups: int, replications: int | None = None) -> SamplePlan:
    """Split ``samples`` into replications of ``groups`` groups (default R = 20, fewer if scarce)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise SgdDiagramsError(f"--samples must be a positive integer, got {samples!r}")
    R = replications if replications is not None else min(20, samples // max(groups, 1))
    if R < 2 or samples < R * groups:
        raise SgdDiagramsError(
            f"{samples} samples are too few: need at least {2 * groups} (2 replications of {groups} groups)"
        )
    return SamplePlan(samples, R, groups, samples // (R * groups))


def _is_torch_landscape(landscape) -> bool:
    return hasattr(landscape, "batch_loss") and hasattr(landscape, "sample_training_sets")


def choose_method(landscape, method: str = "auto") -> str:
    """'dense' (small dim or a numpy finite landscape) or 'matrix-free'."""
    if method not in ("auto", "dense", "matrix-free"):
        raise SgdDiagramsError(f"method must be auto, dense or matrix-free, got {method!r}")
    torch_ok = _is_torch_landscape(landscape)
    if method == "matrix-free" and not torch_ok:
        raise SgdDiagramsError("the matrix-free path needs a torch landscape (a built-in name or a model)")
    if method == "auto":
        return "dense" if (not torch_ok or landscape.dim <= DENSE_MAX_DIM) else "matrix-free"
    return method


def _draw_rows(landscape, n: int, seed: int):
    if _is_torch_landscape(landscape):
        import torch

        gen = torch.Generator().manual_seed(int(seed))
        return landscape.sample_training_sets(gen, 1, n)[0]
    if hasattr(landscape, "sample_points"):
        return landscape.sample_points(np.random.default_rng(seed), n)
    raise SgdDiagramsError(f"cannot sample data points from landscape {getattr(landscape, 'name', landscape)!r}")


def _dense_group_tensors(landscape, rows, max_degree: int) -> list[np.ndarray]:
    if hasattr(landscape, "derivative_tensors") and not _is_torch_landscape(landscape):
        tensors = landscape.derivative_tensors(max_degree)
        return [t[np.asarray(rows)].mean(axis=0) for t in tensors]
    import torch
    from torch.func import grad, jacfwd

    theta = landscape.init.detach()

    def loss(th):
        return landscape.batch_loss(th, rows)

    out = [float(loss(theta).detach())]
    fn = grad(loss)
    for _ in range(1, max_degree + 1):
        out.append(fn(theta).detach().to(torch.float64).numpy())
        fn = jacfwd(fn)
    return [np.asarray(t, dtype=np.float64) for t in out]


def _group_losses(landscape, rows, chunk: int):
    losses = []
    n = len(rows)
    for start in range(0, n, chunk):
        r = rows[start:start + chunk]
        losses.append((len(r) / n, lambda th, r=r: landscape.batch_loss(th, r)))
    return losses


def replication_evaluators(landscape, plan: SamplePlan, max_degree: int, seed: int = 0, method: str = "auto",
                           metric: np.ndarray | None = None, chunk: int = 512) -> Iterator:
    """One estimated evaluator per replication (independent samples; deterministic in ``seed``)."""
    method = choose_method(landscape, method)
    if metric is not None and method != "dense":
        raise SgdDiagramsError("a matrix learning rate (--metric) needs the dense estimation path (small dim)")
    rows = _draw_rows(landscape, plan.replications * plan.groups * plan.per_group, seed)
    S = plan.per_group
    for r in range(plan.replications):
        base = r * plan.groups * S
        group_rows = [rows[base + g * S: base + (g + 1) * S] for g in range(plan.groups)]
        if method == "dense":
            yield dense_evaluator(landscape, group_rows, max_degree, metric)
        else:
            yield matrix_free_evaluator(landscape, group_rows, chunk)


def dense_evaluator(landscape, group_rows: Sequence, max_degree: int,
                    metric: np.ndarray | None = None) -> DenseEstimatedEvaluator:
    """The dense estimated evaluator on explicit sample groups (all of one size S)."""
    tensors = [_dense_group_tensors(landscape, gr, max_degree) for gr in group_rows]
    return DenseEstimatedEvaluator(tensors, len(group_rows[0]), landscape.dim, metric)


def matrix_free_evaluator(landscape, group_rows: Sequence, chunk: int = 512) -> MatrixFreeEstimatedEvaluator:
    """The matrix-free estimated evaluator on explicit sample groups (all of one size S)."""
    from .matrix_free import MessageCache

    cache = MessageCache([_group_losses(landscape, gr, chunk) for gr in group_rows], landscape.init.detach())
    return MatrixFreeEstimatedEvaluator(cache, len(group_rows[0]))
