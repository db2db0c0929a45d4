"""Diagram value type: canonical form, automorphisms, notation, enumeration, links."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.diagrams import Diagram, enumerate_diagrams, parse, rooted_trees
from sgd_diagrams.errors import SgdDiagramsError


def brute_automorphisms(d: Diagram) -> int:
    """Count node permutations fixing the root that preserve tree and partition."""
    n = d.n_nodes
    count = 0
    for perm in itertools.permutations(range(1, n)):
        sigma = (0,) + perm
        if any(d.parents[sigma[v]] != sigma[d.parents[v]] for v in range(1, n)):
            continue
        mapping = {}
        ok = True
        for v in range(n):
            a, b = d.parts[v], d.parts[sigma[v]]
            if mapping.setdefault(a, b) != b:
                ok = False
                break
        if ok and len(set(mapping.values())) == len(mapping):
            count += 1
    return count


def relabel(d: Diagram, perm: list[int]) -> tuple[list[int], list[int]]:
    """A non-canonical labelling: node v becomes perm[v]; part labels shuffled too."""
    n = d.n_nodes
    parents = [0] * n
    parts = [0] * n
    for v in range(n):
        parents[perm[v]] = -1 if d.parents[v] == -1 else perm[d.parents[v]]
        parts[perm[v]] = 7 * d.parts[v] + 3
    return parents, parts


def test_counts_of_test_diagrams_match_the_paper():
    # seed 001 App. A.3: four two-edged diagrams; 17 three-edged ones (the 1, 4, 17).
    assert [len(enumerate_diagrams(d, "test")) for d in (1, 2, 3)] == [1, 4, 17]
    assert {str(d) for d in enumerate_diagrams(2, "test")} == {"r(ab)", "r(a(b))", "r(aa)", "r(a(a))"}


def test_rooted_tree_counts_are_oeis_a000081():
    assert [len(rooted_trees(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


def test_linkless_two_edged_diagrams_are_three():
    # "There are three 2-edged linkless diagrams" (seed 001, Example Computation B).
    assert {str(d) for d in enumerate_diagrams(2, "test", linkless=True)} == {"r(ab)", "r(aa)", "r(a(a))"}


@pytest.mark.parametrize("kind", ["test", "train", "displacement"])
@pytest.mark.parametrize("edges", [0, 1, 2, 3, 4])
def test_notation_round_trips_and_automorphisms_match_brute_force(kind, edges):
    ds = enumerate_diagrams(edges, kind)
    assert len(set(ds)) == len(ds)
    for d in ds:
        assert parse(str(d)) == d
        assert str(parse(str(d))) == str(d)
        assert d.is_kind(kind)
        if edges <= 4:
            assert d.automorphisms == brute_automorphisms(d)


def test_enumeration_is_complete_against_labelled_brute_force():
    # Every labelled (tree, partition) with 3 edges is isomorphic to exactly one enumerated diagram.
    n = 4
    found = set()
    for parents in itertools.product(*[range(v) for v in range(1, n)]):
        parent = [-1, *parents]
        for parts in itertools.product(range(n), repeat=n):
            found.add(Diagram.from_structure(parent, parts))
    assert found == set(enumerate_diagrams(3, "train"))
    assert {d for d in found if d.root_alone} == set(enumerate_diagrams(3, "test"))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 4), st.sampled_from(["test", "train"]), st.data())
def test_canonical_form_is_invariant_under_relabeling(edges, kind, data):
    ds = enumerate_diagrams(edges, kind)
    d = data.draw(st.sampled_from(ds))
    rest = data.draw(st.permutations(list(range(1, d.n_nodes))))
    perm = [0] + list(rest)
    parents, parts = relabel(d, perm)
    assert Diagram.from_structure(parents, parts) == d
    assert hash(Diagram.from_structure(parents, parts)) == hash(d)


def test_links_and_reduction():
    chain = parse("r(a(b(c)))")
    assert chain.links() == (1, 2)
    assert chain.linkless_reduction() == parse("r(a)")
    # tied nodes are not links; the root is never a link
    assert parse("r(a(a))").is_linkless
    assert parse("r(a(b(a)))").links() == (2,)
    assert parse("r(a(b(a)))").linkless_reduction() == parse("r(a(a))")
    with pytest.raises(SgdDiagramsError):
        parse("r(ab)").reduce_link(1)


@pytest.mark.parametrize("edges", [1, 2, 3, 4])
def test_every_diagram_reduces_to_exactly_one_linkless_diagram(edges):
    linkless = set()
    for k in range(edges + 1):
        linkless |= set(enumerate_diagrams(k, "train", linkless=True))
    for d in enumerate_diagrams(edges, "train"):
        r = d.linkless_reduction()
        assert r.is_linkless and r in linkless
        assert r.n_edges == d.n_edges - len(d.links()) or r.n_edges < d.n_edges


def test_displacement_diagrams_have_one_root_child():
    for d in enumerate_diagrams(3, "displacement"):
        assert len(d.children[0]) == 1 and d.root_alone
    assert enumerate_diagrams(0, "displacement") == ()


def test_degrees_and_parts():
    d = parse("a(a(b)c)")
    assert not d.root_alone and d.n_edges == 3 and d.n_parts == 3
    assert d.degree(0) == 2 and sorted(d.degree(v) for v in range(1, 4)) == [1, 1, 2]
    assert np.isclose(parse("r(aaa)").automorphisms, 6)


@pytest.mark.parametrize("bad", ["", "r(", "r()", "R(a)", "r(a)x", "a(r)", "r(a(b)", "r[a]", "r(1)"])
def test_bad_notation_is_a_clear_error(bad):
    with pytest.raises(SgdDiagramsError) as exc:
        parse(bad)
    assert "\n" not in str(exc.value)


def test_unknown_kind_and_bad_edges():
    with pytest.raises(SgdDiagramsError):
        enumerate_diagrams(2, "nonsense")
    with pytest.raises(SgdDiagramsError):
        enumerate_diagrams(-1)
