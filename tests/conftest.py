"""Shared fixtures: small finite landscapes for exact-enumeration checks."""

from __future__ import annotations

import pytest

from sgd_diagrams.landscapes import FiniteLandscape


@pytest.fixture(scope="session")
def curved_finite() -> FiniteLandscape:
    """Two points, two weights, non-quadratic losses (C and H vary with θ)."""
    return FiniteLandscape(
        2,
        [0.3, -0.2],
        [0.3, 0.7],
        [
            "t0**2*(1+t1) + exp(t1)*t0 + sin(t1)",
            "0.5*t1**2 - t0 + t0*t1**2 + cos(t0)",
        ],
        name="curved",
    )


@pytest.fixture(scope="session")
def chladni_finite() -> FiniteLandscape:
    """1-D landscape with a slope and a θ-dependent gradient covariance (GDC's test bed)."""
    return FiniteLandscape(
        1,
        [0.5],
        [0.5, 0.5],
        ["0.5*t0**2 + t0 + (t0 + 0.5*t0**2)", "0.5*t0**2 + t0 - (t0 + 0.5*t0**2)"],
        name="chladni",
    )
