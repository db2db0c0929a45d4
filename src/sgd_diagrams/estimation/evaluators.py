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

Sampling plans.  The dense path uses blocks of G = (most nodes) groups of S = 1 sample: each
part's estimator is averaged over the B blocks of a *replication* (parts read disjoint groups, so
the product of the part averages stays unbiased).  App. C.6's group means with S > 1 are unbiased
too, but their variance grows like S when the means (G) are not small (S·{x}_{01} − (S−1)·{x}_{0|1}
multiplies an O(1/√S) fluctuation by S).  The matrix-free path (:func:`plan_groups`) instead uses
one block of G *large* groups per replication: a factor alone in its correlator block reads its
group's mean, factors sharing a block read one sample at a time (averaged), so no Bessel-type
correction is needed and products of means replace products of single samples — for G·ηG that
turns a variance tr(C²)/K into ≈ 4·GᵀCG/K.  Diagrams with few factors are repeated on disjoint
groups (:func:`_disjoint_relabelings`).  R independent replications give a mean and a standard
error std/√R of anything computed from them, linear or not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..diagrams.diagram import Diagram
from ..errors import SgdDiagramsError
from ..landscapes.conversions import is_exact, is_sampled
from ..values.estimators import Partition, block_groups, cumulant_estimator
from ..values.uvalue import UvalueEvaluator
from .tensor_sources import forward_over_reverse_error

__all__ = ["statistic_terms", "DenseEstimatedEvaluator", "MatrixFreeEstimatedEvaluator", "ReplicationValues",
           "replication_values", "SamplePlan",
           "plan_samples", "plan_groups", "replication_evaluators", "dense_evaluator", "matrix_free_evaluator",
           "choose_method", "draw_rows", "DENSE_MAX_DIM", "forward_over_reverse_error"]

DENSE_MAX_DIM = 24
_SAMPLE_STACK_ELEMENTS = 1 << 24  # per-sample messages of one vectorized call: ≤ 16 M numbers (64 MiB in float32)


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
    """A :class:`UvalueEvaluator` whose part cumulants are unbiased estimates from sample blocks.

    ``group_tensors[g][k]`` has shape (B,) + (dim,)*k: per block, the mean ∇^k l_x(θ0) over group g
    (S samples).  A part with node labels ``members`` reads the groups named by those labels, so the
    parts of one diagram use disjoint groups; its estimate is averaged over the B blocks.
    ``part_cumulant(degrees)`` (e.g. H for the propagators) reads groups 0, 1, ….
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
            B = self.group_tensors[0][0].shape[0]
            size = self.dim ** sum(degrees)
            step = max(1, int(4e6 // max(size, 1)))
            total = np.zeros((self.dim,) * sum(degrees))
            for lo in range(0, B, step):
                for tau, b in cumulant_estimator(members, self.S).items():
                    g = block_groups(tau)
                    factors = [self.group_tensors[g[m]][k][lo:lo + step] for m, k in zip(members, degrees, strict=True)]
                    total += b * _batched_outer(factors).sum(axis=0)
            self._estimates[key] = total / B
        return self._estimates[key]


def _batched_outer(factors: Sequence[np.ndarray]) -> np.ndarray:
    """Per-block outer product: (B, a…) ⊗ (B, b…) → (B, a…, b…)."""
    out = factors[0]
    for f in factors[1:]:
        out = out.reshape(out.shape + (1,) * (f.ndim - 1)) * f.reshape((f.shape[0],) + (1,) * (out.ndim - 1)
                                                                     + f.shape[1:])
    return out


class MatrixFreeEstimatedEvaluator:
    """Estimated uvalues by matrix-free contractions (scalar η only); callable like a UvalueEvaluator.

    ``blocks`` holds the rows of one replication, shape (B, G, S, …).  Each diagram's cumulants are
    expanded into correlators (Möbius, :func:`statistic_terms` with S = 1); a correlator's factor
    that is alone in its block reads its group's *mean* loss, factors sharing a block read one
    sample at a time and are averaged over the S samples (:func:`~.matrix_free.zipped_nodes`).
    Unbiased for every S; with S = 1 it is App. C.6's one-sample-per-group statistic.  Blocks are
    vectorized with ``torch.func.vmap`` (``chunk`` at a time) and averaged; the per-sample products run
    ``sample_chunk`` samples per call (default: all S, unless a stack of per-sample P-vectors would pass
    ~16 M numbers).  :meth:`prepare` evaluates many diagrams in one pass so they share messages.
    """

    def __init__(self, landscape, blocks, chunk: int = 64, relabel: bool = True,
                 sample_chunk: int | None = None) -> None:
        self.landscape = landscape
        self.blocks = blocks
        self.S = int(blocks.shape[2])
        self.chunk = chunk
        self.relabel = relabel
        self.sample_chunk = sample_chunk
        self.metric = None
        self._values: dict[tuple[Diagram, str], np.ndarray] = {}

    def per_block(self, diagrams: Sequence[Diagram], root: str = "loss"):
        """Each block's estimate of each diagram: a tensor (B, len(diagrams) × width), width = 1 or dim."""
        import torch
        from torch.func import vmap

        from .matrix_free import MessageCache, zipped_nodes

        land = self.landscape
        theta = land.init.detach()
        G = int(self.blocks.shape[1])
        width = 1 if root == "loss" else land.dim
        samples_per_call = self._samples_per_call()

        def one_block(block):
            cache = MessageCache([[(1.0, lambda th, r=block[g]: land.batch_loss(th, r))] for g in range(G)], theta)
            totals: list = [None] * len(diagrams)
            per_sample: list[tuple[int, float, Diagram, dict[int, int], frozenset[int]]] = []
            for i, d in enumerate(diagrams):
                terms = statistic_terms(d, 1, root)
                for coef, groups in (_disjoint_relabelings(terms, G) if self.relabel
                                     else [(c, dict(g)) for c, g in terms]):
                    zipped = zipped_nodes(d, groups)
                    if zipped and self.S > 1:
                        cache.prefetch(d, groups, zipped)
                        per_sample.append((i, coef, d, groups, zipped))
                        continue
                    term = coef * cache.contract(d, groups, root)
                    totals[i] = term if totals[i] is None else totals[i] + term
            if per_sample:
                def one_sample(rows):  # rows: (G, …), sample s of every group
                    losses = [lambda th, r=rows[g]: land.batch_loss(th, r.unsqueeze(0)) for g in range(G)]
                    sample_cache = MessageCache(None, theta, sample_losses=losses, shared=cache)
                    out = torch.cat([(coef * sample_cache.contract(d, groups, root, zipped)).reshape(-1)
                                     for _, coef, d, groups, zipped in per_sample])
                    return out

                zipped_means = vmap(one_sample, in_dims=1, chunk_size=samples_per_call)(block).mean(dim=0)
                for j, (i, *_rest) in enumerate(per_sample):
                    term = zipped_means[j * width:(j + 1) * width]
                    totals[i] = term if totals[i] is None else totals[i] + term
            return torch.cat([t.reshape(-1) for t in totals])

        out = vmap(one_block, chunk_size=self.chunk)(self.blocks).to(torch.float64)
        return out

    def _samples_per_call(self) -> int:
        """Samples per vectorized per-sample call: all S unless a stack of P-vectors would pass the memory budget.

        Each chunk of a ``vmap`` re-runs the whole tree traversal, and on small models the per-call overhead
        dominates the per-sample (zipped) work: 64 samples per call made tied parts ~2x slower than one call.
        """
        if self.sample_chunk is not None:
            return max(1, int(self.sample_chunk))
        blocks_per_call = max(1, min(int(self.chunk), int(self.blocks.shape[0])))
        budget = _SAMPLE_STACK_ELEMENTS // max(1, int(self.landscape.dim) * blocks_per_call)
        return max(1, min(self.S, budget))

    def prepare(self, diagrams: Sequence[Diagram], root: str = "loss") -> None:
        """Estimate all ``diagrams`` in one vectorized pass over the blocks."""
        todo = [d for d in diagrams if (d, root) not in self._values]
        if not todo:
            return
        flat = self.per_block(todo, root).mean(dim=0).cpu().numpy()
        width = 1 if root == "loss" else self.landscape.dim
        for i, d in enumerate(todo):
            v = flat[i * width:(i + 1) * width]
            self._values[(d, root)] = v[0] if root == "loss" else v

    def __call__(self, d: Diagram, root: str = "loss"):
        if (d, root) not in self._values:
            self.prepare([d], root)
        v = self._values[(d, root)]
        return float(v) if root == "loss" else np.asarray(v, dtype=np.float64)


def _disjoint_relabelings(terms, G: int) -> list[tuple[float, dict[int, int]]]:
    """Each term repeated on ⌊G/m⌋ disjoint sets of its m groups, weights 1/⌊G/m⌋ (still unbiased).

    A diagram with few factors (the order-0 root, G·G, …) thus reads every group, not just the
    first m: independent copies that divide its variance by ⌊G/m⌋ at negligible cost.
    """
    out = []
    for coef, groups in terms:
        labels = sorted(set(g for _, g in groups))
        m = len(labels)
        copies = max(1, G // max(m, 1))
        if copies == 1:
            out.append((coef, dict(groups)))
            continue
        for j in range(copies):
            index = {g: j * m + k for k, g in enumerate(labels)}
            out.append((coef / copies, {v: index[g] for v, g in groups}))
    return out


# -- sampling plans ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplePlan:
    """K samples split as R replications × B blocks × G groups × S samples (the rest unused)."""

    samples: int
    replications: int
    blocks: int
    groups: int
    per_group: int

    @property
    def used(self) -> int:
        return self.replications * self.blocks * self.groups * self.per_group


def plan_samples(samples: int, groups: int, replications: int | None = None, per_group: int = 1) -> SamplePlan:
    """Split ``samples`` into R replications (default 20, fewer if scarce) of blocks of ``groups`` groups."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise SgdDiagramsError(f"--samples must be a positive integer, got {samples!r}")
    if replications is not None and replications < 2:
        raise SgdDiagramsError(f"--replications must be at least 2, got {replications}")
    unit = groups * per_group
    R = replications if replications is not None else min(20, samples // max(unit, 1))
    if R < 2 or samples < R * unit:
        raise SgdDiagramsError(
            f"{samples} samples are too few: need at least {2 * unit} (2 replications of {groups} groups)"
        )
    return SamplePlan(samples, R, samples // (R * unit), groups, per_group)


def plan_groups(samples: int, groups: int, replications: int | None = None) -> SamplePlan:
    """K samples as R replications (default 20) of one block of G groups of S = K // (R·G) samples.

    The matrix-free statistic reads group means wherever a factor stands alone, so large groups
    cost no more than many small blocks and give products of means instead of products of samples.
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise SgdDiagramsError(f"--samples must be a positive integer, got {samples!r}")
    if replications is not None and replications < 2:
        raise SgdDiagramsError(f"--replications must be at least 2, got {replications}")
    R = replications if replications is not None else max(2, min(20, samples // (2 * groups)))
    S = samples // (R * groups)
    if S < 1:
        raise SgdDiagramsError(
            f"{samples} samples are too few: need at least {2 * groups} (2 replications of {groups} groups)"
        )
    return SamplePlan(samples, R, 1, groups, S)


def _is_torch_landscape(landscape) -> bool:
    return is_sampled(landscape)


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


def draw_rows(landscape, n: int, seed: int):
    """n data points sampled from the landscape's law (deterministic in ``seed``)."""
    if _is_torch_landscape(landscape):
        import torch

        gen = torch.Generator().manual_seed(int(seed))
        return landscape.sample_training_sets(gen, 1, n)[0].to(landscape.device)
    if is_exact(landscape):
        return landscape.sample_points(np.random.default_rng(seed), n)
    raise SgdDiagramsError(f"cannot sample data points from {getattr(landscape, 'name', landscape)!r}: not a landscape")


def _dense_tensors(landscape, blocks, max_degree: int) -> list[list[np.ndarray]]:
    """group_tensors[g][k] of shape (B,) + (dim,)*k from rows ``blocks`` (B, G, S, …)."""
    G = blocks.shape[1]
    if is_exact(landscape):
        tensors = landscape.derivative_tensors(max_degree)
        idx = np.asarray(blocks)
        return [[t[idx[:, g]].mean(axis=1) for t in tensors] for g in range(G)]
    import torch
    from torch.func import grad, jacfwd, vmap

    theta = landscape.init.detach()
    out = []
    for g in range(G):
        rows = blocks[:, g]

        def loss(th, r):
            return landscape.batch_loss(th, r)

        try:
            per = [vmap(loss, in_dims=(None, 0))(theta, rows)]
            fn = grad(loss)
            for _ in range(1, max_degree + 1):
                per.append(vmap(fn, in_dims=(None, 0))(theta, rows))
                fn = jacfwd(fn)
        except (RuntimeError, NotImplementedError) as exc:  # e.g. F.mse_loss has no forward-over-reverse rule
            raise forward_over_reverse_error(exc) from None
        out.append([t.detach().to(torch.float64).cpu().numpy() for t in per])
    return out


def dense_evaluator(landscape, blocks, max_degree: int, metric: np.ndarray | None = None) -> DenseEstimatedEvaluator:
    """The dense estimated evaluator on sample rows ``blocks`` of shape (B, G, S, …)."""
    return DenseEstimatedEvaluator(_dense_tensors(landscape, blocks, max_degree), int(blocks.shape[2]),
                                   landscape.dim, metric)


def matrix_free_evaluator(landscape, blocks, chunk: int = 64, relabel: bool = True,
                          sample_chunk: int | None = None) -> MatrixFreeEstimatedEvaluator:
    """The matrix-free estimated evaluator on sample rows ``blocks`` of shape (B, G, S, …).

    ``relabel`` repeats diagrams with few factors on disjoint groups (:func:`_disjoint_relabelings`);
    ``sample_chunk`` fixes the samples per per-sample call (default: chosen by memory, see the class).
    """
    return MatrixFreeEstimatedEvaluator(landscape, blocks, chunk, relabel, sample_chunk)


def _block_estimates(landscape, rows, chunk: int, diagrams: list[Diagram], root: str) -> np.ndarray:
    """One vectorized pass: the matrix-free estimates of ``diagrams`` on sample blocks ``rows`` (a shard)."""
    return matrix_free_evaluator(landscape, rows, chunk).per_block(diagrams, root).cpu().numpy()


BLOCK_ROWS_PER_PASS = 256
"""Sample rows per group times replications per vectorized pass of :func:`replication_values`."""


def replication_values(landscape, rows, diagrams: Sequence[Diagram], root: str, chunk: int = 64,
                       progress: bool = False, backend: str = "local", address: str | None = None,
                       workers: int = 1) -> dict[str, np.ndarray]:
    """Per-replication matrix-free estimates of ``diagrams`` on ``rows`` of shape (R, G, S, …): str(D) → (R,)
    or (R, dim).

    Several replications (one block each, ⌊256/S⌋ of them) share a vectorized pass, so the per-call cost of
    the traversal is paid once per pass, not once per replication.  Each pass is a shard: with
    ``backend="ray"`` shards run as Ray tasks, with ``workers=N`` in N local processes; a shard's rows are
    fixed before anything runs, so the estimates are identical to those of one process.
    """
    from ..backends import run_chunks
    from ..io import progress_bar

    R, S = int(rows.shape[0]), int(rows.shape[2])
    step = max(1, BLOCK_ROWS_PER_PASS // S)
    bar = progress_bar(R, "estimating diagram values", "replications", progress)
    starts = list(range(0, R, step))
    parts: dict[int, np.ndarray] = {}

    def finished(i: int, part: np.ndarray) -> None:
        parts[i] = part
        if bar is not None:
            bar.update(len(part))

    run_chunks(list(range(len(starts))), _block_estimates, (landscape,),
               lambda i: (rows[starts[i]:starts[i] + step], chunk, list(diagrams), root), finished, backend, address,
               workers)
    if bar is not None:
        bar.close()
    flat = np.concatenate([parts[i] for i in range(len(starts))], axis=0)
    width = 1 if root == "loss" else landscape.dim
    return {str(d): (flat[:, i] if root == "loss" else flat[:, i * width:(i + 1) * width])
            for i, d in enumerate(diagrams)}


class ReplicationValues:
    """One replication's row of :func:`replication_values`, callable like an evaluator (``ev(D, root=…)``)."""

    def __init__(self, values: dict[str, np.ndarray], r: int, root: str) -> None:
        self.values, self.r, self.root = values, r, root

    def __call__(self, d: Diagram, root: str = "loss"):
        if root != self.root:
            raise SgdDiagramsError(f"these values were estimated for root {self.root!r}, not {root!r}")
        v = self.values[str(d)][self.r]
        return float(v) if root == "loss" else np.asarray(v, dtype=np.float64)


def replication_evaluators(landscape, plan: SamplePlan, max_degree: int, seed: int = 0, method: str = "auto",
                           metric: np.ndarray | None = None, chunk: int = 64) -> Iterator:
    """One estimated evaluator per replication (independent samples; deterministic in ``seed``)."""
    method = choose_method(landscape, method)
    if metric is not None and method != "dense":
        raise SgdDiagramsError("a matrix learning rate (--metric) needs the dense estimation path (small dim)")
    rows = draw_rows(landscape, plan.used, seed)
    shape = (plan.replications, plan.blocks, plan.groups, plan.per_group) + tuple(rows.shape[1:])
    rows = rows.reshape(shape)
    for r in range(plan.replications):
        if method == "dense":
            yield dense_evaluator(landscape, rows[r], max_degree, metric)
        else:
            yield matrix_free_evaluator(landscape, rows[r], chunk)
