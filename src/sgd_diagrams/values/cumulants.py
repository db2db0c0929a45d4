"""Joint cumulants of derivative tensors (the outline rule, seed 001 App. A.4).

Each part of a diagram becomes the joint cumulant 𝒞[X_1 ⋯ X_m] of its nodes'
derivative tensors X_i = ∇^{k_i} l_x (one shared data point x).  Cumulants
come from moments by Möbius inversion over set partitions (Rota 1964):

    𝒞[X_1 ⋯ X_m] = Σ_π (−1)^{|π|−1} (|π|−1)! Π_{B∈π} E[⊗_{i∈B} X_i],

the closed form of the paper's recursion 𝒞[Π x_i] = E[Π x_i] − Σ_P Π 𝒞.
For one node this is the mean (G, H, J, …); for two gradients it is C; for
three gradients the skew S.  Index order: the slots of X_1, then X_2, ….
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["set_partitions_of", "joint_moment", "joint_cumulant"]

_LETTERS = string.ascii_letters


def set_partitions_of(items: Sequence[int]) -> Iterator[list[list[int]]]:
    """Every set partition of ``items`` as a list of blocks."""
    items = list(items)
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in set_partitions_of(rest):
        for i in range(len(smaller)):
            yield smaller[:i] + [[first] + smaller[i]] + smaller[i + 1 :]
        yield [[first]] + smaller


def joint_moment(samples: Sequence[np.ndarray], probs: np.ndarray) -> np.ndarray:
    """E[X_1 ⊗ ⋯ ⊗ X_m] where ``samples[i]`` has shape (K,) + slots_i and x has law ``probs``."""
    if not samples:
        return np.asarray(1.0)
    specs, out, pos = [], "", 1
    for x in samples:
        letters = _LETTERS[pos : pos + x.ndim - 1]
        pos += x.ndim - 1
        specs.append("a" + letters)
        out += letters
    return np.einsum("a," + ",".join(specs) + "->" + out, probs, *samples, optimize=True)


def joint_cumulant(samples: Sequence[np.ndarray], probs: np.ndarray) -> np.ndarray:
    """The joint cumulant tensor of the random tensors ``samples`` (Möbius formula above)."""
    m = len(samples)
    ndims = [x.ndim - 1 for x in samples]
    offsets = np.cumsum([0] + ndims)
    total = None
    for blocks in set_partitions_of(range(m)):
        coef = (-1) ** (len(blocks) - 1) * math.factorial(len(blocks) - 1)
        factors, specs = [], []
        for block in blocks:
            factors.append(joint_moment([samples[i] for i in block], probs))
            specs.append("".join(_LETTERS[offsets[i] : offsets[i] + ndims[i]] for i in block))
        out = _LETTERS[: offsets[-1]]
        term = np.einsum(",".join(specs) + "->" + out, *factors) if factors else np.asarray(1.0)
        total = coef * term if total is None else total + coef * term
    return total
