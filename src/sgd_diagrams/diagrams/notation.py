"""A compact text notation for diagrams that round-trips (parse ↔ print).

Grammar (whitespace ignored)::

    diagram := node
    node    := LABEL [ "(" node+ ")" ]
    LABEL   := "r" | a lowercase letter other than "r"

A node is a letter naming its part, followed by its children in parentheses.
The diagram is written from the root: ``r`` marks a root that is alone in
its part; a root written with a part letter shares that part with the
non-root nodes carrying the same letter (train-loss diagrams).  Examples:

==============  =====================================================
``r``           the empty diagram (order η^0): just the measurement
``r(a)``        one gradient feeding the root: −G η G (Prop 0)
``r(a(b))``     a chain: G η H η G
``r(a(a))``     a chain inside one part: ⟨∇²l, ∇l⟩ cumulant (∇C/2)
``r(ab)``       two independent leaves on the root: H(ηG, ηG)
``r(aa)``       two leaves in one part on the root: tr(C η H η)
``a(a)``        train diagram: the root reads the same point as its child
==============  =====================================================

Printing uses the canonical form (children in a fixed order, parts lettered
a, b, c, … by first appearance, skipping r), so ``format(parse(s))`` is the
canonical spelling of ``s`` and ``parse(format(D)) == D``.
"""

from __future__ import annotations

from ..errors import SgdDiagramsError
from ..limits import MAX_NOTATION_NODES
from .diagram import PART_LETTERS, Diagram, format_diagram

__all__ = ["parse", "format_diagram", "PART_LETTERS"]

def parse(text: str) -> Diagram:
    """Parse the notation into a canonical :class:`Diagram` (see module docstring)."""
    if not isinstance(text, str):
        raise SgdDiagramsError("diagram notation must be a string such as 'r(a(b))'")
    s = "".join(text.split())
    if not s:
        raise SgdDiagramsError("empty diagram notation; the smallest diagram is 'r'")
    letters = sum(ch.isalpha() for ch in s)
    if letters > MAX_NOTATION_NODES or len(s) > 4 * MAX_NOTATION_NODES:
        raise SgdDiagramsError(
            f"diagram notation with {letters} nodes is too large (at most {MAX_NOTATION_NODES}, i.e. "
            f"{MAX_NOTATION_NODES - 1} edges); the engine works to 6 edges"
        )
    parents: list[int] = []
    labels: list[str] = []
    pos = 0

    def fail(msg: str) -> SgdDiagramsError:
        return SgdDiagramsError(f"bad diagram notation {text!r}: {msg} at position {pos}; e.g. 'r(a(b)c)'")

    def node(parent: int) -> None:
        nonlocal pos
        if pos >= len(s):
            raise fail("expected a node letter")
        ch = s[pos]
        if not ch.isalpha() or not ch.islower():
            raise fail(f"expected a lowercase letter, found {ch!r}")
        if ch == "r" and parent != -1:
            raise fail("'r' may only mark the root")
        me = len(parents)
        parents.append(parent)
        labels.append(ch)
        pos += 1
        if pos < len(s) and s[pos] == "(":
            pos += 1
            if pos < len(s) and s[pos] == ")":
                raise fail("empty child list '()'")
            while pos < len(s) and s[pos] != ")":
                node(me)
            if pos >= len(s):
                raise fail("missing ')'")
            pos += 1

    node(-1)
    if pos != len(s):
        raise fail(f"unexpected trailing {s[pos:]!r}")
    part_ids: dict[str, int] = {}
    parts = []
    for v, lab in enumerate(labels):
        key = lab if lab != "r" else f"root{v}"
        part_ids.setdefault(key, len(part_ids))
        parts.append(part_ids[key])
    return Diagram.from_structure(parents, parts)
