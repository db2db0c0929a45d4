"""File names for diagram pictures that are safe on every file system and round-trip.

The notation ``r(a(b)c)`` becomes ``r_a_b-c``: ``(`` → ``_``, ``)`` → ``-``, and
the closing parentheses at the end (implied by balance) are dropped.  The map
is injective on canonical notations.
"""

from __future__ import annotations

from ..diagrams import Diagram

__all__ = ["picture_filename", "notation_from_filename"]


def picture_filename(d: Diagram, suffix: str = ".png") -> str:
    """``r(a(b)c)`` → ``r_a_b-c.png``."""
    stem = str(d).rstrip(")").replace("(", "_").replace(")", "-")
    return stem + suffix


def notation_from_filename(name: str) -> str:
    """Inverse of :func:`picture_filename` (suffix removed first)."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    text = stem.replace("_", "(").replace("-", ")")
    return text + ")" * (text.count("(") - text.count(")"))
