"""Plain batched evaluation of trials (one forward per trial for test loss, accuracy and train loss) equals
the generic ``vmap`` evaluation to float rounding, for the built-in convnet and for a user model whose loss
averages itself; and the convnet's fast tanh / cross-entropy equal torch's to rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.landscapes.torch_models import TorchLandscape, cross_entropy_per_sample, fast_tanh
from sgd_diagrams.optimizers.trials import trial_metrics


def _paths(land, theta, rows, eval_rows=None):
    a = trial_metrics(land, theta, rows, eval_rows=eval_rows, plain_eval=False)
    b = trial_metrics(land, theta, rows, eval_rows=eval_rows, plain_eval=True)
    return a, b


@pytest.mark.parametrize("subsample", [False, True])
def test_convnet_plain_equals_vmap(subsample):
    torch.manual_seed(0)
    land = resolve_landscape("convnet-digits", eval_size=300)
    gen = torch.Generator().manual_seed(1)
    theta = land.init + 0.5 * torch.randn(6, land.dim, generator=gen)
    theta[2, 7] = float("inf")  # a diverged trial: NaN in both paths
    rows = land.sample_training_sets(gen, 6, 7)
    eval_rows = torch.rand(6, 300, generator=gen).argsort(dim=1)[:, :40] if subsample else None
    a, b = _paths(land, theta, rows, eval_rows)
    assert set(a) == set(b)
    for key in a:
        assert np.array_equal(np.isnan(a[key]), np.isnan(b[key])), key
        np.testing.assert_allclose(b[key], a[key], rtol=2e-5, atol=2e-6, equal_nan=True, err_msg=key)
    assert np.isnan(b["test-loss"][2]) and np.isfinite(b["test-loss"][[0, 1, 3, 4, 5]]).all()
    # the test loss varies across trials, so the comparison is not between constants
    assert np.nanstd(b["test-loss"]) > 1e-3


def test_user_model_with_averaging_loss():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64) + 0.1 * torch.randn(50, generator=gen,
                                                                                           dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1), torch.nn.Flatten(0))
    land = TorchLandscape(model.double(), F.mse_loss, x, y, eval_size=40)
    theta = land.init + 0.3 * torch.randn(5, land.dim, generator=gen, dtype=torch.float64)
    rows = land.sample_training_sets(gen, 5, 6)
    for eval_rows in (None, torch.rand(5, 40, generator=gen).argsort(dim=1)[:, :9]):
        a, b = _paths(land, theta, rows, eval_rows)
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=1e-14, err_msg=key)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=40), st.integers(0, 2))
def test_fast_tanh_and_cross_entropy_match_torch(values, target):
    x = torch.tensor(values, dtype=torch.float32)
    assert torch.allclose(fast_tanh(x), torch.tanh(x), rtol=0, atol=3e-7)
    logits = torch.tensor(values[: 3 * (len(values) // 3)] or [0.0, 0.0, 0.0], dtype=torch.float64).reshape(-1, 3)
    targets = torch.full((logits.shape[0],), target)
    assert torch.allclose(cross_entropy_per_sample(logits, targets),
                          F.cross_entropy(logits, targets, reduction="none"), rtol=1e-12, atol=1e-12)
