"""Enumeration with a tree's orderings computed once (``Diagram.from_labellings``) gives exactly the diagrams
of the general canonicalization (``Diagram.from_structure``), labelling by labelling."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.diagrams.diagram import Diagram
from sgd_diagrams.diagrams.enumeration import rooted_trees, set_partitions


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.data())
def test_from_labellings_equals_from_structure(n, data):
    trees = rooted_trees(n)
    tree = trees[data.draw(st.integers(0, len(trees) - 1))]
    labellings = [tuple(data.draw(st.integers(0, n - 1)) for _ in range(n)) for _ in range(5)]
    assert list(Diagram.from_labellings(tree, labellings)) == [Diagram.from_structure(tree, p) for p in labellings]


def test_all_labellings_of_every_small_tree():
    for n in range(1, 6):
        for tree in rooted_trees(n):
            parts = list(set_partitions(n))
            assert list(Diagram.from_labellings(tree, iter(parts))) == [Diagram.from_structure(tree, p)
                                                                        for p in parts]
    assert list(Diagram.from_labellings((-1, 0), [])) == []
