"""The front door: the mathematics as arguments, ``sd.Sampling`` / ``sd.Execution`` for the rest.

The old keywords (``samples=``, ``force=``, …) still work for one release, with a ``DeprecationWarning``, and
give the very same numbers; bad option fields fail where they are written, in one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sgd_diagrams as sd
from sgd_diagrams.api import measured_values
from sgd_diagrams.cli._options import execution_from_args, sampling_from_args

LAND = sd.landscape("example")
SCHED = sd.sgd(N=6, B=1, E=1)
ETA = [0.01, 0.04]


def _quiet(f, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(*args, **kwargs)


def test_predict_has_at_most_eight_parameters_of_its_own():
    named = [p.name for p in inspect.signature(sd.predict).parameters.values() if p.kind is not p.VAR_KEYWORD]
    assert named == ["landscape", "schedule", "order", "eta", "quantity", "method", "sampling", "execution"]


def test_old_keywords_warn_and_give_the_same_numbers():
    new = _quiet(sd.predict, LAND, SCHED, 2, ETA, sampling=sd.Sampling(samples=200, seed=5, replications=4))
    with pytest.warns(DeprecationWarning, match=r"predict\(samples=, seed=, replications=\) is deprecated"):
        old = _quiet(sd.predict, LAND, SCHED, 2, ETA, samples=200, seed=5, replications=4)
    assert old.value.tolist() == new.value.tolist() and old.stderr.tolist() == new.stderr.tolist()
    with pytest.warns(DeprecationWarning, match="execution=sd.Execution"):
        forced = _quiet(sd.predict, LAND, SCHED, 2, ETA, force=True)
    assert forced.value.tolist() == _quiet(sd.predict, LAND, SCHED, 2, ETA).value.tolist()
    with pytest.warns(DeprecationWarning, match="measure"):
        stats = _quiet(sd.measure, LAND, 2, samples=200, seed=5)
    again = _quiet(sd.measure, LAND, 2, sd.Sampling(samples=200, seed=5))
    assert _quiet(sd.predict, stats, SCHED, 2, ETA).value.tolist() == \
        _quiet(sd.predict, again, SCHED, 2, ETA).value.tolist()
    with pytest.warns(DeprecationWarning, match="simulate"):
        a = sd.simulate(LAND, SCHED, eta=ETA, trials=30, seed=2, force=True)
    assert a.summaries == sd.simulate(LAND, SCHED, eta=ETA, trials=30, execution=sd.Execution(force=True),
                                      sampling=sd.Sampling(seed=2)).summaries
    with pytest.warns(DeprecationWarning, match="whatif"):
        grid = _quiet(sd.whatif, stats, SCHED, 2, ETA, "batch", [1, 2], progress=False)
    assert np.array_equal(grid.value["test-loss"], _quiet(sd.whatif, stats, SCHED, 2, ETA, "batch", [1, 2]).value[
        "test-loss"])


def test_the_warning_points_at_the_caller():
    with pytest.warns(DeprecationWarning) as record:
        _quiet(sd.predict, LAND, SCHED, 1, ETA, force=True)
    assert record[0].filename == __file__


def test_an_option_given_twice_or_unknown_is_refused():
    with pytest.raises(sd.SgdDiagramsError, match="given both"), pytest.warns(DeprecationWarning):
        sd.predict(LAND, SCHED, 2, ETA, sampling=sd.Sampling(samples=100), samples=200)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sample'"):
        sd.predict(LAND, SCHED, 2, ETA, sample=100)
    with pytest.raises(sd.SgdDiagramsError, match="sd.Sampling"):
        sd.predict(LAND, SCHED, 2, ETA, sampling={"samples": 100})
    with pytest.raises(sd.SgdDiagramsError, match="only the seed"):
        sd.simulate(LAND, SCHED, eta=ETA, trials=10, sampling=sd.Sampling(samples=10))
    with pytest.raises(sd.SgdDiagramsError, match="sample count"):
        sd.measure(LAND, 2, sd.Sampling(seed=1))


BAD_SAMPLING = [{"samples": 0}, {"samples": 2.5}, {"samples": True}, {"seed": -1}, {"seed": "1"},
                {"replications": 1}, {"cache": 3}, {"krylov_dim": 0}, {"resummation": "sparse"}, {"samples": 10**12}]
BAD_EXECUTION = [{"backend": "mpi"}, {"backend": 1}, {"address": "auto"}, {"device": 0}, {"progress": "yes"},
                 {"force": 1}, {"backend": "ray", "address": " "}]


@pytest.mark.parametrize("fields", BAD_SAMPLING, ids=str)
def test_bad_sampling_fields_are_one_line_errors(fields):
    with pytest.raises(sd.SgdDiagramsError) as info:
        sd.Sampling(**fields)
    assert "\n" not in str(info.value) and next(iter(fields)) in str(info.value)


@pytest.mark.parametrize("fields", BAD_EXECUTION, ids=str)
def test_bad_execution_fields_are_one_line_errors(fields):
    with pytest.raises(sd.SgdDiagramsError) as info:
        sd.Execution(**fields)
    assert "\n" not in str(info.value)


@settings(max_examples=40, deadline=None)
@given(samples=st.one_of(st.none(), st.integers(1, 10**6)), seed=st.one_of(st.none(), st.integers(0, 2**31)),
       replications=st.one_of(st.none(), st.integers(2, 50)),
       resummation=st.sampled_from(("auto", "dense", "matrix-free")))
def test_good_sampling_round_trips_and_is_frozen(samples, seed, replications, resummation):
    s = sd.Sampling(samples=samples, seed=seed, replications=replications, resummation=resummation)
    assert dataclasses.replace(s) == s and (s.samples, s.seed, s.replications) == (samples, seed, replications)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.samples = 5  # type: ignore[misc]


def test_the_cli_maps_its_flags_in_one_place():
    args = argparse.Namespace(samples=300, seed=2, replications=5, cache="c", no_cache=True, krylov=7,
                              resummation="matrix-free", backend="local", address=None, device="cpu",
                              quiet=True, force=True)
    assert sampling_from_args(args) == sd.Sampling(samples=300, seed=2, replications=5, cache=None, krylov_dim=7,
                                                   resummation="matrix-free")
    assert sampling_from_args(args, fixed_by_statistics=True) == sd.Sampling(krylov_dim=7,
                                                                             resummation="matrix-free")
    assert execution_from_args(args) == sd.Execution(device="cpu", progress=False, force=True)
    assert execution_from_args(argparse.Namespace()) == sd.Execution(progress=True)


class _Saved:
    """Not a Statistics, but carries measured values through the protocol."""

    def __init__(self, stats):
        self._stats = stats

    def measured_values(self):
        return self._stats


def test_predict_dispatches_on_the_measured_values_protocol():
    stats = _quiet(sd.measure, LAND, 2, sd.Sampling(samples=200, seed=1))
    assert measured_values(stats) is stats and measured_values(LAND) is None
    direct = _quiet(sd.predict, stats, SCHED, 2, ETA)
    wrapped = _quiet(sd.predict, _Saved(stats), SCHED, 2, ETA)
    assert direct.value.tolist() == wrapped.value.tolist()
    assert _quiet(sd.whatif, _Saved(stats), SCHED, 2, ETA, "batch", [1]).value["test-loss"].tolist() == \
        _quiet(sd.whatif, stats, SCHED, 2, ETA, "batch", [1]).value["test-loss"].tolist()
