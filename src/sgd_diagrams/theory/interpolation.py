"""Exact multivariate polynomial interpolation on integer grids, over the rationals.

Used by :mod:`sgd_diagrams.theory.symbolic` to turn exact history counts
(:func:`sgd_diagrams.schedules.histories.history_count` with ``exact=True``)
into closed-form polynomials in the schedule's parameters.

A *monomial box* gives, for every variable, an inclusive range of exponents
``(lo, hi)``; the fitted polynomial is Σ c_e Π x_i^{e_i} over the box.  With
``hi − lo + 1`` distinct non-zero nodes per variable the tensor-product
Vandermonde system is square and invertible, and we solve it axis by axis
with :class:`fractions.Fraction` arithmetic, so the coefficients are exact.
Interpolation alone proves nothing about points off the grid: callers must
check the result at extra points (:func:`check_polynomial`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction

__all__ = ["ExponentRange", "fit_polynomial", "evaluate_polynomial", "check_polynomial"]

ExponentRange = tuple[int, int]
Polynomial = dict[tuple[int, ...], Fraction]


def _solve(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Gauss–Jordan elimination over the rationals (small, square, invertible systems)."""
    n = len(matrix)
    a = [row[:] + [rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if a[r][col] != 0), None)
        if pivot is None:
            raise ArithmeticError("singular interpolation system: interpolation nodes must be distinct")
        a[col], a[pivot] = a[pivot], a[col]
        inv = 1 / a[col][col]
        a[col] = [x * inv for x in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[r][n] for r in range(n)]


def fit_polynomial(
    f: Callable[..., Fraction],
    nodes: Sequence[Sequence[Fraction]],
    exponents: Sequence[ExponentRange],
) -> Polynomial:
    """Coefficients c_e of the polynomial in the monomial box ``exponents`` through f on ``nodes``.

    ``nodes[i]`` are the interpolation points of variable i (``hi − lo + 1`` of them,
    distinct and non-zero when ``lo < 0``); ``f`` is called with one value per variable.
    Returns ``{exponent tuple: Fraction}`` without zero coefficients.
    """
    if len(nodes) != len(exponents):
        raise ValueError("one node list per variable is needed")
    for pts, (lo, hi) in zip(nodes, exponents, strict=True):
        if len(pts) != hi - lo + 1:
            raise ValueError("need exactly hi - lo + 1 nodes per variable")
    # values on the grid, then invert the Vandermonde matrix along each axis
    grid: dict[tuple[int, ...], Fraction] = {}
    for idx in itertools.product(*(range(len(p)) for p in nodes)):
        grid[idx] = Fraction(f(*(nodes[i][j] for i, j in enumerate(idx))))
    for axis, (pts, (lo, hi)) in enumerate(zip(nodes, exponents, strict=True)):
        vander = [[Fraction(x) ** e for e in range(lo, hi + 1)] for x in pts]
        others = [range(len(p)) for i, p in enumerate(nodes) if i != axis]
        for rest in itertools.product(*others):
            keys = [rest[:axis] + (j,) + rest[axis:] for j in range(len(pts))]
            coeffs = _solve(vander, [grid[key] for key in keys])
            for key, c in zip(keys, coeffs, strict=True):
                grid[key] = c
    out: Polynomial = {}
    for idx, c in grid.items():
        if c != 0:
            out[tuple(lo + j for j, (lo, _) in zip(idx, exponents, strict=True))] = c
    return out


def evaluate_polynomial(poly: Polynomial, point: Sequence[Fraction]) -> Fraction:
    """Σ c_e Π x_i^{e_i} at ``point`` (exact)."""
    total = Fraction(0)
    for exps, c in poly.items():
        term = c
        for x, e in zip(point, exps, strict=True):
            term *= Fraction(x) ** e
        total += term
    return total


def check_polynomial(poly: Polynomial, f: Callable[..., Fraction], points: Sequence[Sequence[Fraction]]) -> bool:
    """True when ``poly`` equals ``f`` at every one of ``points``."""
    return all(evaluate_polynomial(poly, p) == Fraction(f(*p)) for p in points)
