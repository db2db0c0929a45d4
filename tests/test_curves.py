"""Curves (issue #22): the value at step t equals the prediction on the schedule truncated after t steps."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import random_landscape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.diagrams import quantity
from sgd_diagrams.schedules.histories import history_count
from sgd_diagrams.schedules.prefixes import check_steps, prefix_history_counts
from sgd_diagrams.theory import variance
from sgd_diagrams.theory.curves import _family_prefix_counts, curve_history_counts
from sgd_diagrams.theory.geometric import continuous_history_sum, geometric_history_sum
from sgd_diagrams.theory.geometric_prefixes import (
    continuous_prefix_sums,
    geometric_prefix_sums,
    power_entries,
    power_factors,
)
from sgd_diagrams.theory.resummation import resummed_prediction

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


# -- resummed, continuous and variance curves: every prefix from one sweep (theory/geometric_prefixes.py) ----------
@st.composite
def one_epoch_schedules(draw):
    """Plain one-epoch schedules of one batch size: the continuous form's domain."""
    B = draw(st.integers(1, 2))
    N = B * draw(st.integers(1, 4))
    return sd.sgd(N, B, 1, shuffle_seed=draw(st.one_of(st.none(), st.integers(0, 5))))


def _random_etas(land, fractions, schedule=None) -> np.ndarray:
    """η as fractions of 1/|λ|_max of the landscape's Hessian, over the schedule's largest lr multiplier and
    heavy ball's 1/(1 + β) (inside the resummed form's range η·λ_max·max m_t/(1 + β) < 2)."""
    lam = np.linalg.eigvalsh(np.atleast_2d(land.mean_derivative(2)))
    scale = 1.0 if schedule is None else float(np.max(schedule.lr_multipliers())) / (1.0 + schedule.momentum)
    return np.asarray(fractions) / max(float(np.max(np.abs(lam))) * scale, 1e-3)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(0, 10**6), st.integers(1, 2), st.integers(1, 3),
       st.sampled_from(["test-loss", "train-loss", "gen-gap", "displacement"]), st.sampled_from(["resummed",
                                                                                                 "continuous"]))
def test_resummed_and_continuous_curves_equal_truncated_predictions(data, seed, dim, order, qname, method):
    """Random landscapes and schedules (in-order, reshuffled, GD, explicit grids, lr schedules, momentum), orders 1–3:
    the curve at every step equals predict on schedule.prefix(t) to 1e-10 relative."""
    schedule = data.draw(one_epoch_schedules() if method == "continuous" else schedules())
    land = random_landscape(seed, dim=dim)
    etas = _random_etas(land, data.draw(st.lists(st.floats(0.05, 1.5), min_size=1, max_size=2)), schedule)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = sd.predict(land, schedule, order, etas, qname, method, steps="all")
        start = sd.predict(land, schedule, 0, etas, qname)  # before any step: the quantity at θ0
        assert _relative(curve.value[0], start.value) < RTOL
        for i, t in enumerate(curve.steps[1:], start=1):
            ref = sd.predict(land, schedule.prefix(int(t)), order, etas, qname, method)
            assert _relative(curve.value[i], ref.value) < RTOL, (t, schedule)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.sampled_from(["test-loss", "train-loss"]), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_geometric_prefix_sums_equal_final_point_sums(schedule, qname, edges, seed):
    """Every path (constant lr: powers, block corner, GD step, row-tuple sweep; lr; heavy ball) at every prefix,
    q = 1 − ηλ anywhere in (−1, 1.3) (negative q: η·λ > 1; q > 1: a negative curvature)."""
    rng = np.random.default_rng(seed)
    steps = check_steps("all", schedule.T)
    one_epoch = schedule.plain and len(set(schedule.batch_sizes.tolist())) == 1 and schedule.grid().sum(1).max() <= 1
    for d in quantity(qname).diagrams(edges, linkless=True):
        q = rng.uniform(-1.0, 1.3, size=(3, edges))
        got = geometric_prefix_sums(d, schedule, q, steps)
        want = np.stack([geometric_history_sum(d, schedule.prefix(int(t)), q) for t in steps[1:]])
        assert np.all(got[0] == 0.0) and _relative(got[1:], want) < RTOL, (d, schedule)
        if one_epoch:
            rates = rng.uniform(-0.2, 1.5, size=(2, edges))
            got = continuous_prefix_sums(d, schedule, rates, steps[1:])
            want = np.stack([continuous_history_sum(d, schedule.prefix(int(t)), rates) for t in steps[1:]])
            assert _relative(got, want) < RTOL, (d, schedule)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 5), st.lists(st.integers(0, 300), min_size=1, max_size=12),
       st.integers(0, 2**31 - 1), st.booleans())
def test_power_entries_equal_matrix_powers(nA, n, steps, seed, dense):
    """Baby/giant steps: [M^t]_{start, target} = numpy's matrix_power, any sorted list of steps (a few: gathered;
    most of 0..t_max: the whole table as one product)."""
    rng = np.random.default_rng(seed)
    M = np.abs(rng.normal(size=(nA, n, n)))
    M /= np.max(np.abs(np.linalg.eigvals(M)), axis=1)[:, None, None]  # spectral radius 1: no over/underflow
    start, target = int(rng.integers(n)), int(rng.integers(n))
    steps = np.arange(max(steps) + 1) if dense else np.array(sorted(steps))
    got = power_entries(M, start, target, steps)
    want = np.stack([np.linalg.matrix_power(M, int(t))[:, start, target] for t in steps])
    assert np.allclose(got, want, rtol=1e-11, atol=1e-300)
    # the weighted contraction (a curve's Σ over eigen-labels, per η): weightings a = (e, l), any trailing axes
    E = 1 + (nA == 3) * 2  # 3 weightings as 3 η × 1 label or 1 η × 3 labels
    weights = rng.normal(size=(E, nA // E, 2))
    factors = power_factors(M, start, target, int(steps.max()), scale=0.5)
    combined = factors.weighted(weights, steps)
    assert combined.shape == (len(steps), E, 2)
    assert np.allclose(combined, 0.5 * np.einsum("sel,elx->sex", want.reshape(len(steps), E, -1), weights),
                       rtol=1e-10, atol=1e-12 * np.max(np.abs(want)))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.integers(0, 10**6), st.integers(1, 4), st.booleans(), st.floats(0.05, 1.0))
def test_variance_curve_equals_truncated_moments(schedule, seed, order, resum, fraction):
    """E[l²] − E[l]² after every step (both moments' curves in one pass each) = the final-point formula on the
    truncated schedule; the tolerance is relative to E[l]², what the difference is taken against."""
    land = random_landscape(seed, dim=1 + seed % 2)
    etas = _random_etas(land, [fraction], schedule)
    steps = check_steps("all", schedule.T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = variance.test_loss_variance_curve(land, schedule, order, etas, steps, resum=resum)
        for i, t in enumerate(steps[1:], start=1):
            prefix = schedule.prefix(int(t))
            if resum:
                second = resummed_prediction(land, prefix, order, etas, root_tensors=variance.squared_loss_derivatives(
                    land, max(order, 2))).value
                mean = resummed_prediction(land, prefix, order, etas).value
                want = second - mean**2
            else:
                c = variance.test_loss_variance_coefficients(land, prefix, order)
                mean = sd.predict(land, prefix, order, etas).value
                want = sum(ck * etas**k for k, ck in enumerate(c))
            assert np.allclose(got[i], want, rtol=RTOL, atol=1e-12 * float(np.max(mean**2))), (t, schedule)


@pytest.mark.parametrize("schedule, method", [
    (sd.sgd(40), "resummed"), (sd.sgd(40), "continuous"), (sd.sgd(40, 2, 1, shuffle_seed=1), "resummed"),
    (sd.sgd(40, 2, 1, shuffle_seed=1), "continuous"), (sd.gd(3, 40), "resummed"),
    (sd.sgd(20, 1, 2, shuffle_seed=2), "resummed"),  # the continuous form is for one epoch only
])
def test_sparse_recorded_steps_equal_truncated_predictions(schedule, method):
    """A few recorded steps of a long schedule (the gathered baby/giant entries, not the whole table)."""
    land, etas = sd.landscape("example"), [0.01, 0.1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = sd.predict(land, schedule, 3, etas, "train-loss", method, steps=[3, 17])
        assert curve.steps.tolist() == [0, 3, 17, schedule.T]
        for i, t in enumerate(curve.steps[1:], start=1):
            ref = sd.predict(land, schedule.prefix(int(t)), 3, etas, "train-loss", method)
            assert _relative(curve.value[i], ref.value) < RTOL


@pytest.mark.parametrize("schedule", [sd.sgd(12, 1, 1), sd.sgd(6, 2, 2, shuffle_seed=3), sd.gd(5, 7),
                                      sd.sgd(10, 1, 1).with_lr("cosine").with_momentum(0.5)])
def test_statistics_resummed_curve_equals_truncated_replays(schedule):
    """From a statistics record: the resummed curve (one sweep per replication) equals the dense replay on every
    truncated schedule — value and stderr — and step 0 is the estimate of l(θ0)."""
    stats = sd.measure(sd.landscape("mean-estimation"), 2, sd.Sampling(samples=240, seed=2), kinds=("test",),
                       tensors=True)
    etas = [0.1, 0.3]
    curve = sd.predict(stats, schedule, 2, etas, method="resummed", steps="all")
    assert list(curve.steps) == list(range(schedule.T + 1))
    for i, t in enumerate(curve.steps):
        ref = (sd.predict(stats, schedule.prefix(int(t)), 2, etas, method="resummed") if t else
               sd.predict(stats, schedule, 0, etas))  # step 0: the order-0 estimate of l(θ0)
        assert _relative(curve.value[i], ref.value) < RTOL
        assert _relative(curve.stderr[i], ref.stderr) < RTOL
