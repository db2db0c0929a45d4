"""Un-resummed diagram values (uvalues) on finite-support landscapes, exactly.

Seed 001 Def. 3 and App. A.4: a diagram's uvalue applies

* the **node rule** — a node of degree k becomes ∇^k l_x (the root: ∇^k s);
* the **outline rule** — each part becomes the joint cumulant of its nodes'
  tensors (:mod:`sgd_diagrams.values.cumulants`);
* the **edge rule** — each edge contracts one index of the child with one
  index of the parent through η^{μν}.

η is a scalar (take ``metric=None``: the value is the coefficient of η^d) or
a symmetric matrix, an inverse metric (``metric`` = that matrix; the value is
then computed with η = metric, still to be multiplied by scalar^d).

For a loss root (test or train) the root is an ordinary node reading a data
point: alone in its part its cumulant is the mean E[∇^k l_x].  For a
displacement root (s(θ) = θ − θ0) the root tensor is the identity: the value
is a vector whose free index is the root end of the root's single edge.
"""

from __future__ import annotations

import string
from functools import lru_cache

import numpy as np

from ..diagrams.diagram import Diagram
from ..errors import SgdDiagramsError
from .cumulants import joint_cumulant

__all__ = ["uvalue", "PartTable", "UvalueEvaluator", "UvalueTable", "contract_uvalue", "contracted_parts"]

_LETTERS = string.ascii_letters


class UvalueEvaluator:
    """Evaluates uvalues of many diagrams on one landscape, caching part cumulants."""

    def __init__(self, landscape, max_degree: int, metric: np.ndarray | None = None,
                 root_tensors: list[np.ndarray] | None = None) -> None:
        self.landscape = landscape
        self.tensors = landscape.derivative_tensors(max_degree)
        self.probs = np.asarray(landscape.probs, dtype=np.float64)
        self.dim = landscape.dim
        if metric is not None:
            metric = np.asarray(metric, dtype=np.float64)
            if metric.shape != (self.dim, self.dim):
                raise SgdDiagramsError(
                    f"metric must be a {self.dim}x{self.dim} matrix (the landscape's dim), got shape {metric.shape}"
                )
            if not np.allclose(metric, metric.T):
                raise SgdDiagramsError("metric (the inverse-metric learning rate η) must be symmetric")
        self.metric = metric
        self.root_tensors = root_tensors
        self._cumulants: dict[tuple[int, ...], np.ndarray] = {}

    def part_tensor(self, d: Diagram, members: tuple[int, ...]) -> np.ndarray:
        """The outline rule for one part; a lone root uses ``root_tensors`` (∇^k s) when given."""
        if self.root_tensors is not None and members == (0,):
            k = d.degree(0)
            if k >= len(self.root_tensors):
                raise SgdDiagramsError("internal: root derivative order exceeds the prepared maximum")
            return self.root_tensors[k]
        if self.root_tensors is not None and 0 in members:
            raise SgdDiagramsError("a custom measured quantity needs its root alone in its part (test diagrams)")
        return self.part_cumulant(tuple(d.degree(v) for v in members))

    def part_cumulant(self, degrees: tuple[int, ...]) -> np.ndarray:
        """Joint cumulant of ∇^{k_1} l_x, …, ∇^{k_m} l_x (slots in that order)."""
        if degrees not in self._cumulants:
            if max(degrees) >= len(self.tensors):
                raise SgdDiagramsError("internal: derivative order exceeds the prepared maximum")
            self._cumulants[degrees] = joint_cumulant([self.tensors[k] for k in degrees], self.probs)
        return self._cumulants[degrees]

    def __call__(self, d: Diagram, root: str = "loss") -> float | np.ndarray:
        """uvalue(d): a float for ``root='loss'``, a vector for ``root='displacement'``."""
        return contract_uvalue(d, {members: self.part_tensor(d, members) for members in contracted_parts(d, root)},
                               self.metric, root)


def contracted_parts(d: Diagram, root: str = "loss") -> tuple[tuple[int, ...], ...]:
    """The parts of ``d`` whose tensors its uvalue contracts (all but a displacement root), checked, in order."""
    if root not in ("loss", "displacement"):
        raise SgdDiagramsError(f"root must be 'loss' or 'displacement', got {root!r}")
    if 2 * d.n_edges + 1 > len(_LETTERS):
        raise SgdDiagramsError("diagram too large to contract")
    out = []
    for members in d.part_members:
        if root == "displacement" and 0 in members:
            if len(members) != 1 or len(d.children[0]) != 1:
                raise SgdDiagramsError(f"{d} is not a displacement diagram: the root must be alone with one child")
            continue
        out.append(tuple(members))
    return tuple(out)


def contract_uvalue(d: Diagram, parts: dict[tuple[int, ...], np.ndarray], metric: np.ndarray | None = None,
                    root: str = "loss") -> float | np.ndarray:
    """The edge rule: contract the part tensors (``parts[members]``, for :func:`contracted_parts`) along d's edges.

    Whoever supplies the tensors — exact cumulants (:class:`UvalueEvaluator`) or estimates from samples
    (``sgd_diagrams.estimation``) — computes them first and hands them down here.
    """
    n = d.n_nodes
    # letters: edge e (child c) has child-side letter and parent-side letter
    child_side = {c: _LETTERS[2 * (c - 1)] for c in range(1, n)}
    parent_side = {
        c: (_LETTERS[2 * (c - 1) + 1] if metric is not None else child_side[c]) for c in range(1, n)
    }
    slots = {}
    for v in range(n):
        s = "" if v == 0 else child_side[v]
        s += "".join(parent_side[c] for c in d.children[v])
        slots[v] = s
    operands, specs = [], []
    output = ""
    for members in d.part_members:
        if root == "displacement" and 0 in members:
            output = parent_side[d.children[0][0]]
            continue
        operands.append(parts[tuple(members)])
        specs.append("".join(slots[v] for v in members))
    if metric is not None:
        for c in range(1, n):
            operands.append(metric)
            specs.append(child_side[c] + parent_side[c])
    if root == "displacement" and metric is None:
        # free index: keep it as the child's letter (η = identity).
        output = child_side[d.children[0][0]]
    expr = ",".join(specs) + "->" + output
    value = np.einsum(expr, *operands, optimize=_greedy_path(expr, tuple(o.shape for o in operands))) \
        if operands else np.asarray(1.0)
    return float(value) if root == "loss" else np.asarray(value, dtype=np.float64)


@lru_cache(maxsize=4096)
def _greedy_path(expr: str, shapes: tuple[tuple[int, ...], ...]) -> list:
    """numpy's greedy contraction order for ``expr`` on operands of these shapes, found once per (expr, shapes).

    ``np.einsum(..., optimize=path)`` then runs the very contractions ``optimize="greedy"`` would (identical
    numbers) without searching again: the search was most of a small contraction's time, paid per replication
    and per diagram by the estimates.
    """
    dummies = [np.broadcast_to(np.zeros(()), shape) for shape in shapes]
    return np.einsum_path(expr, *dummies, optimize="greedy")[0]


def uvalue(d: Diagram, landscape, metric: np.ndarray | None = None, root: str = "loss"):
    """The uvalue of one diagram on a finite landscape (see module docstring)."""
    ev = UvalueEvaluator(landscape, max(d.degree(v) for v in range(d.n_nodes)), metric)
    return ev(d, root=root)


class UvalueTable:
    """Uvalues already computed, by canonical notation: an evaluator that only looks them up.

    Estimation hands one per replication to the theory (``evaluator=``), so the theory reads numbers and never
    calls back into the code that estimated them.
    """

    def __init__(self, values: dict[str, float | np.ndarray]) -> None:
        self.values = values

    def __call__(self, d: Diagram, root: str = "loss") -> float | np.ndarray:
        value = self.values[str(d)]
        return float(value) if root == "loss" else value


class PartTable(UvalueEvaluator):
    """A :class:`UvalueEvaluator` reading part cumulants computed elsewhere (e.g. one replication of saved statistics).

    The outline rule reads ``parts[(node labels, degrees)]`` exactly as the dense group-statistic
    evaluator computed it, and ``part_cumulant((2,))`` the saved sample-mean Hessian Ĥ, so uvalues,
    projected uvalues and the propagators are the same numbers; ``metric`` contracts edges through a
    matrix learning rate.
    """

    def __init__(self, parts: dict, dim: int, metric: np.ndarray | None = None,
                 hessian: np.ndarray | None = None) -> None:
        self.parts = parts
        self.dim = dim
        self.metric = None if metric is None else np.asarray(metric, dtype=np.float64)
        self.hessian = hessian
        self.root_tensors = None

    def part_tensor(self, d: Diagram, members: tuple[int, ...]) -> np.ndarray:
        return self._get(tuple(members), tuple(d.degree(v) for v in members))

    def part_cumulant(self, degrees: tuple[int, ...]) -> np.ndarray:
        if tuple(degrees) == (2,) and self.hessian is not None:
            return self.hessian
        return self._get(tuple(range(len(degrees))), tuple(degrees))

    def _get(self, members: tuple[int, ...], degrees: tuple[int, ...]) -> np.ndarray:
        try:
            return self.parts[(members, degrees)]
        except KeyError:
            raise SgdDiagramsError(
                f"the statistics lack the part cumulant of nodes {list(members)} with degrees {list(degrees)}; "
                "measure them again at a higher order"
            ) from None
