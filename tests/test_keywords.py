"""One meaning per keyword (issue #23): every public function that takes a shared keyword gives it the same
effect, and every one that does not take it refuses it.

The test walks the public verbs; each (function, keyword) pair the signature has must have a check below
(a new keyword without one fails), and each pair it lacks must raise instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings

import numpy as np
import pytest

import sgd_diagrams as sd

SHARED = ("lr", "momentum", "metric", "quantity", "samples", "seed")
FUNCTIONS = ("taylor_series", "predict", "simulate", "measure", "whatif", "compare", "theory_vs_simulation")
LAND = sd.landscape("example")
SCHED = sd.sgd(N=4, B=1, E=2)
ETA = [0.01, 0.03]
P = np.array([[1.0, 0.2], [0.2, 0.5]])


def _quiet(f, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(*args, **kwargs)


def _lr(name):
    if name == "taylor_series":
        assert sd.taylor_series(LAND, SCHED, 2, lr="cosine").coefficients == \
            sd.taylor_series(LAND, SCHED.with_lr("cosine"), 2).coefficients
    elif name == "predict":
        np.testing.assert_array_equal(_quiet(sd.predict, LAND, SCHED, 2, ETA, lr="cosine").value,
                                      _quiet(sd.predict, LAND, SCHED.with_lr("cosine"), 2, ETA).value)
    else:
        assert sd.simulate(LAND, SCHED, eta=ETA, trials=50, lr="cosine").summaries == \
            sd.simulate(LAND, SCHED.with_lr("cosine"), eta=ETA, trials=50).summaries
    f = getattr(sd, name)
    with pytest.raises(sd.SgdDiagramsError, match="already carries lr"):
        args = (LAND, SCHED.with_lr("linear"), 2) if name != "simulate" else (LAND, SCHED.with_lr("linear"))
        _quiet(f, *args, **({"eta": ETA} if name == "predict" else {}), lr="cosine")


def _momentum(name):
    if name == "taylor_series":
        assert sd.taylor_series(LAND, SCHED, 2, momentum=0.5).coefficients == \
            sd.taylor_series(LAND, SCHED.with_momentum(0.5), 2).coefficients
    elif name == "predict":
        np.testing.assert_array_equal(_quiet(sd.predict, LAND, SCHED, 2, ETA, momentum=0.5).value,
                                      _quiet(sd.predict, LAND, SCHED.with_momentum(0.5), 2, ETA).value)
    else:
        assert sd.simulate(LAND, SCHED, eta=ETA, trials=50, momentum=0.5).summaries == \
            sd.simulate(LAND, SCHED.with_momentum(0.5), eta=ETA, trials=50).summaries
    f = getattr(sd, name)
    with pytest.raises(sd.SgdDiagramsError, match="already carries momentum"):
        args = (LAND, SCHED.with_momentum(0.9), 2) if name != "simulate" else (LAND, SCHED.with_momentum(0.9))
        _quiet(f, *args, **({"eta": ETA} if name == "predict" else {}), momentum=0.5)


def _metric(name):
    """A matrix learning rate η·P in the theory (the simulated quantity is ``quantity``, never ``metric``)."""
    series = sd.taylor_series(LAND, SCHED, 2, metric=P)
    if name == "predict":
        np.testing.assert_allclose(_quiet(sd.predict, LAND, SCHED, 2, ETA, metric=P).value, series(np.array(ETA)),
                                   rtol=1e-12)
    assert series.coefficients[1] != sd.taylor_series(LAND, SCHED, 2).coefficients[1]


def _quantity(name):
    for q in ("test-loss", "gen-gap"):
        series = sd.taylor_series(LAND, SCHED, 2, quantity=q)
        if name == "predict":
            np.testing.assert_allclose(_quiet(sd.predict, LAND, SCHED, 2, ETA, quantity=q).value,
                                       series(np.array(ETA)), rtol=1e-12)
    if name in ("compare", "theory_vs_simulation"):
        sim = sd.simulate(LAND, SCHED, eta=ETA, trials=50)
        p = _quiet(sd.predict, LAND, SCHED, 2, ETA)
        c = sd.compare(p, sim, quantity="train-loss")  # the simulated quantity, by the same name as predict's
        assert c.simulated.tolist() == sim.mean(quantity="train-loss").tolist()
        with pytest.raises(sd.SgdDiagramsError):
            sd.compare(p, sim, quantity="curvature")


def _samples_and_seed(name):
    if name == "predict":
        a = _quiet(sd.predict, LAND, SCHED, 2, ETA, sampling=sd.Sampling(samples=300, seed=3))
        b = _quiet(sd.predict, _quiet(sd.measure, LAND, 2, sd.Sampling(samples=300, seed=3)), SCHED, 2, ETA)
        np.testing.assert_allclose(a.value, b.value, rtol=1e-12)
        c = _quiet(sd.predict, LAND, SCHED, 2, ETA, sampling=sd.Sampling(samples=300, seed=4))
        assert not np.array_equal(a.value, c.value)
        with pytest.raises(sd.SgdDiagramsError, match="seed only applies with samples"):
            sd.predict(LAND, SCHED, 2, ETA, sampling=sd.Sampling(seed=3))  # the exact theory draws nothing
    elif name == "measure":
        s = _quiet(sd.measure, LAND, 2, sd.Sampling(samples=300, seed=3))
        assert (s.samples, s.seed) == (300, 3)
    elif name == "simulate":
        a = sd.simulate(LAND, SCHED, eta=ETA, trials=40, seed=3)
        assert a.summaries == sd.simulate(LAND, SCHED, eta=ETA, trials=40, seed=3).summaries
        assert a.summaries != sd.simulate(LAND, SCHED, eta=ETA, trials=40, seed=4).summaries


CHECKS = {"lr": _lr, "momentum": _momentum, "metric": _metric, "quantity": _quantity,
          "samples": _samples_and_seed, "seed": _samples_and_seed}


def _accepts(f, key: str) -> bool:
    """A keyword the function takes: a parameter, a field of its ``sampling=`` option set, or one of predict's
    keyword options (:data:`sgd_diagrams.api.PREDICT_OPTIONS`)."""
    params = inspect.signature(f).parameters
    sampling_fields = {field.name for field in dataclasses.fields(sd.Sampling)}
    return key in params or ("sampling" in params and key in sampling_fields) or (
        f is sd.predict and key in sd.api.PREDICT_OPTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_shared_keywords_mean_the_same_or_are_refused(name):
    f = getattr(sd, name)
    required = [p for p in inspect.signature(f).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    for key in SHARED:
        if _accepts(f, key):
            CHECKS[key](name)
        else:
            with pytest.raises(TypeError, match=key):  # not silently ignored
                f(*[None] * len(required), **{key: None})


def test_simulate_has_no_separate_optimizer_momentum():
    """``momentum=`` once meant the momentum optimizer's β in simulate and heavy ball in predict; now both."""
    sim = sd.simulate(LAND, SCHED, ["sgd", "momentum"], eta=[0.03], trials=200, seed=1, momentum=0.5)
    a, b = sim.mean("test-loss", "sgd"), sim.mean("test-loss", "momentum")
    assert a.tolist() == b.tolist()  # sgd with the schedule's β is the momentum optimizer with that β
