"""The shared history sweep: one set of states/transitions behind history counts and resummed sums."""

from __future__ import annotations

import ast
import itertools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import random_schedule, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.diagrams import Diagram, enumerate_diagrams, parse
from sgd_diagrams.schedules import from_batches, gd, sgd
from sgd_diagrams.schedules.histories import check_history, history_count, row_groups
from sgd_diagrams.schedules.sweep import HistorySweep, history_sweep
from sgd_diagrams.theory.geometric import continuous_history_sum, geometric_history_sum

KINDS = ("test", "train", "displacement")
DIAGRAMS = [d for kind in KINDS for edges in range(4) for d in enumerate_diagrams(edges, kind)]
SCHEDULES = [
    sgd(4, 1, 1),                                       # SGD in order, one epoch
    sgd(4, 2, 2, shuffle_seed=3),                       # reshuffled, two epochs
    sgd(3, 1, 3, shuffle_seed=5),                       # reshuffled, B = 1
    gd(3, 5),                                           # GD
    from_batches(3, [[0], [1, 2], [0, 1, 2], [2]]),     # irregular batches
    from_batches(4, [[3], [0, 1], [1, 2, 3], [0, 2], [2]]),
]


def brute_geometric_sum(d: Diagram, schedule, q: np.ndarray) -> float:
    """Σ over labelled maps of Π 1/|B_t| · Π_e q_e^{Δt_e−1}, / |Aut(D)| (1/N for a shared root)."""
    cells = [(n, t) for t, batch in enumerate(schedule.batches) for n in batch]
    sizes = schedule.batch_sizes
    m = d.n_edges
    total = 0.0
    for assignment in itertools.product(cells, repeat=m):
        place = dict(enumerate(assignment, start=1))
        time = {0: schedule.T, **{v: c[1] for v, c in place.items()}}
        if any(time[v] >= time[d.parents[v]] for v in range(1, m + 1)):
            continue
        rows: dict[int, int] = {}
        if any(rows.setdefault(d.parts[v], place[v][0]) != place[v][0] for v in range(1, m + 1)):
            continue
        w = 1.0
        for v in range(1, m + 1):
            w *= q[v - 1] ** (time[d.parents[v]] - time[v] - 1) / sizes[time[v]]
        total += w
    # a shared root reads its part's row (fixed above when the part has a non-root node): weight 1/N
    if not d.root_alone:
        total /= schedule.N
    return total / d.automorphisms


# -- the sweep itself ------------------------------------------------------------------------------
@pytest.mark.parametrize("d", DIAGRAMS, ids=str)
def test_states_and_transitions(d):
    sw = history_sweep(d)
    assert isinstance(sw, HistorySweep) and history_sweep(d) is sw  # cached: one sweep per diagram
    m = d.n_edges
    assert sw.m == m and sw.states[0] == 0 and sw.states[sw.full] == (1 << m) - 1
    closed = [s for s in range(1 << m)
              if all(not (s >> (v - 1)) & 1 or all((s >> (c - 1)) & 1 for c in d.children[v]) for v in range(1, m + 1))]
    assert list(sw.states) == closed
    assert all(sw.index[s] == i for i, s in enumerate(sw.states))
    tied_of = {v: j for j, part in enumerate(sw.tied_parts) for v in part}
    for part in sw.tied_parts:
        assert len(part) >= 2 and len({d.parts[v] for v in part}) == 1
    pairs = set()
    for a, b, counts, open_edges in sw.transitions:
        before, after = sw.states[a], sw.states[b]
        assert before & after == before
        placed = [v for v in range(1, m + 1) if (after & ~before) >> (v - 1) & 1]
        # only nodes whose children were all placed before this step
        assert all(all((before >> (c - 1)) & 1 for c in d.children[v]) for v in placed)
        assert counts == tuple(sum(1 for v in placed if tied_of.get(v) == j) for j in range(len(sw.tied_parts)))
        assert open_edges == tuple(c for c in range(1, m + 1) if (before >> (c - 1)) & 1
                                   and (d.parents[c] == 0 or not (after >> (d.parents[c] - 1)) & 1))
        pairs.add((a, b))
    assert len(pairs) == len(sw.transitions)  # each (from, to) once
    assert sw.root_shared == (not d.root_alone)


@pytest.mark.parametrize("d", DIAGRAMS, ids=str)
def test_unit_weights_give_the_counting_matrices(d):
    # histories.py reads the integer matrices and N₁ = A − I; geometric.py reads the q-weighted ones.
    sw = history_sweep(d)
    idle, events = sw.step_matrices()
    assert idle.dtype == np.int64 and not idle.flags.writeable
    np.testing.assert_array_equal(idle - np.eye(sw.n_states, dtype=np.int64), sw.idle_nilpotent)
    nil = sw.idle_nilpotent.astype(np.int64)
    assert not np.linalg.matrix_power(nil, sw.m + 1).any()  # nilpotent
    q_idle, q_events = sw.step_matrices(np.ones((2, sw.m)))
    assert q_idle.dtype == np.float64 and q_idle.shape == (2, sw.n_states, sw.n_states)
    np.testing.assert_array_equal(q_idle[0] - np.eye(sw.n_states), sw.idle_nilpotent)
    assert list(q_events) == list(events) and sw.zero_counts not in events
    for counts, mat in events.items():
        np.testing.assert_array_equal(q_events[counts][1], mat)
    # resting open edges are the self-loop's open edges
    for a, b, _counts, open_edges in sw.transitions:
        if a == b:
            assert sw.open_edges(sw.states[a], sw.states[a]) == open_edges


# -- both consumers agree --------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_unit_propagators_give_history_counts_for_every_kind(schedule):
    for d in DIAGRAMS:
        if d.n_edges == 0:
            continue
        got = geometric_history_sum(d, schedule, np.ones((1, d.n_edges)))[0]
        assert got == pytest.approx(history_count(d, schedule), rel=1e-12, abs=1e-12), str(d)


@settings(max_examples=20, deadline=None)
@given(seeds)
def test_unit_propagators_give_history_counts_on_random_schedules(seed):
    schedule = random_schedule(seed, max_N=4, max_T=6)
    for d in DIAGRAMS:
        if d.n_edges:
            got = geometric_history_sum(d, schedule, np.ones(d.n_edges))[0]
            assert math.isclose(got, history_count(d, schedule), rel_tol=1e-12, abs_tol=1e-12), (str(d), schedule)


batches_strategy = st.integers(1, 3).flatmap(lambda N: st.tuples(
    st.just(N), st.lists(st.sets(st.integers(0, N - 1), min_size=1), min_size=1, max_size=5)))


@settings(max_examples=25, deadline=None)
@given(batches_strategy, st.lists(st.floats(0.2, 1.0), min_size=3, max_size=3))
def test_geometric_sum_equals_brute_force_on_irregular_batches(spec, qs):
    N, batches = spec
    schedule = from_batches(N, [sorted(b) for b in batches])
    for d in DIAGRAMS:
        if d.n_edges == 0 or d.n_edges > 2 and schedule.T > 4:
            continue
        q = np.array(qs[: d.n_edges])
        got = geometric_history_sum(d, schedule, q[None])[0]
        assert math.isclose(got, brute_geometric_sum(d, schedule, q), rel_tol=1e-10, abs_tol=1e-12), str(d)


def test_continuous_sum_at_zero_rate_counts_one_epoch_histories_up_to_ties():
    # Remark 1 at rate 0: singletons arrive at rate 1, so r(a(b)) has T²/2 "histories" instead of C(T, 2).
    T = 50
    got = continuous_history_sum(parse("r(a(b))"), sgd(T, 1, 1), np.zeros((1, 2)))[0]
    assert got == pytest.approx(T**2 / 2, rel=1e-10)


# -- row groups and one history --------------------------------------------------------------------
def test_row_groups():
    rows, mults = row_groups(gd(5, 4), True)
    assert mults == (5,) and rows[0].times == (0, 1, 2, 3) and set(rows[0].weights) == {Fraction(1, 5)}
    rows, mults = row_groups(from_batches(3, [[0], [1, 2], [0, 1, 2], [2]]), False)
    assert sorted(zip((r.times for r in rows), mults, strict=True)) == [((0, 2), 1), ((1, 2), 1), ((1, 2, 3), 1)]
    rows, mults = row_groups(sgd(6, 2, 1), True)
    assert sum(mults) == 6 and all(len(r.times) == 1 for r in rows)


def test_check_history_lives_with_histories():
    import sgd_diagrams.drawing as drawing
    import sgd_diagrams.drawing.history as drawing_history

    assert drawing.check_history is check_history is drawing_history.check_history
    d, s = parse("r(a(b))"), sgd(3, 1, 1)
    assert check_history(d, s, {1: (2, 2), 2: (0, 0)}) == {1: (2, 2), 2: (0, 0)}


def test_schedules_layer_imports_no_theory_or_drawing():
    root = Path(__file__).parent.parent / "src" / "sgd_diagrams" / "schedules"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = ("." * node.level) + (node.module or "")
                assert not name.lstrip(".").startswith(("theory", "drawing")), (path.name, name)
                assert not (node.level == 0 and name.startswith(("sgd_diagrams.theory", "sgd_diagrams.drawing")))
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith(("sgd_diagrams.theory", "sgd_diagrams.drawing")) for a in node.names)
