"""PyTorch-model landscapes on digits run end to end; Xavier pull-back; other formats via files."""

from __future__ import annotations

import math

import numpy as np
import torch

from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.landscapes.torch_models import TanhConvNet, standard_normal_init
from sgd_diagrams.optimizers import make_optimizer, simulate
from sgd_diagrams.schedules import sgd


def test_logistic_and_convnet_digits_end_to_end():
    for name in ("logistic-digits", "convnet-digits"):
        land = resolve_landscape(name, eval_size=300)
        opts = [make_optimizer(n) for n in ("sgd", "gd", "gdc")]
        res = simulate(land, sgd(6, 2, 1), opts, 0.05, 12, seed=0, chunk=6).summary()
        sgd_block = res["optimizers"]["sgd"]
        assert sgd_block["test-loss"]["n"] == 12 and sgd_block["test-loss"]["nonfinite"] == 0
        assert 0.0 <= sgd_block["accuracy"]["mean"] <= 1.0
        assert "displacement" not in sgd_block  # too many coordinates to list
        # Training moves the weights, so the test loss changes from its initial value.
        initial = float(land.test_loss(land.init))
        assert abs(sgd_block["test-loss"]["mean"] - initial) > 1e-5
        assert set(res["differences"]) == {"gd - sgd", "gdc - sgd", "gdc - gd"}


def test_xavier_pullback_gives_glorot_scale():
    model = TanhConvNet((1, 28, 28), 10)
    theta = standard_normal_init(model, 3)
    land_init = torch.as_tensor(theta, dtype=torch.float32)
    sizes = [p.numel() for p in model.parameters()]
    first = land_init[: sizes[0]]
    assert abs(float(first.std()) - 1.0) < 0.1  # parameters are standard normal
    conv = model.conv1
    fan_in, fan_out = 1 * 25, 10 * 25
    assert math.isclose(conv.scale, math.sqrt(2 / (fan_in + fan_out)))
    # Different seeds give different fixed initializations; biases start at 0.
    assert not np.allclose(theta, standard_normal_init(model, 4))
    assert np.all(theta[sizes[0] : sizes[0] + sizes[1]] == 0)


def test_convnet_on_fashion_files(tmp_path):
    from test_data_readers import _fashion

    _fashion(tmp_path)
    land = resolve_landscape("convnet-fashion", data_dir=str(tmp_path))
    res = simulate(land, sgd(4), [make_optimizer("sgd")], 0.05, 4, chunk=4).summary()
    assert res["optimizers"]["sgd"]["test-loss"]["nonfinite"] == 0
