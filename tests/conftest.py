"""Shared fixtures and generators for the test suite (small finite landscapes, random schedules)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from sgd_diagrams.landscapes import FiniteLandscape  # noqa: E402
from sgd_diagrams.schedules import from_batches, gd, sgd  # noqa: E402

_TEMPLATES = [
    "{a}*t{i}",
    "{a}*t{i}*t{j}",
    "{a}*t{i}**2",
    "{a}*t{i}**3",
    "{a}*exp({b}*t{i})",
    "{a}*sin(t{i} + {b})",
    "{a}*cos(t{i}*t{j} + {b})",
    "{a}*log(2 + t{i}**2)",
    "{a}*tanh(t{i} - {b})",
    "{a}*sqrt(1 + t{i}**2)",
]


def random_landscape(seed: int, dim: int | None = None, points: int | None = None,
                     polynomial: bool = False) -> FiniteLandscape:
    """A random finite landscape with 1-3 weights, 2-3 points, non-polynomial losses."""
    rng = np.random.default_rng(seed)
    dim = dim or int(rng.integers(1, 4))
    K = points or int(rng.integers(2, 4))
    templates = _TEMPLATES[:4] if polynomial else _TEMPLATES
    losses = []
    for _ in range(K):
        terms = []
        for _ in range(int(rng.integers(2, 5))):
            tpl = templates[int(rng.integers(len(templates)))]
            terms.append(tpl.format(a=round(float(rng.normal()), 2), b=round(float(rng.normal()) / 2, 2),
                                    i=int(rng.integers(dim)), j=int(rng.integers(dim))))
        losses.append(" + ".join(terms))
    probs = rng.dirichlet(np.ones(K) * 2)
    probs = probs / probs.sum()
    init = np.round(rng.normal(size=dim) * 0.5, 2)
    return FiniteLandscape(dim, init, probs, losses)


def random_schedule(seed: int, max_N: int = 4, max_T: int = 6):
    """A random small schedule of one of the supported kinds."""
    rng = np.random.default_rng(seed)
    kind = int(rng.integers(6))
    N = int(rng.integers(1, max_N + 1))
    if kind == 0:
        return sgd(N, 1, 1)
    if kind == 1:
        return sgd(N, 1, int(rng.integers(2, 3)))
    if kind == 2:
        divisors = [b for b in range(1, N + 1) if N % b == 0]
        B = int(rng.choice(divisors))
        E = int(rng.integers(1, max(2, max_T * B // N) + 1))
        E = max(1, min(E, max_T * B // N or 1))
        return sgd(N, B, E, shuffle_seed=int(rng.integers(100)))
    if kind == 3:
        return gd(N, int(rng.integers(1, 4)))
    if kind == 4:
        return sgd(N, 1, 2, shuffle_seed=int(rng.integers(100)))
    T = int(rng.integers(1, max_T + 1))
    batches = []
    for _ in range(T):
        size = int(rng.integers(1, N + 1))
        batches.append(sorted(rng.choice(N, size=size, replace=False).tolist()))
    return from_batches(N, batches)


seeds = st.integers(min_value=0, max_value=10**6)


@pytest.fixture(scope="session")
def curved_finite() -> FiniteLandscape:
    """Two points, two weights, non-quadratic losses (C and H vary with θ)."""
    return FiniteLandscape(2, [0.3, -0.2], [0.3, 0.7],
                           ["t0**2*(1+t1) + exp(t1)*t0 + sin(t1)", "0.5*t1**2 - t0 + t0*t1**2 + cos(t0)"],
                           name="curved")


@pytest.fixture(scope="session")
def chladni_finite() -> FiniteLandscape:
    """1-D landscape with a slope and a θ-dependent gradient covariance (GDC's test bed)."""
    return FiniteLandscape(1, [0.5], [0.5, 0.5],
                           ["0.5*t0**2 + t0 + (t0 + 0.5*t0**2)", "0.5*t0**2 + t0 - (t0 + 0.5*t0**2)"],
                           name="chladni")


def tiny_torch(dim_hidden: int = 4):
    """A tanh MLP 5 → ``dim_hidden`` → 3 on 64 fixed random points, float64, cross-entropy."""
    import torch

    from sgd_diagrams.landscapes.torch_models import TorchLandscape

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=gen)
    model = torch.nn.Sequential(torch.nn.Linear(5, dim_hidden), torch.nn.Tanh(), torch.nn.Linear(dim_hidden, 3))
    return TorchLandscape(model.double(), torch.nn.functional.cross_entropy, x, y, name="tiny")


@pytest.fixture()
def one_thread():
    """Tiny models: one torch thread (many threads on a busy machine cost far more than they give)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
