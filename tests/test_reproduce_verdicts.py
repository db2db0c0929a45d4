"""The verdict rules on synthetic cases: power, multiplicity, agreement ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sgd_diagrams.experiments.reproduce.verdicts import (
    ALPHA,
    Comparison,
    Family,
    agreement_range,
    critical_z,
    decide,
    holm_rejections,
)


def _point(z: float, effect_se: float, se: float = 1.0, label: str = "p", x: float = 1.0) -> Comparison:
    return Comparison(label, observed=z * se, se_obs=se, predicted=0.0, effect=effect_se * se, x=x)


def test_powerless_comparison_is_inconclusive():
    # the prediction's SE is ~50x the effect (the quick sde-ode case): agreement means nothing
    fam = Family("SGD − ODE", [Comparison("η=0.1", 0.01, 0.01, 0.0, se_pred=0.5, effect=0.01)])
    assert decide(fam).verdict == "inconclusive"


def test_fit_without_degrees_of_freedom_is_inconclusive():
    fam = Family("fit", [Comparison("η² coefficient", 1.0, 1e-3, 1.0, effect=1.0, dof=0)])
    assert decide(fam).verdict == "inconclusive"


def test_no_stated_effect_has_no_power():
    assert decide(Family("x", [Comparison("a", 0.0, 1.0, 0.0)])).verdict == "inconclusive"


def test_true_effect_at_ten_se_is_refuted():
    fam = Family("claim", [_point(0.3, 20), _point(-0.5, 20), _point(10.0, 20)])
    assert decide(fam).verdict == "refuted"


def test_confirmed_and_correction():
    claim = Family("engine", [_point(0.4, 8), _point(-1.0, 8)])
    assert decide(claim).verdict == "confirmed"
    printed = Family("printed sign", [_point(12.0, 8)])
    assert decide(claim, printed).verdict == "confirmed with a correction"
    assert decide(claim, Family("printed, powerless", [_point(12.0, 0.1)])).verdict == "confirmed"


def test_holm_matches_hand_computation():
    # p-values of z = 3.0, 2.3, 0.5: 0.0027, 0.0214, 0.617; Holm at 0.05: 0.0027 ≤ 0.05/3, 0.0214 ≤ 0.05/2, stop
    assert holm_rejections([3.0, 2.3, 0.5]) == [True, True, False]
    assert holm_rejections([2.3, 2.3, 2.3]) == [False, False, False]  # 0.0214 > 0.05/3
    assert abs(critical_z(1) - 1.959964) < 1e-5


def test_adding_ten_null_points_flips_confirmed_at_most_alpha():
    """Simulation: families confirmed at 3 points, plus 10 more points with no true effect, are refuted with
    probability ≤ α (+ 3 Monte-Carlo SE)."""
    rng = np.random.default_rng(18)
    flips = confirmed = 0
    for _ in range(4000):
        base = [_point(float(z), 10.0) for z in rng.standard_normal(3)]
        if decide(Family("base", base)).verdict != "confirmed":
            continue
        confirmed += 1
        more = base + [_point(float(z), 10.0) for z in rng.standard_normal(10)]
        flips += decide(Family("more", more)).verdict == "refuted"
    rate = flips / confirmed
    assert confirmed > 3000
    assert rate <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / confirmed), rate


def test_requiring_every_point_within_196_would_flip_often():
    """The old rule (|z| ≤ 1.96 at every point) flips on noise: with 13 null points it rejects ~49 % of the time —
    the contrast that motivates Holm."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4000, 13))
    old = np.mean(np.any(np.abs(z) > 1.96, axis=1))
    new = np.mean([any(holm_rejections(list(row))) for row in z[:1000]])
    assert old > 0.4 and new < ALPHA + 0.025


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 5), st.booleans()), min_size=1, max_size=8, unique_by=lambda t: t[0]))
@example(pts=[(5.0, True), (4.999999999999999, False)])  # two points that print alike, only the lower one agrees
def test_agreement_range_never_claims_an_untested_or_rejected_point(pts):
    xs, rej = [p[0] for p in pts], [p[1] for p in pts]
    text = agreement_range(xs, rej)
    ordered = sorted(pts)
    if ordered[0][1]:
        assert text == "agrees at no tested point"
    else:
        shown = float(text.rstrip(")").split("= ")[-1])
        # the text prints 6 significant digits: some tested point printed as `shown` has no rejection at or below it
        printed_as = [x for x in xs if abs(x - shown) <= 1e-5 * x]
        assert printed_as and any(not any(r for xx, r in pts if xx <= x) for x in printed_as)
