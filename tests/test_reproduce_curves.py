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
