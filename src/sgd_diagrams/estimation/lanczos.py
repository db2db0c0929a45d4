"""Lanczos with full reorthogonalization: a Ritz basis of a symmetric operator from products H·v only.

Resummation (seed 001 §"Re-summation cures large-T divergences", Def. 4) needs functions of the
Hessian H applied to vectors — propagators (I − ηH)^{Δt−1}η and their geometric sums.  With k
Lanczos steps from a start vector v, V = [v_1 … v_k] is an orthonormal basis of the Krylov space
K_k(H, v) and T_k = VᵀHV is tridiagonal; writing T_k = S Θ Sᵀ, the Ritz vectors Z = VS and
Ritz values Θ give

    f(H) v ≈ Z f(Θ) Zᵀ v = ‖v‖ V S f(Θ) Sᵀ e_1,

exact once K_k is H-invariant (k ≥ the number of distinct eigenvalues that v sees; k = P always).
Only k vectors of P numbers are stored (memory O(P·k)); H enters through k products H·v.

Full reorthogonalization (two Gram–Schmidt passes against every previous vector) keeps V
orthonormal to rounding, so no spurious copies of converged Ritz values appear.  When the Krylov
space closes early (β ≈ 0, an invariant subspace) the iteration continues from a random vector
orthogonal to V, so k steps always give k orthonormal directions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import SgdDiagramsError

__all__ = ["RitzBasis", "lanczos_ritz", "apply_function"]


@dataclass
class RitzBasis:
    """Ritz values θ (ascending), Ritz vectors Z (P × k, orthonormal columns), and the Lanczos T_k."""

    values: np.ndarray
    vectors: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    restarts: int

    @property
    def k(self) -> int:
        return len(self.values)

    def negative(self, tol: float = 0.0) -> np.ndarray:
        """Ritz values below −tol·max|θ| (directions of negative curvature)."""
        scale = float(np.max(np.abs(self.values))) if self.k else 0.0
        return self.values[self.values < -tol * scale]


def _orthogonalize(w: np.ndarray, V: np.ndarray) -> np.ndarray:
    for _ in range(2):
        if V.shape[1]:
            w = w - V @ (V.T @ w)
    return w


def lanczos_ritz(hvp: Callable[[np.ndarray], np.ndarray], dim: int, k: int, start: np.ndarray | None = None,
                 seed: int = 0, breakdown: float = 1e-10) -> RitzBasis:
    """k Lanczos steps on the symmetric operator ``hvp`` (v ↦ Hv) from ``start``; the Ritz basis.

    ``start`` defaults to a random vector (``seed``); a zero start is replaced by one.  ``k`` is capped
    at ``dim``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SgdDiagramsError(f"the Krylov dimension must be a positive integer, got {k!r}")
    k = int(min(k, dim))
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(dim) if start is None else np.asarray(start, dtype=np.float64).reshape(-1).copy()
    if v.shape != (dim,):
        raise SgdDiagramsError(f"internal: Lanczos start has shape {v.shape}, expected ({dim},)")
    if not np.all(np.isfinite(v)):
        raise SgdDiagramsError("the Lanczos start vector (the mean gradient) is not finite; check the landscape")
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        v, norm = rng.standard_normal(dim), 0.0
        norm = float(np.linalg.norm(v))
    V = np.zeros((dim, k))
    alpha = np.zeros(k)
    beta = np.zeros(max(k - 1, 0))
    V[:, 0] = v / norm
    restarts = 0
    scale = 0.0
    for j in range(k):
        w = np.asarray(hvp(V[:, j]), dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(w)):
            raise SgdDiagramsError("a Hessian-vector product is not finite; check the landscape at theta0")
        alpha[j] = float(V[:, j] @ w)
        scale = max(scale, abs(alpha[j]), float(np.linalg.norm(w)))
        if j == k - 1:
            break
        w = _orthogonalize(w, V[:, : j + 1])
        b = float(np.linalg.norm(w))
        if b <= breakdown * max(scale, 1e-300):
            # invariant subspace: continue from a random direction orthogonal to V (β = 0 there)
            restarts += 1
            for _ in range(5):
                w = _orthogonalize(rng.standard_normal(dim), V[:, : j + 1])
                b_new = float(np.linalg.norm(w))
                if b_new > 1e-8:
                    break
            V[:, j + 1] = w / b_new
            beta[j] = 0.0
            continue
        beta[j] = b
        V[:, j + 1] = w / b
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    theta, S = np.linalg.eigh(T)
    return RitzBasis(theta, V @ S, alpha, beta, restarts)


def apply_function(basis: RitzBasis, f: Callable[[np.ndarray], np.ndarray], v: np.ndarray) -> np.ndarray:
    """f(H) v ≈ Z f(Θ) Zᵀ v (exact for v in an H-invariant Krylov space)."""
    Z = basis.vectors
    return Z @ (f(basis.values) * (Z.T @ np.asarray(v, dtype=np.float64)))
