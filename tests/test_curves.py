"""Curves (issue #22): the value at step t equals the prediction on the schedule truncated after t steps."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.diagrams import quantity
from sgd_diagrams.schedules.histories import history_count
from sgd_diagrams.schedules.prefixes import check_steps, prefix_history_counts
from sgd_diagrams.theory.curves import _family_prefix_counts, curve_history_counts

RTOL = 1e-10


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


@st.composite
def schedules(draw):
    kind = draw(st.sampled_from(["sgd", "gd", "explicit", "shuffled"]))
    if kind == "gd":
        s = sd.gd(draw(st.integers(1, 4)), draw(st.integers(1, 6)))
    elif kind == "explicit":
        N = draw(st.integers(1, 5))
        batches = draw(st.lists(st.lists(st.integers(0, N - 1), min_size=1, max_size=N, unique=True),
                                min_size=1, max_size=6))
        s = sd.from_batches(N, batches)
    else:
        B = draw(st.integers(1, 2))
        N = B * draw(st.integers(1, 3))
        s = sd.sgd(N, B, draw(st.integers(1, 2)), shuffle_seed=draw(st.integers(0, 5)) if kind == "shuffled" else None)
    if draw(st.booleans()):
        s = s.with_lr([draw(st.floats(0.1, 2.0)) for _ in range(s.T)])
    if draw(st.booleans()):
        s = s.with_momentum(draw(st.sampled_from([0.3, 0.6])))
    return s


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.sampled_from(["test-loss", "train-loss", "displacement"]), st.integers(1, 4))
def test_prefix_counts_equal_truncated_counts(schedule, qname, edges):
    """One sweep's prefix counts = history_count on every truncated schedule (plain, lr, momentum)."""
    steps = check_steps("all", schedule.T)
    for d in quantity(qname).diagrams(edges):
        got = curve_history_counts(d, schedule, steps)
        want = [0.0] + [history_count(d, schedule.prefix(int(t))) for t in steps[1:]]
        assert np.allclose(got, want, rtol=RTOL, atol=1e-300), (d, schedule)


def test_family_newton_forms_match_the_sweep():
    """GD and one-epoch SGD read prefix counts from the closed forms; they agree with the sweep to order 5."""
    used = 0
    for schedule in (sd.gd(3, 7), sd.sgd(8, 2, 1), sd.sgd(6, 1, 1, shuffle_seed=3)):
        steps = check_steps("all", schedule.T)
        for qname in ("test-loss", "train-loss"):
            for k in range(6):
                for d in quantity(qname).diagrams(k):
                    fam = _family_prefix_counts(d, schedule, steps)
                    if fam is None:
                        continue
                    used += 1
                    assert np.allclose(fam, prefix_history_counts(d, schedule, steps), rtol=RTOL, atol=0)
    assert used > 100


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.sampled_from(["test-loss", "train-loss", "gen-gap", "displacement", "test-loss-variance"]),
       st.sampled_from(["taylor", "resummed"]))
def test_curve_equals_truncated_predictions(schedule, qname, method):
    land = sd.landscape("example")
    order = 4 if qname == "test-loss-variance" else 3
    etas = [0.005, 0.02]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            curve = sd.predict(land, schedule, order, etas, qname, method, steps="all")
        except sd.SgdDiagramsError:  # e.g. a negative variance at some step is refused there too
            return
        for i, t in enumerate(curve.steps):
            if t == 0:
                continue
            ref = sd.predict(land, schedule.prefix(int(t)), order, etas, qname, method)
            assert _relative(curve.value[i], ref.value) < RTOL


def test_curve_continuous_and_steps_list():
    land, schedule = sd.landscape("example"), sd.sgd(8, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = sd.predict(land, schedule, 3, [0.01, 0.05], "test-loss", "continuous", steps=[5, 2])
        assert curve.steps.tolist() == [0, 2, 5, 8]
        for i, t in enumerate(curve.steps[1:], start=1):
            ref = sd.predict(land, schedule.prefix(int(t)), 3, [0.01, 0.05], "test-loss", "continuous")
            assert _relative(curve.value[i], ref.value) < RTOL
        start = sd.predict(land, schedule, 0, [0.01, 0.05], "test-loss")  # order 0: l(θ0), before any step
    assert np.allclose(curve.value[0], start.value, rtol=RTOL, atol=0)


def test_estimated_curve_equals_truncated_estimates():
    """From samples: every step equals predict(..., samples=K) on the truncated schedule (same estimates)."""
    land, schedule = sd.landscape("mean-estimation"), sd.sgd(12, 1, 1)
    curve = sd.predict(land, schedule, 2, [0.1, 0.3], samples=120, seed=1, steps=[4])
    for i, t in enumerate(curve.steps[1:], start=1):
        ref = sd.predict(land, schedule.prefix(int(t)), 2, [0.1, 0.3], samples=120, seed=1)
        assert _relative(curve.value[i], ref.value) < RTOL
        assert _relative(curve.stderr[i], ref.stderr) < RTOL


def test_band_is_the_variance_square_root_and_json_round_trip():
    land, schedule = sd.landscape("example"), sd.sgd(10, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = sd.predict(land, schedule, 4, [0.01], "test-loss", steps="all", band=True)
        var = sd.predict(land, schedule.prefix(6), 4, [0.01], "test-loss-variance")
    assert np.isclose(curve.details["band_sd"][6, 0] ** 2, var.value[0], rtol=1e-12)
    back = sd.Prediction.from_json(json.loads(json.dumps(curve.to_json())))
    assert np.array_equal(back.value, curve.value) and back.steps.tolist() == list(range(11))
    assert back.trusted.shape == (11, 1) and bool(back.trusted[0, 0])


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "limit", "steps": "all"}, "one number, not a curve"),
    ({"quantity": "train-loss", "band": True}, "use quantity test-loss"),
    ({"method": "continuous", "band": True}, "no continuous-time form"),
    ({"steps": [99]}, "not a step number"),
    ({"steps": "some"}, "'all' or a list"),
])
def test_curve_refusals(kwargs, message):
    with pytest.raises(sd.SgdDiagramsError, match=message):
        sd.predict(sd.landscape("example"), sd.sgd(8, 1, 1), 2, 0.01, **kwargs)


def test_shuffle_average_has_no_prefix():
    with pytest.raises(sd.SgdDiagramsError, match="one concrete grid"):
        sd.predict(sd.landscape("example"), sd.sgd_reshuffled(4, 1, 2), 2, 0.01, steps="all")


def test_cli_curve_table_and_json(tmp_path):
    from sgd_diagrams.cli import main

    out = tmp_path / "c.json"
    assert main(["predict", "--landscape", "example", "--schedule", "sgd:N=20,B=1,E=1", "--order", "3",
                 "--eta", "0.001,0.01", "--curve", "--every", "5", "--json", "--out", str(out), "--quiet"]) == 0
    record = json.loads(out.read_text())
    assert record["steps"] == [0, 5, 10, 15, 20] and np.shape(record["value"]) == (5, 2)
    assert main(["predict", "--landscape", "example", "--schedule", "sgd:N=20,B=1,E=1", "--order", "3",
                 "--eta", "0.001", "--every", "5"]) == 2


class _Prefix:
    def __init__(self, m, beta):
        self._m, self.momentum = m, beta

    def lr_multipliers(self):
        return self._m


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(0, 5), st.integers(1, 3), st.booleans(), st.booleans(), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_vectorised_curve_trust_equals_assess_trust_per_step(T, order, dim, zeros, with_lambda, with_stderr, seed):
    """assess_trust_steps (one array expression over steps) = assess_trust called on every step's prefix."""
    from sgd_diagrams.theory.trust import assess_trust, assess_trust_steps

    rng = np.random.default_rng(seed)
    steps = np.arange(T + 1)
    coefficients = [rng.normal(size=(T + 1, dim)) * 10.0 ** rng.uniform(-3, 3) for _ in range(order + 1)]
    if zeros and order >= 1:
        coefficients[1][:] = 0.0  # a vanishing order (a minimum), skipped by the ratio test
    etas = np.array([1e-4, 0.01, 0.3, 2.0])
    values = sum(c[:, None, :] * etas[None, :, None] ** k for k, c in enumerate(coefficients))
    stderr = np.abs(rng.normal(size=values.shape)) * 0.01 if with_stderr else None
    lam = float(rng.uniform(0.1, 5.0)) if with_lambda else None
    m, beta = rng.uniform(0.1, 2.0, size=T), float(rng.choice([0.0, 0.5]))
    trusted, error, tolerance = assess_trust_steps(coefficients, etas, values, stderr=stderr, lambda_max=lam,
                                                   multipliers=m, momentum=beta, steps=steps)
    for i, t in enumerate(steps):
        one = assess_trust([c[i] for c in coefficients], etas, values[i], lambda_max=lam, rtol=None,
                           stderr=None if stderr is None else stderr[i], schedule=_Prefix(m[:t], beta))
        assert np.array_equal(one.trusted, trusted[i])
        assert np.allclose(one.error, error[i], rtol=1e-12, atol=0.0, equal_nan=True)
        assert np.allclose(one.tolerance, tolerance[i], rtol=1e-12)
