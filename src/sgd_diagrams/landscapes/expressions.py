"""Safe parsing of per-sample loss expressions in ``t0 .. t{k-1}``.

Losses in landscape files are analytic expressions in sympy syntax using
``+ - * / **``, parentheses, numbers, the weights ``t0 .. t{k-1}``, the
constants ``pi`` and ``E`` and the functions ``exp log sin cos tanh sqrt``.
Anything else (attribute access, other names, strings) is refused before
sympy sees the text, so a landscape file can never execute code.
"""

from __future__ import annotations

import re

import sympy as sp

from ..errors import SgdDiagramsError

__all__ = ["ALLOWED_FUNCTIONS", "parse_loss", "weight_symbols"]

ALLOWED_FUNCTIONS = {
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tanh": sp.tanh,
    "sqrt": sp.sqrt,
}
_CONSTANTS = {"pi": sp.pi, "E": sp.E}
_NUMBER = r"(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_TOKEN = re.compile(r"\s*(?:" + _NUMBER + r"|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/(),]))")


def weight_symbols(dim: int) -> tuple[sp.Symbol, ...]:
    """The real symbols t0 .. t{dim-1} standing for the weight coordinates."""
    return tuple(sp.Symbol(f"t{i}", real=True) for i in range(dim))


def parse_loss(text: str, dim: int, where: str = "loss") -> sp.Expr:
    """Parse one loss expression; raise :class:`SgdDiagramsError` naming ``where`` on failure."""
    if not isinstance(text, str) or not text.strip():
        raise SgdDiagramsError(f"{where} must be a non-empty expression string in t0..t{dim - 1}")
    symbols = weight_symbols(dim)
    names: dict[str, object] = {str(s): s for s in symbols}
    names.update(ALLOWED_FUNCTIONS)
    names.update(_CONSTANTS)
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise SgdDiagramsError(
                f"{where}: unexpected character {text[pos]!r} at position {pos}; "
                "use numbers, t0..t{k-1}, + - * / ** and exp log sin cos tanh sqrt"
            )
        ident = m.group(2)
        if ident is not None and ident not in names:
            hint = f"t0..t{dim - 1}" if dim > 0 else "no weights"
            raise SgdDiagramsError(
                f"{where}: unknown name {ident!r}; allowed are {hint}, pi, E and "
                + ", ".join(sorted(ALLOWED_FUNCTIONS))
            )
        pos = m.end()
    try:
        expr = sp.sympify(text, locals=names, rational=False, convert_xor=False)
    except (sp.SympifyError, SyntaxError, TypeError, ZeroDivisionError) as exc:
        raise SgdDiagramsError(f"{where}: cannot parse {text!r} ({type(exc).__name__})") from None
    if not isinstance(expr, sp.Expr):
        raise SgdDiagramsError(f"{where}: {text!r} is not a scalar expression")
    extra = expr.free_symbols - set(symbols)
    if extra:
        raise SgdDiagramsError(f"{where}: unknown symbols {sorted(map(str, extra))}")
    return expr
