"""Diagrams: rooted trees with a partition of nodes (seed 001 Def. 1, 4, 5)."""

from .diagram import Diagram
from .enumeration import KINDS, enumerate_diagrams, rooted_trees, set_partitions
from .notation import format_diagram, parse
from .quantity import DIAGRAM_QUANTITY_NAMES, QUANTITIES, QUANTITY_NAMES, Quantity, quantity

__all__ = [
    "DIAGRAM_QUANTITY_NAMES",
    "Diagram",
    "QUANTITIES",
    "QUANTITY_NAMES",
    "Quantity",
    "quantity",
    "KINDS",
    "enumerate_diagrams",
    "format_diagram",
    "parse",
    "rooted_trees",
    "set_partitions",
]
