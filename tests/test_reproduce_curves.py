"""reproduce curves (issue #22): the per-curve agreement rule and the verdict, on hand-made curves."""

from __future__ import annotations

from sgd_diagrams.experiments.reproduce import curves


def _curve(name, observed, predicted, sem=0.01, trusted=None, part="mean estimation"):
    n = len(observed)
    return {"name": name, "part": part, "eta": 0.1, "steps": list(range(n)), "lr_time": [0.1 * t for t in range(n)],
            "predicted": predicted, "predicted_se": [0.0] * n, "trusted": trusted or [True] * n,
            "observed": observed, "sem": [sem] * n, "baseline": 0.0}


def test_a_curve_agrees_until_its_first_rejected_step():
    good = _curve("good", [0.0, 0.1, 0.2, 0.3, 0.4], [0.0, 0.1, 0.2, 0.3, 0.4])
    bad = _curve("bad", [0.0, 0.1, 0.2, 0.9, 0.4], [0.0, 0.1, 0.2, 0.3, 0.4])
    s_good, s_bad = curves._per_curve(good), curves._per_curve(bad)
    assert (s_good["agreeing_steps"], s_good["recorded_steps"]) == (4, 4) and "every tested point" in s_good["range"]
    assert (s_bad["agreeing_steps"], s_bad["agrees_through_step"]) == (2, 2) and "= 0.2" in s_bad["range"]
    data = {"curves": [good, bad], "per_curve": [s_good, s_bad]}
    assert curves.assess(data).verdict == "refuted"
    assert curves.check(data) and "bad" in curves.check(data)[0]
    assert curves.assess({"curves": [good], "per_curve": [s_good]}).verdict == "confirmed"


def test_untrusted_steps_are_reported_not_tested():
    """A Taylor curve outside its trust region at step 3 leaves that step out of the claim's family."""
    c = _curve("taylor", [0.0, 0.1, 0.2, 0.9, 0.4], [0.0, 0.1, 0.2, 0.3, 0.4],
               trusted=[True, True, True, False, True], part="convnet x")
    s = curves._per_curve(c)
    assert s["first_untrusted_step"] == 3 and s["agreeing_steps"] == 2
    assert curves.assess({"curves": [c], "per_curve": [s]}).verdict == "confirmed"
    flat = _curve("flat", [0.0, 0.0, 0.0], [0.0, 1e-6, 1e-6])  # no effect to resolve: no power
    assert curves.assess({"curves": [flat], "per_curve": [curves._per_curve(flat)]}).verdict == "inconclusive"


def test_resummed_convnet_steps_are_trusted_by_their_complement_share():
    """An estimated resummed step counts in the claim only where the complement is ≤ 20% of the change."""
    assert curves.complement_trusted([0.0, 0.1, 0.2, 0.21, 5.0]) == [True, True, True, False, False]
    assert curves.complement_trusted([3.0]) == [True]  # step 0 is l(θ0) itself
    taylor = _curve("convnet, cosine", [0.0, 0.1, 0.2], [0.0, 0.1, 0.2],
                    part="convnet cosine (estimated Taylor order 3)")
    resummed = _curve("convnet, cosine (resummed)", [0.0, 0.1, 0.9], [0.0, 0.1, 0.2],
                      trusted=curves.complement_trusted([0.0, 0.1, 0.5]),
                      part="convnet cosine (estimated resummed order 3)")
    assert curves._resummed_of(taylor, [taylor, resummed]) is resummed
    assert curves._resummed_of(resummed, [taylor, resummed]) is None
    s = curves._per_curve(resummed)
    assert (s["agreeing_steps"], s["first_untrusted_step"]) == (1, 2)  # reported: the miss at t = 2 …
    data = {"curves": [taylor, resummed], "per_curve": [curves._per_curve(taylor), s]}
    assert curves.assess(data).verdict == "confirmed"  # … but not tested: outside its trust region
