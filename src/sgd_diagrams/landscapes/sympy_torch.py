"""Compile the safe sympy loss expressions of a finite landscape into torch functions.

Landscape files only contain ``+ - * / **``, numbers, ``pi``, ``E`` and the
functions ``exp log sin cos tanh sqrt`` (see :mod:`.expressions`), so a tiny
recursive translator is enough, needs no ``eval`` and stays vmap/grad-friendly:
symbol ``t_i`` becomes ``theta[i]`` of a flat weight tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp
import torch

from ..errors import SgdDiagramsError

__all__ = ["sympy_to_torch"]

TorchScalarFn = Callable[[torch.Tensor], torch.Tensor]

_UNARY: dict[type, Callable[[torch.Tensor], torch.Tensor]] = {
    sp.exp: torch.exp,
    sp.log: torch.log,
    sp.sin: torch.sin,
    sp.cos: torch.cos,
    sp.tanh: torch.tanh,
}


def _build(expr: sp.Expr, index: dict[sp.Symbol, int]) -> TorchScalarFn:
    if isinstance(expr, sp.Symbol):
        if expr not in index:
            raise SgdDiagramsError(f"loss uses unknown symbol {expr}; use the weights t0..t{{k-1}}")
        i = index[expr]
        return lambda theta: theta[i]
    if expr.is_number:
        value = complex(expr.evalf(30))
        if value.imag != 0:
            raise SgdDiagramsError(f"loss constant {expr} is complex; use real constants")
        c = float(value.real)
        return lambda theta: torch.tensor(c, dtype=theta.dtype, device=theta.device)
    if isinstance(expr, sp.Add):
        parts = [_build(a, index) for a in expr.args]

        def add(theta: torch.Tensor) -> torch.Tensor:
            out = parts[0](theta)
            for p in parts[1:]:
                out = out + p(theta)
            return out

        return add
    if isinstance(expr, sp.Mul):
        parts = [_build(a, index) for a in expr.args]

        def mul(theta: torch.Tensor) -> torch.Tensor:
            out = parts[0](theta)
            for p in parts[1:]:
                out = out * p(theta)
            return out

        return mul
    if isinstance(expr, sp.Pow):
        base = _build(expr.base, index)
        exponent = expr.exp
        if exponent.is_Integer:
            n = int(exponent)
            return lambda theta: base(theta) ** n
        if exponent == sp.Rational(1, 2):
            return lambda theta: torch.sqrt(base(theta))
        power = _build(exponent, index)
        return lambda theta: torch.pow(base(theta), power(theta))
    for fn, torch_fn in _UNARY.items():
        if isinstance(expr, fn):
            arg = _build(expr.args[0], index)
            return lambda theta, f=torch_fn, a=arg: f(a(theta))
    raise SgdDiagramsError(
        f"cannot translate {type(expr).__name__} in a loss to torch; use exp log sin cos tanh sqrt"
    )


def sympy_to_torch(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> TorchScalarFn:
    """A function θ ↦ expr(θ) on a flat weight tensor θ (composable with torch.func).

    ``expr`` must already be a sympy expression (or a plain real number): text is refused, never sympified;
    parse it with :func:`.expressions.parse_loss` first.
    """
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        expr = sp.Integer(expr) if isinstance(expr, int) else sp.Float(expr)
    if not isinstance(expr, sp.Expr):
        raise SgdDiagramsError(
            f"sympy_to_torch needs a sympy expression, got {type(expr).__name__}; parse loss text with parse_loss"
        )
    index = {s: i for i, s in enumerate(symbols)}
    return _build(expr, index)
