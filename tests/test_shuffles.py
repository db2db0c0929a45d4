"""History counts averaged over reshuffles: exactly the mean over every shuffle (brute force), wired into
the Taylor series, and refused where one concrete grid is needed."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

import sgd_diagrams as sd
from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.schedules import from_batches, parse_schedule_spec, schedule_from_json, sgd_reshuffled
from sgd_diagrams.schedules.histories import history_count
from sgd_diagrams.schedules.shuffles import expected_history_count
from sgd_diagrams.schedules.sweep import history_sweep


def _all_shuffles(N: int, B: int, E: int):
    perms = list(itertools.permutations(range(N)))
    for combo in itertools.product(perms, repeat=E):
        yield from_batches(N, [tuple(p[b * B:(b + 1) * B]) for p in combo for b in range(N // B)])


def _brute(d, N, B, E) -> Fraction:
    counts = [history_count(d, s, exact=True) for s in _all_shuffles(N, B, E)]
    return sum(counts, Fraction(0)) / len(counts)


@pytest.mark.parametrize("N,B,E", [(3, 1, 2), (4, 2, 1), (2, 1, 3)])
def test_expected_counts_equal_the_mean_over_every_shuffle(N, B, E):
    rng = random.Random(N * 100 + B * 10 + E)
    for kind in ("test", "train", "displacement"):
        diagrams = [d for k in range(1 if kind == "displacement" else 0, 4) for d in enumerate_diagrams(k, kind)
                    if history_sweep(d).tied_parts]  # the others are the same for every shuffle
        for d in rng.sample(diagrams, min(len(diagrams), 8)):
            assert expected_history_count(d, N, B, E, exact=True) == _brute(d, N, B, E), (d, N, B, E)


@pytest.mark.slow
@pytest.mark.parametrize("N,B,E", [(3, 1, 2), (2, 1, 3)])
def test_every_diagram_to_three_edges_exhaustively(N, B, E):
    for kind in ("test", "train", "displacement"):
        for k in range(1 if kind == "displacement" else 0, 4):
            for d in enumerate_diagrams(k, kind):
                assert expected_history_count(d, N, B, E, exact=True) == _brute(d, N, B, E), (d, N, B, E)


def test_two_tied_parts_sharing_or_not_a_row():
    rng = random.Random(0)
    two = [d for kind in ("test", "train") for d in enumerate_diagrams(4, kind)
           if len(history_sweep(d).tied_parts) >= 2]
    for d in rng.sample(two, 4):
        assert expected_history_count(d, 3, 1, 2, exact=True) == _brute(d, 3, 1, 2), d


def test_series_on_the_shuffle_average():
    land = sd.landscape("example")
    avg = sd.taylor_series(land, sgd_reshuffled(3, 1, 2), 4, "gen-gap").coefficients
    every = [sd.taylor_series(land, s, 4, "gen-gap").coefficients for s in _all_shuffles(3, 1, 2)]
    mean = [sum(c[k] for c in every) / len(every) for k in range(5)]
    assert avg == pytest.approx(mean, rel=1e-10, abs=1e-12)
    assert parse_schedule_spec("sgd:N=3,E=2,seed=average").description["shuffle"] == "average"
    assert schedule_from_json({"N": 3, "E": 2, "shuffle": "average"}).description["shuffle"] == "average"
    with pytest.raises(sd.SgdDiagramsError, match="concrete grid"):
        sd.predict(land, sgd_reshuffled(3, 1, 2), 2, 0.01, method="resummed")
    with pytest.raises(sd.SgdDiagramsError):
        schedule_from_json({"N": 3, "shuffle": "sometimes"})


def test_simulating_the_shuffle_average_draws_a_fresh_shuffle_per_trial():
    """Simulated SGD on sgd_reshuffled agrees with the exact expectation averaged over every shuffle
    (enumerating all training sets and shuffles), within 4 standard errors."""
    import numpy as np

    from sgd_diagrams.optimizers.exact_expectation import exact_expectation

    land, eta = sd.landscape("example"), 0.2
    average = np.mean([exact_expectation(land, s, [eta])["test-loss"][0] for s in _all_shuffles(3, 1, 2)])
    sim = sd.simulate(land, sgd_reshuffled(3, 1, 2), eta=eta, trials=40000, seed=0)
    assert abs(sim.mean()[0] - average) < 4 * sim.sem()[0]
