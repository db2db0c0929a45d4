"""Symbolic Taylor coefficients for standard schedules (seed 001 Prop 1, Prop 2, Table 2).

Theorem 1 writes E[s(θ_T)] = Σ_D (−1)^d · count(D) · uvalue(D) + o(η^d), where
count(D) = Σ_f 1/|Aut_f(D)| · Π_nodes 1/|B_t| is the weighted number of
histories of D in the grid (seed 001 App. A.3, A.5).  For the two standard
grid families the count is a closed-form function of the hyper-parameters:

* ``sgd`` — in-order SGD on N points with batch size B (dividing N) for E
  epochs, T = E·N/B steps (seed 001 App. A.2, Figure 10);
* ``gd`` — full-batch gradient descent, N points, T steps.

**Why the count is a polynomial.**  Let m be the number of non-root nodes,
k the number of *tied* parts (two or more non-root nodes) and s the number of
nodes in them.  A node alone in its part may sit in any shaded cell of a
column, and the column's cells weigh 1/B each, B of them: every column weighs
1.  A tied part picks one row; in-order SGD has M = N/B classes of B identical
rows (rows in one batch share their times t = e·M + b), so summing over rows
gives a factor B^k, and the s tied nodes weigh B^{−s}.  The remaining sum over
times is a sum of binomials C(gap, j) of gaps that are affine in M and the
batch indices b, summed over 0 ≤ b < M and over E epochs with a unipotent
transfer matrix: a polynomial P(M, E) of degree ≤ m in E and ≤ (m − s) + k in
M.  Hence count = B^{k−s} · P(N/B, E) (divided by N for a train root that
shares its part).  For GD, likewise, count = N^{k−s} · P(T).

**How it is computed.**  The polynomial is derived, not fitted:
:mod:`sgd_diagrams.theory.order_polynomials` sums over weak orders of the node
times (the same closed form every numeric count of these families uses, see
:mod:`sgd_diagrams.theory.structured_counts`); the tests compare it with exact
history sweeps (``history_count(..., exact=True)``) and with an exact
interpolation of those sweeps (:mod:`sgd_diagrams.theory.interpolation`).

**Shuffling.**  The formulas are for in-order SGD.  Reshuffling the data each
epoch (``sgd(..., shuffle_seed=s)``) gives the same counts through order η^3
for every quantity: a diagram with ≤ 3 edges has at most one tied part and
its count is a linear function of the positions of that part's row in each
epoch, and Σ_n position_e(n) does not depend on the permutation.  From order
η^4 on (e.g. ``r(a(b)a(c))``: two free nodes between a row's two visits, a
quadratic function of the positions) the counts depend on the permutation,
even with B = 1; there the formulas below give in-order SGD only.
See ``docs/symbolic.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy as sp

from ..diagrams import DIAGRAM_QUANTITY_NAMES as QUANTITIES
from ..diagrams import Diagram
from ..diagrams import quantity as quantity_of
from ..diagrams.value_names import value_latex, value_name
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule, gd, sgd
from .order_polynomials import derived_count_polynomial

__all__ = [
    "FAMILIES",
    "N",
    "B",
    "E",
    "T",
    "SymbolicTerm",
    "SymbolicSeries",
    "symbolic_history_count",
    "symbolic_series",
    "family_schedule",
    "in_steps",
]

FAMILIES = ("sgd", "gd")
N, B, E, T = sp.symbols("N B E T", positive=True)
MAX_SYMBOLIC_ORDER = 4

_FAMILY_SYMBOLS = {"sgd": (N, B, E), "gd": (N, T)}


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise SgdDiagramsError(f"unknown schedule family {family!r}; use 'sgd' (N, B, E) or 'gd' (N, T)")


def family_schedule(family: str, **numbers: int) -> Schedule:
    """The concrete schedule of a family: ``sgd(N=, B=, E=)`` (in order) or ``gd(N=, T=)``."""
    _check_family(family)
    names = [str(s) for s in _FAMILY_SYMBOLS[family]]
    if set(numbers) != set(names):
        raise SgdDiagramsError(f"schedule family {family!r} needs exactly {', '.join(names)}; got {sorted(numbers)}")
    if family == "sgd":
        return sgd(numbers["N"], numbers["B"], numbers["E"])
    return gd(numbers["N"], numbers["T"])


# -- the closed forms as expressions ---------------------------------------------------------
@lru_cache(maxsize=4096)
def symbolic_history_count(d: Diagram, family: str = "sgd") -> sp.Expr:
    """count(D) = Σ_f 1/|Aut_f(D)| Π 1/|B_t| as a sympy expression (the derived closed form).

    ``family='sgd'``: in N, B, E (in-order SGD, T = E·N/B steps); ``family='gd'``: in N, T.  The
    polynomial is :func:`~sgd_diagrams.theory.order_polynomials.derived_count_polynomial`'s, the one every
    numeric count of these families uses (checked against exact history sweeps in the tests).
    """
    if not isinstance(d, Diagram):
        raise SgdDiagramsError("symbolic_history_count needs a Diagram (use sgd_diagrams.diagrams.parse)")
    _check_family(family)
    if d.n_edges > MAX_SYMBOLIC_ORDER:
        raise SgdDiagramsError(
            f"diagram {d} has {d.n_edges} edges; symbolic counts are offered up to {MAX_SYMBOLIC_ORDER} edges"
        )
    symbols = _FAMILY_SYMBOLS[family]
    expr = sp.Integer(0)
    for exps, c in derived_count_polynomial(d, family):
        term = sp.Rational(c.numerator, c.denominator)
        for symbol, e in zip(symbols, exps, strict=True):
            term *= symbol**e
        expr += term
    return sp.factor(sp.expand(expr))


def in_steps(expr: sp.Expr, fixed: Mapping[str, int] | None = None) -> sp.Expr:
    """Rewrite an ``sgd`` expression with T = E·N/B steps instead of E (E → T·B/N).

    ``fixed`` are symbols already given numbers (e.g. ``{"B": 1}``); they are put back after.
    """
    out = sp.sympify(expr).subs(E, T * B / N)
    if fixed:
        out = out.subs({sp.Symbol(k, positive=True): v for k, v in fixed.items()})
    return sp.factor(sp.expand(out))


# -- series -----------------------------------------------------------------------------------
def _to_fraction(value: sp.Expr) -> Fraction:
    value = sp.nsimplify(value) if not value.is_Rational else value
    if not value.is_Rational:
        raise SgdDiagramsError("symbolic coefficient did not evaluate to a number; give every symbol a value")
    return Fraction(int(value.p), int(value.q))


@dataclass(frozen=True)
class SymbolicTerm:
    """One diagram's coefficient: sign · (−1)^d · count(D), times the named value uvalue(D)."""

    diagram: Diagram
    coefficient: sp.Expr
    name: str
    latex_name: str

    @property
    def notation(self) -> str:
        return str(self.diagram)

    @property
    def edges(self) -> int:
        return self.diagram.n_edges

    def evaluate(self, **numbers: int) -> Fraction:
        """The coefficient at numbers, e.g. ``evaluate(N=10, B=2, E=3)`` (exact)."""
        subs = {sp.Symbol(k, positive=True): v for k, v in numbers.items()}
        missing = self.coefficient.free_symbols - set(subs)
        if missing:
            names = ", ".join(sorted(str(s) for s in missing))
            raise SgdDiagramsError(f"give a value for {names} to evaluate the coefficient of {self.notation}")
        return _to_fraction(self.coefficient.subs(subs))


@dataclass(frozen=True)
class SymbolicSeries:
    """Theorem 1's coefficients of η^0..η^order for a schedule family, one term per diagram."""

    family: str
    order: int
    quantity: str
    terms: tuple[SymbolicTerm, ...]
    fixed: tuple[tuple[str, int], ...] = ()

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        return _FAMILY_SYMBOLS[self.family]

    def terms_of_order(self, k: int) -> tuple[SymbolicTerm, ...]:
        return tuple(t for t in self.terms if t.edges == k)

    def substitute(self, **numbers: int) -> SymbolicSeries:
        """Specialise some symbols (e.g. ``B=1``); terms whose coefficient becomes 0 are dropped."""
        allowed = {str(s) for s in self.symbols}
        unknown = set(numbers) - allowed
        if unknown:
            raise SgdDiagramsError(
                f"cannot set {sorted(unknown)} for family {self.family!r}; its symbols are {sorted(allowed)}"
            )
        subs = {sp.Symbol(k, positive=True): v for k, v in numbers.items()}
        new = []
        for t in self.terms:
            c = sp.factor(t.coefficient.subs(subs))
            if c != 0:
                new.append(SymbolicTerm(t.diagram, c, t.name, t.latex_name))
        fixed = tuple(sorted({**dict(self.fixed), **numbers}.items()))
        return SymbolicSeries(self.family, self.order, self.quantity, tuple(new), fixed)

    def coefficients(self, uvalues: Mapping[Diagram, Any], **numbers: int) -> list:
        """c_k = Σ_{D with k edges} coefficient(D)·uvalue(D) at numbers (compare ``taylor_series``)."""
        out = []
        for k in range(self.order + 1):
            total: Any = 0.0
            for t in self.terms_of_order(k):
                if t.diagram not in uvalues:
                    raise SgdDiagramsError(f"no uvalue given for diagram {t.notation}")
                total = total + float(t.evaluate(**numbers)) * uvalues[t.diagram]
            out.append(total)
        return out

    def to_json(self) -> dict[str, Any]:
        """``{"schedule", "order", "quantity", "symbols", "terms": [...]}`` (see ``docs/symbolic.md``)."""
        return {
            "schedule": self.family,
            "order": self.order,
            "quantity": self.quantity,
            "symbols": [str(s) for s in self.symbols],
            "fixed": dict(self.fixed),
            "terms": [
                {
                    "notation": t.notation,
                    "edges": t.edges,
                    "coefficient": str(t.coefficient),
                    "latex": sp.latex(t.coefficient),
                    "name": t.name,
                    "name_latex": t.latex_name,
                }
                for t in self.terms
            ],
        }


@lru_cache(maxsize=64)
def _symbolic_series(order: int, family: str, name: str) -> SymbolicSeries:
    sign = -1 if name == "gen-gap" else 1
    root = "displacement" if name == "displacement" else "loss"
    terms = []
    for k in range(order + 1):
        for d in quantity_of(name).diagrams(k):
            c = sp.factor(sign * (-1) ** k * symbolic_history_count(d, family))
            if c == 0:
                continue
            terms.append(SymbolicTerm(d, c, value_name(d, root), value_latex(d, root)))
    return SymbolicSeries(family, order, name, tuple(terms))


def symbolic_series(order: int, family: str = "sgd", quantity: str = "test-loss") -> SymbolicSeries:
    """Symbolic Theorem 1 coefficients through η^order (Prop 1/Prop 2 style), cached.

    Each term is sign·(−1)^d·count(D) as a sympy expression in the family's symbols
    (``sgd``: N, B, E; ``gd``: N, T) with the diagram's named value; sign = −1 for
    the generalization gap (test − train), +1 otherwise.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise SgdDiagramsError(f"order must be a non-negative integer, got {order!r}")
    if order > MAX_SYMBOLIC_ORDER:
        raise SgdDiagramsError(f"symbolic order {order} is too expensive; use order <= {MAX_SYMBOLIC_ORDER}")
    _check_family(family)
    if quantity not in QUANTITIES:
        raise SgdDiagramsError(f"unknown quantity {quantity!r}; use one of {', '.join(QUANTITIES)}")
    return _symbolic_series(order, family, quantity)
