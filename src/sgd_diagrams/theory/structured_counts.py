"""Exact history counts for in-order SGD and GD, derived at run time (seed 001 Prop 2, App. A.3).

Theorem 1's coefficient of uvalue(D) is (−1)^d · count(D), with count(D) = Σ_f 1/|Aut_f(D)| ·
Π_nodes 1/|B_t| the weighted number of histories of D in the schedule's grid (seed 001 App. A.3).
For the two structured families this count is an exact polynomial (Laurent in B, resp. N) in the
hyper-parameters:

* ``sgd`` — in-order SGD ``sgd(N, B, E)`` (no ``shuffle_seed``): a polynomial in N, B, E, B^{-1}
  (and N^{-1} for a train root that shares its part);
* ``gd`` — full-batch GD ``gd(N, T)``: a polynomial in T, N^{-1}.

The polynomial comes from one derivation, :mod:`sgd_diagrams.theory.order_polynomials` (a sum over weak
orders of the node times, no fit and no sweep), cached per diagram and process; a count is then an exact
rational evaluation of a few dozen monomials, whatever N, B, E or T.  Nothing is shipped: deriving every
diagram with ≤ 4 edges for both families takes about as long as reading a table of them would
(``benchmarks/bench_count_derivation.py``).  :mod:`sgd_diagrams.theory.symbolic` prints the same
polynomials as sympy expressions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..diagrams import Diagram
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule
from .order_polynomials import DERIVED_MAX_EDGES, Monomial, derived_count_polynomial

__all__ = [
    "COUNT_FAMILIES",
    "structured_count",
    "structured_family",
    "structured_history_count",
]

COUNT_FAMILIES: dict[str, tuple[str, ...]] = {"sgd": ("N", "B", "E"), "gd": ("N", "T")}


class _IntegerForm:
    """A Laurent polynomial Σ c_k Π v_i^{e_ki} as (Σ a_k Π v_i^{e_ki + s_i}) / (L · Π v_i^{s_i}), a_k integers.

    Evaluating it needs integer arithmetic only, so counts at N = 10^7 are exact and fast.
    """

    __slots__ = ("shifts", "denominator", "terms")

    def __init__(self, monomials: Sequence[Monomial], n_vars: int) -> None:
        self.shifts = tuple(max([0] + [-e[i] for e, _ in monomials]) for i in range(n_vars))
        self.denominator = math.lcm(*[c.denominator for _, c in monomials]) if monomials else 1
        self.terms = tuple(
            (tuple(e[i] + self.shifts[i] for i in range(n_vars)), int(c * self.denominator)) for e, c in monomials
        )

    def evaluate(self, values: Sequence[int]) -> Fraction:
        num = 0
        for exps, a in self.terms:
            term = a
            for v, e in zip(values, exps, strict=True):
                if e:
                    term *= v**e
            num += term
        den = self.denominator
        for v, s in zip(values, self.shifts, strict=True):
            if s:
                den *= v**s
        return Fraction(num, den)



def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)



# -- which schedules are structured ------------------------------------------------------------
def structured_family(schedule: Schedule) -> tuple[str, tuple[int, ...]] | None:
    """``("sgd", (N, B, E))`` for in-order SGD, ``("gd", (N, T))`` for GD, else None.

    Decided from ``schedule.description`` as written by :func:`~sgd_diagrams.schedules.sgd` /
    :func:`~sgd_diagrams.schedules.gd` (an ``explicit`` key, or any other key, means no; a
    ``shuffle_seed`` means no unless E = 1), then checked against the batches in O(T) — sizes, first and
    last rows — so a hand-built Schedule carrying a copied description is not mistaken for the family.
    (Batches are validated sorted with distinct rows, so a size-B batch from bB to bB+B−1 is exactly
    {bB, …, bB+B−1}.)

    One reshuffled epoch (``sgd(N, B, 1, shuffle_seed=s)``) visits every row once, in batches of B: it is
    in-order SGD with its rows relabelled, and a count does not depend on the rows' names, so it is
    served as ``("sgd", (N, B, 1))`` once the batches are checked to partition the rows.  With E ≥ 2
    epochs the count of a diagram with k tied parts depends on where each k-tuple of rows falls in
    every epoch — no closed form — and is swept (~N^k row tuples: order 4, with two tied parts, stays
    near N ≈ 300 within the time budget).
    """
    if not isinstance(schedule, Schedule):
        raise SgdDiagramsError("structured_family needs a Schedule (see sgd_diagrams.schedules)")
    if not schedule.plain:  # lr multipliers or momentum: the tables are for constant-η plain SGD
        return None
    desc = schedule.description
    if not isinstance(desc, Mapping):
        return None
    if not all(_is_int(desc.get(k)) and desc[k] >= (0 if k == "shuffle_seed" else 1) for k in desc if k != "gd"):
        return None
    N, T = schedule.N, schedule.T
    if set(desc) == {"N", "B", "E", "shuffle_seed"} and desc["E"] == 1:
        # One reshuffled epoch is in-order SGD with its rows relabelled: every row in exactly one batch of B.
        B = desc["B"]
        if desc["N"] != N or N % B or T != N // B:
            return None
        seen = bytearray(N)
        for batch in schedule.batches:
            if len(batch) != B:
                return None
            for n in batch:
                if seen[n]:
                    return None
                seen[n] = 1
        return "sgd", (N, B, 1)
    if set(desc) == {"N", "B", "E"}:
        B, E = desc["B"], desc["E"]
        if desc["N"] != N or N % B or T != E * (N // B):
            return None
        M = N // B
        for t, batch in enumerate(schedule.batches):
            first = (t % M) * B
            if len(batch) != B or batch[0] != first or batch[-1] != first + B - 1:
                return None
        return "sgd", (N, B, E)
    if set(desc) == {"N", "T", "gd"} and desc["gd"] is True:
        if desc["N"] != N or desc["T"] != T:
            return None
        if any(len(batch) != N for batch in schedule.batches):  # distinct rows in 0..N−1: all of them
            return None
        return "gd", (N, T)
    return None


@lru_cache(maxsize=131072)  # as order_polynomials._derived: no eviction within 6 edges
def _integer_form(d: Diagram, family: str) -> _IntegerForm:
    return _IntegerForm(derived_count_polynomial(d, family), len(COUNT_FAMILIES[family]))


def structured_count(d: Diagram, family: str, values: Sequence[int]) -> Fraction | None:
    """count(D) for a family ('sgd': N, B, E; 'gd': N, T) at ``values``, exact; None beyond the derivation.

    The polynomial is derived once per diagram and process (:func:`~.order_polynomials.derived_count_polynomial`,
    up to :data:`~.order_polynomials.DERIVED_MAX_EDGES` edges) and evaluated in integers.
    """
    names = COUNT_FAMILIES.get(family)
    if names is None:
        raise SgdDiagramsError(f"unknown schedule family {family!r}; use {' or '.join(COUNT_FAMILIES)}")
    if len(values) != len(names) or not all(_is_int(v) and v >= 1 for v in values):
        raise SgdDiagramsError(f"family {family!r} counts need positive integers {', '.join(names)}; got {values}")
    if d.n_edges > DERIVED_MAX_EDGES:
        return None
    return _integer_form(d, family).evaluate(values)


def structured_history_count(d: Diagram, schedule: Schedule) -> float | None:
    """history_count(d, schedule) from the derived closed forms, or None when they do not apply.

    They apply to in-order SGD and GD (:func:`structured_family`) and diagrams with at most
    :data:`~.order_polynomials.DERIVED_MAX_EDGES` edges.  The polynomial is evaluated exactly (integers and
    one :class:`~fractions.Fraction`) and rounded once to float64, so it is exact to the last bit at
    N = 10^5 and beyond, where the float sweep would take hours (seed 001 Prop 2, App. A.3).
    """
    if not isinstance(d, Diagram):
        raise SgdDiagramsError("structured_history_count needs a Diagram (use sgd_diagrams.diagrams.parse)")
    if d.n_edges > DERIVED_MAX_EDGES:
        return None
    fam = structured_family(schedule)
    if fam is None:
        return None
    count = structured_count(d, fam[0], fam[1])
    return None if count is None else float(count)
