"""The landscape side of resummation: the propagator eigenbasis and projected uvalues.

Seed 001 §"Re-summation cures large-T divergences" (Def. 4, Theorem 1) replaces
every edge's η in uvalue(D) by the propagator (I − ηH)^{Δt−1} η of an edge
spanning Δt steps, with H = E[∇²l_x(θ0)].  With a matrix learning rate η·P,
write P^{1/2} H P^{1/2} = U Λ Uᵀ and W = P^{1/2} U, so that

    (I − ηPH)^{Δ−1} ηP = η Σ_i (1 − ηλ_i)^{Δ−1} w_i w_iᵀ.

An rvalue is then Σ over eigen-labels i_e of the edges of a *projected uvalue*
U_D[i] (cumulants contracted with the w's; independent of η and of the
schedule) times a geometric history sum S_D(i) over q = 1 − ηλ
(:mod:`sgd_diagrams.theory.geometric`).  This module computes (λ, W) and U_D.
"""

from __future__ import annotations

import string

import numpy as np

from ..diagrams import Diagram
from ..errors import SgdDiagramsError
from ..values.uvalue import UvalueEvaluator

__all__ = ["eigen_propagator_basis", "projected_uvalue"]

_LETTERS = string.ascii_letters


def eigen_propagator_basis(hessian: np.ndarray, metric: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(λ, W) with PH = W diag(λ) W⁻¹ and P = W Wᵀ, so (I−ηPH)^k ηP = η Σ_i (1−ηλ_i)^k w_i w_iᵀ."""
    H = np.asarray(hessian, dtype=np.float64)
    H = (H + H.T) / 2
    if metric is None:
        lam, U = np.linalg.eigh(H)
        return lam, U
    P = np.asarray(metric, dtype=np.float64)
    evals, evecs = np.linalg.eigh((P + P.T) / 2)
    if np.any(evals <= 0):
        raise SgdDiagramsError("the metric must be positive definite for resummation")
    root = evecs @ np.diag(np.sqrt(evals)) @ evecs.T
    lam, U = np.linalg.eigh(root @ H @ root)
    return lam, root @ U


def projected_uvalue(evaluator: UvalueEvaluator, d: Diagram, W: np.ndarray, root: str = "loss") -> np.ndarray:
    """U_D[i_1..i_d] (…, a for displacement): uvalue with edge e's η replaced by w_{i_e} w_{i_e}ᵀ."""
    n = d.n_nodes
    x = {c: _LETTERS[3 * (c - 1)] for c in range(1, n)}
    y = {c: _LETTERS[3 * (c - 1) + 1] for c in range(1, n)}
    i = {c: _LETTERS[3 * (c - 1) + 2] for c in range(1, n)}
    slots = {v: ("" if v == 0 else x[v]) + "".join(y[c] for c in d.children[v]) for v in range(n)}
    operands, specs = [], []
    out = "".join(i[c] for c in range(1, n))
    for members in d.part_members:
        if root == "displacement" and 0 in members:
            out += y[d.children[0][0]]
            continue
        operands.append(evaluator.part_tensor(d, members))
        specs.append("".join(slots[v] for v in members))
    for c in range(1, n):
        operands += [W, W]
        specs += [x[c] + i[c], y[c] + i[c]]
    if not operands:
        return np.asarray(evaluator.part_cumulant((0,)))
    return np.einsum(",".join(specs) + "->" + out, *operands, optimize="greedy")
