"""Variance over training sets of the final test loss (App. A.6) against brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import random_landscape
from reference import brute_series

from sgd_diagrams.cli import main
from sgd_diagrams.optimizers.exact_expectation import exact_expectation
from sgd_diagrams.schedules import gd, sgd
from sgd_diagrams.theory import variance


@pytest.mark.parametrize("schedule", [sgd(3, 1, 1), sgd(2, 1, 2, shuffle_seed=1), gd(3, 2), sgd(4, 2, 2)], ids=repr)
def test_variance_coefficients_match_the_key_lemma(schedule):
    landscape = random_landscape(9, dim=2, points=3)
    ref = brute_series(landscape, schedule, 3)
    m, sq = ref["test-loss"], ref["test-loss-squared"]
    expected = [sq[k] - sum(m[a] * m[k - a] for a in range(k + 1)) for k in range(4)]
    got = variance.test_loss_variance_coefficients(landscape, schedule, 3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * max(1, np.max(np.abs(expected))))
    assert got[2] > 0  # the leading variance is a variance


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_resummed_variance_agrees_with_exact_at_small_eta():
    landscape = random_landscape(9, dim=2, points=3)
    schedule = sgd(3, 1, 1)
    gaps = []
    for eta in (0.004, 0.002):
        exact = exact_expectation(landscape, schedule, [eta])["test-loss-variance"][0]
        gaps.append(abs(variance.test_loss_variance(landscape, schedule, 3, [eta], resum=True)[0] - exact))
    assert gaps[1] < gaps[0] / 10  # O(η⁴) remainder


def test_cli_variance(capsys):
    assert main(["series", "--schedule", "sgd:N=3", "--order", "2", "--quantity", "test-loss-variance",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["coefficients"]) == 3 and data["coefficients"][2] > 0


def test_a_negative_variance_is_refused_never_reported():
    """Resummed orders 2-3 drop terms of E[l^2] on quadratics and can go negative: refused in one line;
    order 4 (where l^2 is complete) is reported and positive."""
    import sgd_diagrams as sd

    land = sd.landscape("mean-estimation:H=2,S=1")
    with pytest.raises(sd.SgdDiagramsError, match="negative"):
        sd.predict(land, sd.sgd(N=10), 3, [0.05, 0.3], quantity="test-loss-variance", method="resummed")
    ok = sd.predict(land, sd.sgd(N=10), 4, [0.05, 0.3], quantity="test-loss-variance", method="resummed")
    assert np.all(ok.value > 0)
