"""Safe parsing of per-sample loss expressions in ``t0 .. t{k-1}``.

Losses in landscape files are analytic expressions using ``+ - * / **``, unary
``+``/``-``, parentheses, numbers (``3``, ``2.5``, ``.5``, ``1e-3``), the weights
``t0 .. t{k-1}``, the constants ``pi`` and ``E`` and the one-argument functions
``exp log sin cos tanh sqrt``.  The meaning is Python's (as sympy's ``sympify``
read it): ``**`` is right-associative and binds tighter than a unary minus on
its left (``-t0**2`` is ``-(t0**2)``, ``2**-1`` is ``1/2``), integers stay exact
and ``1/2`` is the rational one half.

Landscape files are untrusted, so the text is never handed to ``sympify``,
``eval`` or any other interpreter of code: a small recursive-descent parser
over an ASCII token set builds the sympy objects directly, and every input,
however hostile, ends in an expression or in one :class:`SgdDiagramsError`
line within about a second.  The bounds (module constants) are:

* ``MAX_LENGTH`` = 10,000 characters, ``MAX_TOKENS`` = 5,000 tokens and
  ``MAX_OPERANDS`` = 2,000 numbers and names (so the result has at most a few
  thousand terms and no giant ``Add`` is ever built);
* ``MAX_DEPTH`` = 100 levels of parentheses, function calls, unary signs and
  ``**`` chains, checked by the parser long before Python's recursion limit;
* ``MAX_FUNCTION_DEPTH`` = 4 function calls nested inside each other (``exp(sin(t0))`` is 2): the terms of
  a k-th derivative of a composition grow like the depth to the k-th power, so deeper nests are refused
  before any differentiation (measured: exp nested 4 deep, an order-6 series in 21 s; 6 deep, order 4, over
  100 s);
* ``MAX_NUMBER_CHARS`` = 100 characters per number literal, and every number
  or constant sub-expression at most ``MAX_MAGNITUDE`` = 1e300 in magnitude
  (``1e999``, ``exp(1000)`` are refused);
* a power of constants is folded only with ``|exponent| <= MAX_CONSTANT_EXPONENT``
  = 1000 and a result of magnitude <= 1e300 (``9**9**9`` and ``2**100000`` are
  refused, not computed); exact fractions keep at most ``MAX_EXACT_DIGITS`` =
  1000 digits in numerator and denominator;
* a power of an expression in the weights needs a constant exponent of
  magnitude at most ``MAX_WEIGHT_EXPONENT`` = 64 (``t0**0.5`` is fine,
  ``t0**100`` and ``(t0**8)**9`` are not: their derivatives blow up), or a
  non-constant exponent.
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from ..errors import SgdDiagramsError

__all__ = [
    "ALLOWED_FUNCTIONS",
    "MAX_CONSTANT_EXPONENT",
    "MAX_DEPTH",
    "MAX_EXACT_DIGITS",
    "MAX_FUNCTION_DEPTH",
    "MAX_LENGTH",
    "MAX_MAGNITUDE",
    "MAX_NUMBER_CHARS",
    "MAX_OPERANDS",
    "MAX_TOKENS",
    "MAX_WEIGHT_EXPONENT",
    "parse_loss",
    "weight_symbols",
]

MAX_LENGTH = 10_000
MAX_TOKENS = 5_000
MAX_OPERANDS = 2_000
MAX_DEPTH = 100
MAX_FUNCTION_DEPTH = 4  # exp nested 4 deep: order-6 series in 21 s; 6 deep at order 4: over 100 s (2-core machine)
MAX_NUMBER_CHARS = 100
MAX_MAGNITUDE = 1e300
MAX_CONSTANT_EXPONENT = 1000
MAX_EXACT_DIGITS = 1000
MAX_WEIGHT_EXPONENT = 64

ALLOWED_FUNCTIONS = {
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tanh": sp.tanh,
    "sqrt": sp.sqrt,
}
_CONSTANTS = {"pi": (sp.pi, complex(math.pi)), "E": (sp.E, complex(math.e))}
_NUMERIC_FUNCTIONS: dict[str, Callable[[complex], complex]] = {
    "exp": cmath.exp,
    "log": cmath.log,
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tanh": cmath.tanh,
    "sqrt": cmath.sqrt,
}
_HINT = "use numbers, t0..t{k-1}, pi, E, + - * / ** and exp log sin cos tanh sqrt"
_EXACT_BITS = math.ceil(MAX_EXACT_DIGITS * math.log2(10))
_BIG_INT = 10**300  # MAX_MAGNITUDE as an exact integer
_LOG10_MAX = math.log10(MAX_MAGNITUDE)

# ASCII only (no re.UNICODE digits or letters): a number, a name, an operator, or whitespace.
_TOKEN = re.compile(
    r"(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|[-+*/(),])"
    r"|(?P<space>[ \t\n\r\f\v]+)",
    re.ASCII,
)
_NAME_CHAR = re.compile(r"[A-Za-z_0-9.]", re.ASCII)


def weight_symbols(dim: int) -> tuple[sp.Symbol, ...]:
    """The real symbols t0 .. t{dim-1} standing for the weight coordinates."""
    return tuple(sp.Symbol(f"t{i}", real=True) for i in range(dim))


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op" or "end"
    text: str
    pos: int


@dataclass(frozen=True)
class _Node:
    expr: sp.Expr
    value: complex | None  # the numeric value when the node is a constant, None when it involves weights


def _tokenize(text: str, where: str, names: set[str], dim: int) -> list[_Token]:
    tokens: list[_Token] = []
    operands = 0
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SgdDiagramsError(f"{where}: unexpected character {text[pos]!r} at position {pos}; {_HINT}")
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            piece = m.group()
            if kind == "num":
                if m.end() < len(text) and _NAME_CHAR.match(text, m.end()):
                    raise SgdDiagramsError(
                        f"{where}: cannot parse the number at position {pos} ({_excerpt(text, pos)}); {_HINT}"
                    )
                if len(piece) > MAX_NUMBER_CHARS:
                    raise SgdDiagramsError(
                        f"{where}: the number at position {pos} has {len(piece)} characters, more than "
                        f"{MAX_NUMBER_CHARS}; write it shorter, in scientific notation"
                    )
            if kind == "name" and piece not in names:
                hint = f"t0..t{dim - 1}" if dim > 0 else "no weights"
                shown = piece if len(piece) <= 40 else piece[:40] + "..."
                raise SgdDiagramsError(
                    f"{where}: unknown name {shown!r}; allowed are {hint}, pi, E and "
                    + ", ".join(sorted(ALLOWED_FUNCTIONS))
                )
            if kind in ("num", "name"):
                operands += 1
                if operands > MAX_OPERANDS:
                    raise SgdDiagramsError(
                        f"{where}: more than {MAX_OPERANDS} numbers and names; split or simplify the expression"
                    )
            tokens.append(_Token(kind, piece, pos))
            if len(tokens) > MAX_TOKENS:
                raise SgdDiagramsError(f"{where}: more than {MAX_TOKENS} tokens; split or simplify the expression")
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _excerpt(text: str, pos: int) -> str:
    piece = text[pos : pos + 20]
    return repr(piece + ("..." if len(text) > pos + 20 else "")) if piece else "end of text"


def _finite(value: complex) -> bool:
    return math.isfinite(value.real) and math.isfinite(value.imag) and abs(value) <= MAX_MAGNITUDE


def _exact_problem(num: sp.Expr) -> str | None:
    """Why a sympy number is too big to keep (None if fine): too many digits or too large in magnitude."""
    if isinstance(num, sp.Rational):
        p, q = abs(num.p), num.q
        if max(p.bit_length(), q.bit_length()) > _EXACT_BITS:
            return f"an exact fraction with more than {MAX_EXACT_DIGITS} digits"
        if p > _BIG_INT * q:
            return f"a number larger than {MAX_MAGNITUDE:g} in magnitude"
    elif isinstance(num, sp.Float):
        v = float(num)
        if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE:
            return f"a number larger than {MAX_MAGNITUDE:g} in magnitude"
    return None


def _coefficients(expr: sp.Expr) -> list[sp.Expr]:
    """The numbers sympy keeps at the top of ``expr``: itself, a product's coefficient, a sum's terms' ones."""
    if isinstance(expr, sp.Number):
        return [expr]
    if isinstance(expr, sp.Mul):
        return [expr.args[0]] if isinstance(expr.args[0], sp.Number) else []
    if isinstance(expr, sp.Add):
        return [c for a in expr.args for c in _coefficients(a)]
    return []


def _log10_abs(num: sp.Expr) -> float:
    """log10 |num| for a nonzero sympy Number, without overflowing floats."""
    if isinstance(num, sp.Rational):
        return math.log10(abs(num.p)) - math.log10(num.q)  # math.log10 takes integers of any size
    v = abs(float(num))
    return math.log10(v) if v > 0 and math.isfinite(v) else (math.inf if v > 0 else -math.inf)


class _Parser:
    def __init__(self, text: str, tokens: list[_Token], where: str, names: dict[str, sp.Expr]):
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.where = where
        self.names = names
        self.calls = 0  # function calls open around the current position
        self.call_depth = 0  # the most calls ever open at once (exp(sin(t0)) has 2)

    # -- helpers ---------------------------------------------------------------------------------------

    def fail(self, message: str, pos: int) -> SgdDiagramsError:
        return SgdDiagramsError(f"{self.where}: at position {pos}, {message}")

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect_operand_error(self, tok: _Token) -> SgdDiagramsError:
        found = "the end of the text" if tok.kind == "end" else repr(tok.text)
        return SgdDiagramsError(
            f"{self.where}: cannot parse {_excerpt(self.text, tok.pos) if tok.kind != 'end' else 'the text'}: "
            f"expected a number, name or '(' at position {tok.pos} but found {found}; {_HINT}"
        )

    def deeper(self, depth: int, pos: int) -> int:
        if depth >= MAX_DEPTH:
            raise SgdDiagramsError(
                f"{self.where}: nested deeper than {MAX_DEPTH} levels (parentheses, function calls, signs, powers) "
                f"at position {pos}; flatten the expression"
            )
        return depth + 1

    def check_number(self, expr: sp.Expr, pos: int) -> None:
        for c in _coefficients(expr):
            problem = _exact_problem(c)
            if problem:
                raise self.fail(f"the expression produces {problem}; use smaller constants", pos)

    def check_value(self, value: complex | None, pos: int, what: str) -> None:
        if value is not None and not _finite(value):
            raise self.fail(
                f"{what} is not finite or exceeds {MAX_MAGNITUDE:g} in magnitude; use smaller constants", pos
            )

    def settle(self, node: _Node, pos: int) -> _Node:
        """A node whose weights cancelled (``t0 - t0 + 3``) gets its numeric value, so it is checked as a constant."""
        if node.value is not None or node.expr.free_symbols:
            return node
        try:
            value = complex(node.expr.evalf(20))
        except (TypeError, ValueError, OverflowError, ArithmeticError):
            raise self.fail("a constant sub-expression cannot be evaluated; use finite real constants", pos) from None
        self.check_value(value, pos, "a constant sub-expression")
        return _Node(node.expr, value)

    # -- grammar ---------------------------------------------------------------------------------------
    # sum     := product (('+' | '-') product)*
    # product := unary (('*' | '/') unary)*
    # unary   := ('+' | '-') unary | atom ('**' unary)?
    # atom    := NUMBER | NAME | FUNCTION '(' sum ')' | '(' sum ')'
    # Each nesting level costs at most three Python frames (sum -> unary -> atom), so MAX_DEPTH = 100 stays far
    # below the interpreter's recursion limit.

    def parse(self) -> _Node:
        node = self.sum(0)
        tok = self.peek()
        if tok.kind != "end":
            raise SgdDiagramsError(
                f"{self.where}: cannot parse {_excerpt(self.text, tok.pos)}: expected an operator at position "
                f"{tok.pos}; {_HINT}"
            )
        return node

    def sum(self, depth: int) -> _Node:
        # Products are parsed in this loop too (not in a function of their own) to keep the Python stack shallow.
        start = self.peek().pos
        terms: list[sp.Expr] = []
        values: list[complex | None] = []
        sign = "+"
        while True:
            node = self.unary(depth)
            while self.peek().kind == "op" and self.peek().text in ("*", "/"):
                op = self.take()
                node = self.multiply(node, op, self.unary(depth))
            if not terms and not (self.peek().kind == "op" and self.peek().text in ("+", "-")):
                return node
            terms.append(node.expr if sign == "+" else -node.expr)
            values.append(None if node.value is None else (node.value if sign == "+" else -node.value))
            if len(values) > 1 and all(v is not None for v in values):  # every partial sum, as Python groups it
                self.check_value(sum(values, 0j), start, "a constant sum")  # type: ignore[arg-type]
            if not (self.peek().kind == "op" and self.peek().text in ("+", "-")):
                break
            sign = self.take().text
        value: complex | None = None
        if all(v is not None for v in values):
            value = sum(values, 0j)  # type: ignore[arg-type]
            self.check_value(value, start, "a constant sum")
        self.check_sum_fractions(terms, start)
        # One flat Add in linear time instead of Python's left-to-right (a + b) - c, which is quadratic.  Nested
        # sums are spliced in place so that sympy adds the float coefficients in the same order as it did then.
        flat: list[sp.Expr] = []
        for term in terms:
            if isinstance(term, sp.Add):
                flat.extend(term.args)
            else:
                flat.append(term)
        expr = sp.Add(*flat)
        self.check_number(expr, start)
        return _Node(expr, value)

    def check_sum_fractions(self, terms: list[sp.Expr], pos: int) -> None:
        """Bound the digits of the fractions sympy will add up, before it adds them."""
        coefficients = [c for t in terms for c in _coefficients(t) if isinstance(c, sp.Rational)]
        denominators = {c.q for c in coefficients if c.q != 1}
        bits = sum(q.bit_length() for q in denominators)
        bits += max((abs(c.p).bit_length() for c in coefficients), default=0) + len(coefficients).bit_length()
        if bits > _EXACT_BITS:
            raise self.fail(
                f"the sum produces an exact fraction with more than {MAX_EXACT_DIGITS} digits; use decimals", pos
            )

    def multiply(self, node: _Node, op: _Token, right: _Node) -> _Node:
        value: complex | None = None
        if node.value is not None and right.value is not None:
            if op.text == "*":
                value = node.value * right.value
            elif right.value == 0:
                raise self.fail("division by zero (or by a constant too close to zero)", op.pos)
            else:
                value = node.value / right.value
            self.check_value(value, op.pos, "a constant product")
        elif op.text == "/" and right.value == 0:
            raise self.fail("division by zero", op.pos)
        # Python's left-to-right binary operators, exactly as sympify applied them (2*(t0+1) distributes).
        expr = node.expr * right.expr if op.text == "*" else node.expr / right.expr
        self.check_number(expr, op.pos)
        return _Node(expr, value)

    def unary(self, depth: int) -> _Node:
        """Signs, then an atom, then an optional ``** unary`` (right-associative, tighter than the signs)."""
        signs: list[_Token] = []
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            depth = self.deeper(depth, self.peek().pos)
            signs.append(self.take())
        node = self.atom(depth)
        if self.peek().kind == "op" and self.peek().text == "**":
            op = self.take()
            node = self.raise_to(node, self.unary(self.deeper(depth, op.pos)), op.pos)
        for sign in reversed(signs):
            if sign.text == "-":
                node = _Node(-node.expr, None if node.value is None else -node.value)
        return node

    def raise_to(self, base: _Node, exponent: _Node, pos: int) -> _Node:
        base = self.settle(base, pos)
        exponent = self.settle(exponent, pos)
        e_val = exponent.value
        value: complex | None = None
        if e_val is not None and base.value is not None:
            # A power of constants is computed only when it stays modest.
            if abs(e_val) > MAX_CONSTANT_EXPONENT:
                raise self.fail(
                    f"a power of constants with exponent of magnitude {abs(e_val):.4g} is refused "
                    f"(at most {MAX_CONSTANT_EXPONENT} and a result below {MAX_MAGNITUDE:g}); use smaller numbers",
                    pos,
                )
            try:
                value = base.value**e_val
            except (OverflowError, ZeroDivisionError, ValueError):
                value = None
                if base.value == 0:
                    raise self.fail("division by zero (zero to a negative power)", pos) from None
                raise self.fail(f"a power of constants exceeds {MAX_MAGNITUDE:g} in magnitude", pos) from None
            if not _finite(value):
                raise self.fail(
                    f"a power of constants exceeds {MAX_MAGNITUDE:g} in magnitude; use smaller numbers or exponents",
                    pos,
                )
            self.check_exact_power(base.expr, exponent.expr, e_val, pos)
        elif e_val is not None:
            # A power of an expression in the weights.
            if abs(e_val) > MAX_WEIGHT_EXPONENT:
                raise self.fail(
                    f"a power of an expression in the weights has exponent of magnitude {abs(e_val):.4g}, more than "
                    f"{MAX_WEIGHT_EXPONENT}; use a smaller exponent",
                    pos,
                )
            # sympy pulls the numeric coefficient out: (c*t0)**n = c**n * t0**n.
            coefficient = base.expr.as_coeff_Mul()[0] if isinstance(base.expr, sp.Mul) else None
            if isinstance(coefficient, sp.Number) and coefficient != 0:
                if e_val.real * _log10_abs(coefficient) > _LOG10_MAX:
                    raise self.fail(
                        f"a coefficient raised to this power exceeds {MAX_MAGNITUDE:g}; use smaller constants", pos
                    )
                self.check_exact_power(coefficient, exponent.expr, e_val, pos)
        expr = base.expr**exponent.expr
        self.check_number(expr, pos)
        return _Node(expr, value)

    def check_exact_power(self, base: sp.Expr, exponent: sp.Expr, e_val: complex, pos: int) -> None:
        if isinstance(base, sp.Rational) and isinstance(exponent, sp.Rational):
            bits = max(abs(base.p).bit_length(), base.q.bit_length())
            if bits * abs(e_val) > _EXACT_BITS:
                raise self.fail(
                    f"a power of fractions would have more than {MAX_EXACT_DIGITS} digits; use decimals (2.0**k)", pos
                )

    def atom(self, depth: int) -> _Node:
        tok = self.take()
        if tok.kind == "num":
            return self.number(tok)
        if tok.kind == "name":
            if tok.text in ALLOWED_FUNCTIONS:
                opening = self.take()
                if not (opening.kind == "op" and opening.text == "("):
                    raise SgdDiagramsError(
                        f"{self.where}: cannot parse: function {tok.text} at position {tok.pos} must be called as "
                        f"{tok.text}(...)"
                    )
                self.calls += 1
                self.call_depth = max(self.call_depth, self.calls)
                if self.calls > MAX_FUNCTION_DEPTH:
                    raise SgdDiagramsError(
                        f"{self.where}: functions nested more than {MAX_FUNCTION_DEPTH} deep at position {tok.pos} "
                        "(each level multiplies the terms of every derivative); simplify the expression"
                    )
                arg = self.sum(self.deeper(depth, opening.pos))
                self.calls -= 1
                self.close(opening)
                return self.apply(tok, arg)
            if tok.text in _CONSTANTS:
                expr, value = _CONSTANTS[tok.text]
                return _Node(expr, value)
            return _Node(self.names[tok.text], None)
        if tok.kind == "op" and tok.text == "(":
            node = self.sum(self.deeper(depth, tok.pos))
            self.close(tok)
            return node
        raise self.expect_operand_error(tok)

    def close(self, opening: _Token) -> None:
        tok = self.take()
        if tok.kind == "op" and tok.text == ")":
            return
        found = "the end of the text" if tok.kind == "end" else repr(tok.text)
        raise SgdDiagramsError(
            f"{self.where}: cannot parse: expected ')' closing the '(' at position {opening.pos} but found {found} "
            f"at position {tok.pos}; functions take exactly one argument"
        )

    def apply(self, name: _Token, arg: _Node) -> _Node:
        arg = self.settle(arg, name.pos)
        value: complex | None = None
        if arg.value is not None:
            try:
                value = _NUMERIC_FUNCTIONS[name.text](arg.value)
            except (OverflowError, ValueError, ZeroDivisionError):
                raise self.fail(
                    f"the constant {name.text}(...) is not finite or exceeds {MAX_MAGNITUDE:g} in magnitude", name.pos
                ) from None
            self.check_value(value, name.pos, f"the constant {name.text}(...)")
        elif name.text == "sqrt":
            coefficient = arg.expr.as_coeff_Mul()[0] if isinstance(arg.expr, sp.Mul) else None
            if isinstance(coefficient, sp.Number) and coefficient != 0:
                self.check_exact_power(coefficient, sp.S.Half, 0.5, name.pos)
        expr = ALLOWED_FUNCTIONS[name.text](arg.expr)
        self.check_number(expr, name.pos)
        return _Node(expr, value)

    def number(self, tok: _Token) -> _Node:
        text = tok.text
        if "." in text or "e" in text or "E" in text:
            as_float = float(text)
            expr: sp.Expr = sp.Float(text)
            value = complex(as_float)
        else:
            as_int = int(text)
            expr = sp.Integer(as_int)
            value = complex(float(as_int))
        if not _finite(value) or _exact_problem(expr):
            raise SgdDiagramsError(
                f"{self.where}: the number {text} at position {tok.pos} is out of range; numbers must be finite and "
                f"at most {MAX_MAGNITUDE:g} in magnitude"
            )
        return _Node(expr, value)


def _final_checks(expr: sp.Expr, where: str) -> None:
    """Refuse infinities (from cancellations such as ``1/(t0 - t0)``) and weight powers beyond the bound."""
    infinite = (sp.S.ComplexInfinity, sp.S.Infinity, sp.S.NegativeInfinity, sp.S.NaN)
    for node in sp.preorder_traversal(expr):
        if node in infinite:
            raise SgdDiagramsError(f"{where}: the expression is infinite or undefined (division by zero?)")
        if isinstance(node, sp.Pow) and isinstance(node.exp, sp.Number) and node.base.free_symbols:
            if abs(node.exp) > MAX_WEIGHT_EXPONENT:
                raise SgdDiagramsError(
                    f"{where}: a power of the weights has exponent {node.exp}, more than {MAX_WEIGHT_EXPONENT} in "
                    "magnitude; use smaller exponents"
                )


def parse_loss(text: str, dim: int, where: str = "loss") -> sp.Expr:
    """Parse one loss expression; raise :class:`SgdDiagramsError` naming ``where`` on failure.

    Never evaluates the text as code (see the module docstring for the grammar and the bounds).
    """
    if not isinstance(text, str) or not text.strip():
        raise SgdDiagramsError(f"{where} must be a non-empty expression string in t0..t{dim - 1}")
    if len(text) > MAX_LENGTH:
        raise SgdDiagramsError(
            f"{where}: the expression has {len(text)} characters, more than {MAX_LENGTH}; split or simplify it"
        )
    symbols = weight_symbols(dim)
    names: dict[str, sp.Expr] = {str(s): s for s in symbols}
    allowed = set(names) | set(ALLOWED_FUNCTIONS) | set(_CONSTANTS)
    tokens = _tokenize(text, where, allowed, dim)
    try:
        parser = _Parser(text, tokens, where, names)
        expr = parser.parse().expr
        _final_checks(expr, where)
    except RecursionError:  # a safety net only: MAX_DEPTH keeps the parser far below the limit
        raise SgdDiagramsError(
            f"{where}: the expression is nested too deeply (limit {MAX_DEPTH}); flatten it"
        ) from None
    if not isinstance(expr, sp.Expr):  # pragma: no cover - the parser only builds expressions
        raise SgdDiagramsError(f"{where}: the text is not a scalar expression")
    return expr

