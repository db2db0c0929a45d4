"""Derivative tensors of sample groups, dense or projected on a basis Z (seed 001 App. C.6).

A :class:`~.group_statistic.TensorSource` gives, for G groups of S samples, each sample's tensors
∇^k l_s(θ0) and the group means.  With an orthonormal basis Z (P × k) the tensors are *projected*:
∇^k l_s[Z, …, Z], i.e. the derivatives at α = 0 of the restricted loss φ_s(α) = l_s(θ0 + Zα) —
k numbers per index instead of P, computed without any P × P object (forward-over-reverse
products along the columns of Z: a degree-k tensor costs k^{deg−1} directional passes).

* :class:`ExactGroupSource` — a finite landscape's exact per-point tensors, indexed by sampled
  points (optionally projected);
* :class:`TorchGroupSource` — a torch landscape's per-sample derivatives by ``torch.func``.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import numpy as np

from ..errors import SgdDiagramsError

__all__ = ["project_tensor", "ExactGroupSource", "TorchGroupSource"]

_LETTERS = string.ascii_lowercase


def project_tensor(t: np.ndarray, Z: np.ndarray, batch: bool = True) -> np.ndarray:
    """t[(n,) a, b, …] contracted with Z on every weight index: (n,) + (k,)*deg."""
    deg = t.ndim - (1 if batch else 0)
    if deg == 0:
        return t
    src = ("z" if batch else "") + _LETTERS[:deg]
    dst = ("z" if batch else "") + "".join(c.upper() for c in _LETTERS[:deg])
    specs = [src] + [c + c.upper() for c in _LETTERS[:deg]]
    return np.einsum(",".join(specs) + "->" + dst, t, *([Z] * deg), optimize="greedy")


class ExactGroupSource:
    """Per-point exact tensors ``tensors[deg]`` (n_points,)+(P,)*deg read at sampled ``rows`` (G, S)."""

    def __init__(self, tensors: list[np.ndarray], rows: np.ndarray, Z: np.ndarray | None = None) -> None:
        self.rows = np.asarray(rows)
        self.groups = int(self.rows.shape[0])
        self.Z = Z
        self.dim = int(tensors[1].shape[1]) if Z is None else int(Z.shape[1])
        self._tensors = tensors
        self._projected: dict[int, np.ndarray] = {}

    def _points(self, degree: int) -> np.ndarray:
        if degree >= len(self._tensors):
            from ..errors import SgdDiagramsError

            raise SgdDiagramsError("internal: derivative order exceeds the prepared maximum")
        if self.Z is None:
            return self._tensors[degree]
        if degree not in self._projected:
            used = np.unique(self.rows)
            full = np.zeros((self._tensors[degree].shape[0],) + (self.dim,) * degree)
            full[used] = project_tensor(self._tensors[degree][used], self.Z)
            self._projected[degree] = full
        return self._projected[degree]

    def samples(self, g: int, degree: int) -> np.ndarray:
        return self._points(degree)[self.rows[g]]

    def mean(self, g: int, degree: int) -> np.ndarray:
        return self.samples(g, degree).mean(axis=0)

    def hvp(self, v: np.ndarray) -> np.ndarray:
        """The sample-mean Hessian (every group) times v, without forming it."""
        flat = self.rows.reshape(-1)
        return np.einsum("nab,b->a", self._tensors[2][flat], v) / len(flat)

    def mean_gradient(self) -> np.ndarray:
        return self._tensors[1][self.rows.reshape(-1)].mean(axis=0)


MEAN_PAIRS_PER_CALL = 8192
"""Bound on (sample, tangent) pairs of one vmapped call of :meth:`TorchGroupSource.prefetch`'s group means
(groups × S × k^(degree−1)); more groups than that are taken in chunks."""

SAMPLE_CHUNK_BYTES = 16 * 2**20
"""Bound on a vmapped per-sample call's largest intermediate (below the 32 MiB mmap threshold the CLI sets)."""


def _derivative(fn: Callable, alpha0, degree: int):
    """∇^degree fn at alpha0 (forward-over-reverse nesting)."""
    from torch.func import grad, jacfwd

    if degree == 0:
        return fn(alpha0)
    f = grad(fn)
    for _ in range(degree - 1):
        f = jacfwd(f)
    try:
        return f(alpha0)
    except (RuntimeError, NotImplementedError) as exc:  # e.g. F.mse_loss has no forward-over-reverse rule
        raise forward_over_reverse_error(exc) from None


def forward_over_reverse_error(exc: BaseException) -> SgdDiagramsError:
    """The one-line error for a torch loss whose higher derivatives torch cannot take (both estimation paths)."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return SgdDiagramsError(
        f"estimating diagram values needs forward-over-reverse derivatives of the loss, which failed "
        f"({first[:160]}); write loss_fn with elementwise torch operations, e.g. "
        "lambda out, y: ((out - y) ** 2).mean()"
    )


class TorchGroupSource:
    """Per-sample derivatives of a torch landscape's loss on sample ``rows`` (G, S, …), projected on Z.

    ``Z`` (P × k, the landscape's dtype) or None for the dense tensors.  Group means differentiate the
    group's mean loss (one batched pass per direction); per-sample tensors are vmapped in ``chunk``s.
    """

    def __init__(self, landscape, rows, Z=None, chunk: int = 32) -> None:
        import torch

        self.landscape = landscape
        self.rows = rows
        self.groups = int(rows.shape[0])
        self.theta = landscape.init.detach()
        self.Z = None if Z is None else torch.as_tensor(Z, dtype=self.theta.dtype, device=self.theta.device)
        self.dim = landscape.dim if Z is None else int(self.Z.shape[1])
        self.chunk = chunk
        self._means: dict[tuple[int, int], np.ndarray] = {}
        self._samples: dict[tuple[int, int], np.ndarray] = {}

    def _chunk(self, degree: int) -> int:
        """Samples per vmapped call: at most ``chunk``, and few enough that the largest intermediate — a
        parameter-space gradient per sample and per forward tangent, P·k^(degree−1) numbers — stays under
        :data:`SAMPLE_CHUNK_BYTES` (allocations above glibc's mmap threshold are returned to the kernel and
        page-faulted in again on every call: half the CPU of an order-3 convnet estimate at chunk 32)."""
        per_sample = self.theta.numel() * max(self.dim, 1) ** max(degree - 1, 0) * self.theta.element_size()
        return int(max(1, min(self.chunk, SAMPLE_CHUNK_BYTES // max(per_sample, 1))))

    def _alpha0(self):
        import torch

        return torch.zeros(self.dim, dtype=self.theta.dtype, device=self.theta.device)

    def _restricted(self, rows) -> Callable:
        land, theta, Z = self.landscape, self.theta, self.Z
        if Z is None:
            return lambda a: land.batch_loss(theta + a, rows)
        return lambda a: land.batch_loss(theta + Z @ a, rows)

    def prefetch(self, means, samples) -> None:
        """Compute now the group means ``means`` and per-sample tensors ``samples`` (sets of (group, degree))
        that the estimates will read: one vmapped call per degree over all those groups, not one per group.

        Each call pays torch.func's set-up (transforms, decompositions) once; per group it was most of a
        replication's fixed cost (``benchmarks/bench_estimation_scaling.py``).  The tensors are the ones
        :meth:`mean` and :meth:`samples` give, to float rounding; what is already cached is not recomputed.
        """
        import torch
        from torch.func import vmap

        alpha0 = self._alpha0()
        S, tail = int(self.rows.shape[1]), tuple(self.rows.shape[2:])
        for degree in sorted({d for _, d in means}):
            groups = sorted(g for g, d in means if d == degree and (g, d) not in self._means)
            if len(groups) < 2:
                continue  # one group: :meth:`mean` computes it as before

            def group_mean(rows, degree=degree):
                return _derivative(self._restricted(rows), alpha0, degree)

            per_group = S * max(self.dim, 1) ** max(degree - 1, 0)  # (sample, tangent) pairs of one group's pass
            chunk = max(1, MEAN_PAIRS_PER_CALL // per_group)
            index = torch.as_tensor(groups, device=self.rows.device)
            value = vmap(group_mean, chunk_size=chunk)(self.rows[index])
            value = value.detach().to(torch.float64).cpu().numpy()
            for i, g in enumerate(groups):
                self._means[(g, degree)] = value[i]
        for degree in sorted({d for _, d in samples}):
            groups = sorted(g for g, d in samples if d == degree and (g, d) not in self._samples)
            if len(groups) < 2:
                continue

            def one(row, degree=degree):
                return _derivative(self._restricted(row.unsqueeze(0)), alpha0, degree)

            index = torch.as_tensor(groups, device=self.rows.device)
            flat = self.rows[index].reshape((len(groups) * S,) + tail)
            value = vmap(one, chunk_size=self._chunk(degree))(flat)
            value = value.detach().to(torch.float64).cpu().numpy()
            value = value.reshape((len(groups), S) + value.shape[1:])
            for i, g in enumerate(groups):
                self._samples[(g, degree)] = value[i]

    def mean(self, g: int, degree: int) -> np.ndarray:
        import torch

        key = (g, degree)
        if key not in self._means:
            value = _derivative(self._restricted(self.rows[g]), self._alpha0(), degree)
            self._means[key] = value.detach().to(torch.float64).cpu().numpy()
        return self._means[key]

    def samples(self, g: int, degree: int) -> np.ndarray:
        import torch
        from torch.func import vmap

        key = (g, degree)
        if key not in self._samples:
            alpha0 = self._alpha0()

            def one(row):
                return _derivative(self._restricted(row.unsqueeze(0)), alpha0, degree)

            value = vmap(one, chunk_size=self._chunk(degree))(self.rows[g])
            self._samples[key] = value.detach().to(torch.float64).cpu().numpy()
        return self._samples[key]
