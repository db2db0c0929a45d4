"""A finite landscape given directly by its derivative tensors at θ0 = 0 (polynomial losses).

l_j(θ) = a_j + g_j·θ + ½ θᵀH_jθ + ⅙ J_j[θ, θ, θ]: exact statistics of any dimension without symbolic
derivatives, for checking the matrix-free (Krylov) resummation against the dense engine.
"""

from __future__ import annotations

import itertools

import numpy as np

from sgd_diagrams.landscapes.finite import FiniteLandscape


class PolyLandscape(FiniteLandscape):
    def __init__(self, dim: int, n: int, seed: int, cubic: bool = True, lowest: float = 0.05,
                 noise: float = 0.2) -> None:
        rng = np.random.default_rng(seed)
        self.dim, self.name, self._n = dim, f"poly{dim}", n
        self.probs = rng.dirichlet(np.ones(n) * 5)
        Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        base = (Q * np.linspace(lowest, 1.5, dim)) @ Q.T
        A = rng.standard_normal((n, dim, dim)) / np.sqrt(dim)
        H = base[None] + noise * (A + A.transpose(0, 2, 1)) / 2
        J = np.zeros((n, dim, dim, dim))
        if cubic:
            raw = rng.standard_normal((n, dim, dim, dim)) * 0.05 / dim
            J = sum(raw.transpose((0,) + p) for p in itertools.permutations((1, 2, 3))) / 6
        self._t = [rng.standard_normal(n), rng.standard_normal((n, dim)) / np.sqrt(dim), H, J]
        self.init = np.zeros(dim)

    @property
    def n_points(self) -> int:
        return self._n

    def derivative_tensors(self, max_order: int) -> list[np.ndarray]:
        return [self._t[i] if i < 4 else np.zeros((self._n,) + (self.dim,) * i) for i in range(max_order + 1)]

    def mean_derivative(self, order: int) -> np.ndarray:
        return np.tensordot(self.probs, self.derivative_tensors(order)[order], axes=(0, 0))
