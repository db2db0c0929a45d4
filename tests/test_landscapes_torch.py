"""Torch landscapes: sympy→torch, artificial landscapes and their Gauss–Hermite finite forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes.artificial import Gauss, Helix, MeanEstimation, gauss_hermite_nodes
from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.landscapes.sampled import (
    FiniteTorchLandscape,
    per_sample_gradients,
    population_covariance,
)

coords = st.floats(min_value=-1.5, max_value=1.5, allow_nan=False)


@given(coords, coords)
@settings(max_examples=40, deadline=None)
def test_sympy_to_torch_matches_numpy(curved_finite, a, b):
    landscape = FiniteTorchLandscape(curved_finite)
    theta = np.array([a, b])
    got = landscape.all_losses(torch.tensor(theta)).numpy()
    want = [curved_finite.loss(j, theta) for j in range(2)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    grads = per_sample_gradients(landscape, torch.tensor(theta), torch.arange(2)).numpy()
    np.testing.assert_allclose(
        grads, [curved_finite.gradient(j, theta) for j in range(2)], atol=1e-10
    )


ARTIFICIAL = [
    Gauss(0.3),
    Helix((0.2, -0.1, 0.7)),
    MeanEstimation(2.0, 3.0, 0.5),
    MeanEstimation(2.0, 3.0, 0.5, l2=True),
]


@pytest.mark.parametrize("landscape", ARTIFICIAL, ids=lambda l: l.name)
def test_to_finite_agrees_with_torch_losses(landscape):
    finite = landscape.to_finite(n_nodes=5)
    nodes, weights = gauss_hermite_nodes(5)
    np.testing.assert_allclose(finite.probs, weights)
    theta = landscape.init.numpy() + 0.1
    for j, x in enumerate(nodes):
        want = float(landscape.pointwise_loss(torch.tensor(theta), torch.tensor(x)))
        assert math.isclose(finite.loss(j, theta), want, rel_tol=1e-10, abs_tol=1e-10)
    # Gauss–Hermite is exact for these polynomial-in-x losses: expectations agree.
    ft = FiniteTorchLandscape(finite)
    if landscape.name != "mean-estimation-l2":  # its test loss is the unregularized one
        assert math.isclose(
            float(ft.test_loss(torch.tensor(theta))),
            float(landscape.test_loss(torch.tensor(theta))),
            rel_tol=1e-10,
            abs_tol=1e-12,
        )


def test_gauss_hermite_reproduces_normal_moments():
    nodes, weights = gauss_hermite_nodes(4)
    for k, m in enumerate([1, 0, 1, 0, 3, 0, 15, 0]):
        assert math.isclose(weights @ nodes**k, m, abs_tol=1e-10)


def test_helix_covariance_is_signal_gradient_outer_product():
    helix = Helix((0.3, -0.4, 1.1))
    theta = helix.init
    cov = population_covariance(helix, theta).numpy()
    u, v, z = theta.tolist()
    ds = np.array(
        [
            math.cos(z - math.pi / 4),
            math.sin(z - math.pi / 4),
            -math.sin(z - math.pi / 4) * u + math.cos(z - math.pi / 4) * v,
        ]
    )
    np.testing.assert_allclose(cov, np.outer(ds, ds), atol=1e-12)


def test_gauss_covariance_matches_closed_form():
    gauss = Gauss(0.4)
    cov = float(population_covariance(gauss, gauss.init))
    # g_x = (1 − x² e^{−h})/2, Var = e^{−2h} Var(x²)/4 = e^{−2h}/2.
    assert math.isclose(cov, math.exp(-0.8) / 2, rel_tol=1e-10)


def test_mean_estimation_l2_projection_keeps_lambda_nonnegative():
    land = MeanEstimation(1.0, 1.0, 0.0, l2=True)
    out = land.project(torch.tensor([0.5, -2.0], dtype=torch.float64))
    assert out.tolist() == [0.5, 0.0]
    assert land.weight_mask.tolist() == [True, False]


@pytest.mark.parametrize(
    "name,params",
    [
        ("gauss", {"bogus": 1.0}),
        ("nonexistent-landscape", {}),
        ("helix", {"H": 1.0}),
        ("logistic-fashion", {}),
        ("convnet-digits", {"init_seed": 1.5}),
    ],
)
def test_registry_rejects_bad_inputs_with_one_line(name, params):
    with pytest.raises(SgdDiagramsError) as info:
        resolve_landscape(name, **params)
    assert "\n" not in str(info.value)


def test_registry_reads_finite_json(tmp_path, curved_finite):
    import json

    path = tmp_path / "f.json"
    path.write_text(json.dumps(curved_finite.to_json()))
    land = resolve_landscape(str(path))
    assert isinstance(land, FiniteTorchLandscape) and land.dim == 2
