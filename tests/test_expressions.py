"""The loss-expression parser: same results as the old sympify-based parser, bounded work, no code execution."""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import expressions
from sgd_diagrams.landscapes.expressions import ALLOWED_FUNCTIONS, parse_loss, weight_symbols
from sgd_diagrams.landscapes.sympy_torch import sympy_to_torch

ROOT = Path(__file__).resolve().parents[1]

# -- the old implementation, kept here only as the reference for equivalence ----------------------------------

_OLD_NUMBER = r"(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_OLD_TOKEN = re.compile(r"\s*(?:" + _OLD_NUMBER + r"|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/(),]))")


def old_parse_loss(text: str, dim: int) -> sp.Expr:
    """The sympify-based parser this module replaced (regex whitelist, then sympify)."""
    symbols = weight_symbols(dim)
    names: dict[str, object] = {str(s): s for s in symbols}
    names.update(ALLOWED_FUNCTIONS)
    names.update({"pi": sp.pi, "E": sp.E})
    pos = 0
    while pos < len(text):
        m = _OLD_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"unexpected character {text[pos]!r}")
        if m.group(2) is not None and m.group(2) not in names:
            raise ValueError(f"unknown name {m.group(2)!r}")
        pos = m.end()
    expr = sp.sympify(text, locals=names, rational=False, convert_xor=False)
    assert isinstance(expr, sp.Expr)
    return expr


# -- a grammar-driven generator of loss texts -----------------------------------------------------------------

DIM = 3
LEAVES = ["1", "2", "3", "7", "10", "0.5", "2.5", ".5", "1e-3", "2.5E+1", "1.", "t0", "t1", "t2", "pi", "E"]
INT_EXPONENTS = ["2", "3", "-1", "-2", "2**2", "3**-1**2", "+2"]
REAL_EXPONENTS = ["0.5", "-0.5", "1.5", "2**-1"]


def _extend(sub: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    positive = sub.map(lambda x: f"(1 + ({x})**2)")
    return st.one_of(
        st.tuples(sub, st.sampled_from([" + ", "-", " * ", "/", " - ", "*"]), sub).map("".join),
        st.tuples(st.sampled_from(["-", "+", "- ", "--"]), sub).map("".join),
        sub.map(lambda x: f"({x})"),
        st.tuples(st.sampled_from(["exp", "sin", "cos", "tanh"]), sub).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(st.sampled_from(["log", "sqrt"]), positive).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(st.sampled_from(LEAVES), st.sampled_from(INT_EXPONENTS)).map(lambda p: f"{p[0]}**{p[1]}"),
        st.tuples(sub, st.sampled_from(INT_EXPONENTS)).map(lambda p: f"({p[0]})**{p[1]}"),
        st.tuples(positive, st.sampled_from(REAL_EXPONENTS)).map(lambda p: f"{p[0]}**{p[1]}"),
        st.tuples(st.sampled_from(["2", "E", "0.5"]), sub).map(lambda p: f"{p[0]}**({p[1]})"),
    )


LOSS_TEXTS = st.recursive(st.sampled_from(LEAVES), _extend, max_leaves=60)


def _text_flags(text: str) -> list[str]:
    """An independent oracle for the parser's bounds on constants: what in ``text`` exceeds them.

    Walks Python's syntax tree of the (test-generated) text, evaluating constant sub-expressions with mpmath,
    whose exponent range does not overflow; a constant out of range stops the evaluation of what contains it.
    """
    flags: list[str] = []
    big = mpmath.mpf("1e300")

    def checked(v):
        if not mpmath.isfinite(v) or abs(v) > big:
            flags.append("constant out of range")
            return None
        return v

    def walk(node):  # an mpmath value for constants, None when weights appear (or a bound was hit)
        if isinstance(node, ast.Constant):
            return mpmath.mpc(node.value)
        if isinstance(node, ast.Name):
            return {"pi": mpmath.mpc(mpmath.mp.pi), "E": mpmath.mpc(mpmath.mp.e)}.get(node.id)
        if isinstance(node, ast.UnaryOp):
            v = walk(node.operand)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.Call):
            v = walk(node.args[0])
            if v is None:
                return None
            fn = {"exp": mpmath.exp, "log": mpmath.log, "sin": mpmath.sin, "cos": mpmath.cos,
                  "tanh": mpmath.tanh, "sqrt": mpmath.sqrt}[node.func.id]
            return checked(fn(v))
        assert isinstance(node, ast.BinOp)
        a, b = walk(node.left), walk(node.right)
        if isinstance(node.op, ast.Div) and b is not None and b == 0:
            flags.append("division by zero")
            return None
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Pow):
            if abs(b) > 1000:
                flags.append("constant exponent")
                return None
            if a == 0 and b.real < 0:
                flags.append("zero to a negative power")
                return None
            return checked(mpmath.power(a, b))
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b, ast.Div: lambda: a / b}
        return checked(ops[type(node.op)]())

    with mpmath.workdps(30):
        walk(ast.parse(text, mode="eval").body)
    return flags


def _result_flags(old: sp.Expr) -> list[str]:
    """What in sympy's result exceeds the parser's bounds (infinities, weight powers, numbers > 1e300)."""
    flags = []
    for node in sp.preorder_traversal(old):
        if node in (sp.zoo, sp.oo, -sp.oo, sp.nan):
            flags.append("infinite")
        if isinstance(node, sp.Pow) and node.exp.is_Number and node.base.free_symbols and abs(node.exp) > 64:
            flags.append("weight power")
        if isinstance(node, sp.Number) and node.is_finite and abs(node) > sp.Float("1e300"):
            flags.append("huge number")  # e.g. exp(18000.0 + t0) = 1.2e7817*exp(t0)
    return flags


def _check_against_old(text: str) -> bool:
    """Assert the new parser agrees with the old one on ``text``; True when both produced an expression."""
    if _text_flags(text):
        # A constant out of range: refused (and not handed to the old parser, which may hang on it).
        with pytest.raises(SgdDiagramsError) as exc:
            parse_loss(text, DIM)
        assert "\n" not in str(exc.value)
        return False
    old = old_parse_loss(text, DIM)
    try:
        new = parse_loss(text, DIM)
    except SgdDiagramsError as exc:
        assert _result_flags(old), f"refused {text!r} ({exc}) though nothing in it exceeds a bound"
        assert "\n" not in str(exc)
        return False
    # The same sympy object, not just the same function: the parser applies the operators as sympify did.
    assert new == old, (text, new, old)
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LOSS_TEXTS)
def test_same_expressions_as_the_old_sympify_parser(text):
    _check_against_old(text)


def _random_text(rng, depth: int) -> str:
    """A seeded generator over the same grammar, for larger expressions than hypothesis usually draws."""
    if depth == 0 or rng.random() < 0.15:
        return rng.choice(LEAVES)
    sub = lambda: _random_text(rng, depth - 1)  # noqa: E731
    kind = rng.randrange(9)
    if kind <= 2:
        return sub() + rng.choice([" + ", "-", " * ", "/", " - ", "*"]) + sub()
    if kind == 3:
        return rng.choice(["-", "+", "- ", "--"]) + sub()
    if kind == 4:
        return f"({sub()})"
    if kind == 5:
        return f"{rng.choice(['exp', 'sin', 'cos', 'tanh'])}({sub()})"
    if kind == 6:
        return f"{rng.choice(['log', 'sqrt'])}(1 + ({sub()})**2)"
    if kind == 7:
        return f"({sub()})**{rng.choice(INT_EXPONENTS)}"
    return f"(1 + ({sub()})**2)**{rng.choice(REAL_EXPONENTS)}"


def test_same_expressions_as_the_old_parser_on_larger_seeded_expressions():
    import random

    rng = random.Random(20240601)
    compared = 0
    for _ in range(300):
        compared += _check_against_old(_random_text(rng, 6))
    assert compared > 250, compared



def test_example_landscape_files_parse_to_the_same_expressions():
    files = [ROOT / "examples" / "landscape.json", ROOT / "src" / "sgd_diagrams" / "data" / "example.json"]
    files += sorted((ROOT / "examples").glob("*.json"))
    seen = 0
    for path in files:
        obj = json.loads(path.read_text())
        if not isinstance(obj, dict) or "points" not in obj:
            continue
        for point in obj["points"]:
            if isinstance(point.get("loss"), str):
                assert parse_loss(point["loss"], obj["dim"]) == old_parse_loss(point["loss"], obj["dim"])
                seen += 1
    assert seen >= 3


@pytest.mark.parametrize(
    "text",
    [
        "(t0 - 1)**2 / 2 + t0 * t1**2 / 2 + log(1 + exp(t1))",
        "0.5*(t0**2 + 0.4*t1**2) + t0 + 0.5*t1 + 0.2*t0**3",
        "2*(t0 + 1)*t0",
        "t0*2*(t0 + 1)",
        "1/2*t0",
        "-t0**2/2 + t0",
        "3.14159265358979323846264*t0",
        "sqrt(4*t0**2)",
        "exp(2*log(t1))",
        "t0 - (t1 - 2*(t0 + 1))",
        "1e-05*t0 + 2.5E+4 + .5 + 1. + 7e2",
        "E**t0 + pi*t1",
        "2**-1**2",
        "(2*t0)**64",
        "t0**-64",
    ],
)
def test_hand_picked_expressions_match_sympify(text):
    assert parse_loss(text, 2) == old_parse_loss(text, 2)


def test_precedence_and_associativity():
    t0, t1 = weight_symbols(2)
    assert parse_loss("-t0**2", 1) == -(t0**2)
    assert parse_loss("2**-1", 1) == sp.Rational(1, 2)
    assert parse_loss("2**-t0", 1) == 2 ** (-t0)
    assert parse_loss("t0**2**2", 1) == t0**4  # right-associative: t0**(2**2)
    assert parse_loss("2**3**2", 1) == 512
    assert parse_loss("t0/2/3", 1) == t0 / 6
    assert parse_loss("t0-1-1", 1) == t0 - 2
    assert parse_loss("-2**2", 1) == -4
    assert parse_loss("(-2)**2", 1) == 4
    assert parse_loss("--t0", 1) == t0
    assert parse_loss("2*-t0", 1) == -2 * t0
    assert parse_loss("t0 - -t1", 2) == t0 + t1
    e = parse_loss("t0**2", 1)
    assert isinstance(e, sp.Pow) and isinstance(e.exp, sp.Integer) and e.exp == 2
    assert parse_loss("1/2*t0", 1) == t0 / 2
    assert isinstance(parse_loss("3", 1), sp.Integer)
    assert isinstance(parse_loss("3.0", 1), sp.Float)
    assert parse_loss("t0**0.5", 1) == t0**0.5


BOMBS = {
    "tower 9**9**9": "9**9**9",
    "tower 10**10**10": "10**10**10",
    "2**100000": "2**100000",
    "(2**1000)**1000": "(2**1000)**1000",
    "1e999": "1e999",
    "1e400*t0": "1e400*t0",
    "5000-digit literal": "1" * 5000,
    "5000-digit float": "0." + "1" * 5000,
    "10,000 unary minuses": "-" * 10_000 + "t0",
    "1000 unary minuses": "-" * 1000 + "t0",
    "2000 nested parentheses": "(" * 2000 + "t0" + ")" * 2000,
    "2000-level power tower": "t0" + "**t0" * 2000,
    "500-level power tower": "t0" + "**t0" * 500,
    "500-level numeric power tower": "2" + "**2" * 500,
    "2000 nested calls": "exp(" * 2000 + "t0" + ")" * 2000,
    "100k-term sum": "+".join(["t0"] * 100_000),
    "4999-term sum": "+".join(["t0"] * 4999)[:9999],
    "long text": "t0 + " + " " * 20_000 + "1",
    "t0**100": "t0**100",
    "t0**100000": "t0**100000",
    "(t0**8)**9": "(t0**8)**9",
    "t0**-1000": "t0**-1000",
    "exp(exp(exp(exp(10))))": "exp(exp(exp(exp(10))))",
    "exp(1000)": "exp(1000)",
    "exp(10**99*log(2))": "exp(10**99*log(2))",
    "cancelled base": "(t0 - t0 + 10)**1000000",
    "coefficient power": "(10**99*t0)**64",
    "fraction power": "(1/11)**1000",
    "division by zero": "1/0",
    "division by cancelled zero": "t1/(t0 - t0)",
    "log(0)": "log(0)",
    "zero to negative power": "0**-1",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_are_refused_quickly_with_one_line(name):
    text = BOMBS[name]
    start = time.perf_counter()
    with pytest.raises(SgdDiagramsError) as exc:
        parse_loss(text, 2, where="point 3 loss")
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"{name} took {elapsed:.2f}s"
    message = str(exc.value)
    assert "\n" not in message and message.startswith("point 3 loss")
    assert len(message) < 400


def test_nesting_up_to_the_limit_is_accepted():
    depth = expressions.MAX_DEPTH - 1
    t0 = weight_symbols(1)[0]
    assert parse_loss("(" * depth + "t0" + ")" * depth, 1) == t0
    assert parse_loss("-" * depth + "t0", 1) == -t0
    calls = expressions.MAX_FUNCTION_DEPTH  # functions nest at most this deep (their derivatives blow up)
    assert parse_loss("sin(" * calls + "t0" + ")" * calls, 1).has(sp.sin)
    assert parse_loss("sin(" * calls + "t0" + ")" * calls + " + exp(" * calls + "t0" + ")" * calls, 1).has(sp.exp)
    with pytest.raises(SgdDiagramsError, match="functions nested more than"):
        parse_loss("sin(" * (calls + 1) + "t0" + ")" * (calls + 1), 1)
    with pytest.raises(SgdDiagramsError, match="nested deeper"):
        parse_loss("(" * (depth + 2) + "t0" + ")" * (depth + 2), 1)


def test_the_bounds_are_module_constants():
    assert expressions.MAX_LENGTH == 10_000 and expressions.MAX_DEPTH == 100
    assert expressions.MAX_WEIGHT_EXPONENT == 64 and expressions.MAX_CONSTANT_EXPONENT == 1000
    assert "+".join(["t0"] * 1999)  # a long but legal sum is parsed
    t0 = weight_symbols(1)[0]
    assert parse_loss("+".join(["t0"] * 1999), 1) == 1999 * t0
    assert parse_loss("t0**64 + 2**900 - 2**900", 1) == t0**64


INJECTIONS = [
    "__import__('os').system('x')",
    "__import__(\"os\")",
    "t0.__class__",
    "t0.real",
    "(t0).__class__.__bases__",
    "lambda: 0",
    "exec('1')",
    "exec",
    "eval",
    "'t0'",
    '"t0"',
    "t0[0]",
    "[t0]",
    "{t0}",
    "t0; 1",
    "`t0`",
    "t0 if t0 else t0",
    "t0 @ t0",
    "t0 ^ 2",
    "t0 % 2",
    "t0 // 2",
    "t0 == 1",
    "t0, t1",
    "exp(t0, t1)",
    "exp()",
    "exp",
    "sin t0",
    "Symbol('x')",
    "Integer(2)",
    "S(1)",
    "t\u0030\u0301",  # combining accent after the digit
    "t\uff10",  # fullwidth digit zero
    "\u0442\u0030",  # Cyrillic te
    "t0\u00a0+ 1",  # non-breaking space
    "exp\u2061(t0)",  # invisible function application
    "\u0661 + t0",  # Arabic-Indic digit one
    "t0\x00",
    "1_000*t0",
    "0x10*t0",
    "1j*t0",
    "2t0",
    "t0 t1",
    "t2",
    "I*t0",
    "oo",
    "zoo",
    "nan",
    "x",
    "()",
    "(t0",
    "t0)",
    "",
    "   ",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_and_foreign_syntax_is_refused(text):
    with pytest.raises(SgdDiagramsError) as exc:
        parse_loss(text, 2)
    assert "\n" not in str(exc.value)


def test_non_strings_are_refused_as_before():
    for value in (None, 3, 2.5, ["t0"], {"t0": 1}, b"t0", True):
        with pytest.raises(SgdDiagramsError, match="non-empty expression string"):
            parse_loss(value, 1)  # type: ignore[arg-type]


def test_the_parser_never_interprets_text(monkeypatch):
    """sympify/parse_expr never see a string, and eval/exec/compile are never called while parsing."""
    import builtins
    import sys

    def refuse_text(original):
        def wrapper(a, *args, **kwargs):
            if isinstance(a, str):
                raise AssertionError(f"{original.__name__} called on text {a!r}")
            return original(a, *args, **kwargs)

        return wrapper

    def forbidden(*args, **kwargs):
        raise AssertionError("code interpretation during parsing")

    t0, t1 = weight_symbols(2)
    text = "(t0 - 1)**2 / 2 + sin(t1) - 2.5e-3*exp(-t0**2) + sqrt(2)*pi/E + 1/3"
    expected = old_parse_loss(text, 2)
    sympify_module = sys.modules["sympy.core.sympify"]
    monkeypatch.setattr(sympify_module, "sympify", refuse_text(sympify_module.sympify))
    monkeypatch.setattr(sp, "sympify", refuse_text(sp.sympify))
    monkeypatch.setattr(sp.parsing.sympy_parser, "parse_expr", forbidden)
    with monkeypatch.context() as m:
        for name in ("eval", "exec", "compile"):
            m.setattr(builtins, name, forbidden)
        result = parse_loss(text, 2)
    assert result == expected


GRAMMAR_ALPHABET = "t0123456789.eE+-*/() ,\t\npiexplogsincostanhsqrt_'\"[];`\\\u0661\uff10\u00a0"


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.text(alphabet=GRAMMAR_ALPHABET, max_size=120)))
def test_random_text_raises_only_sgd_diagrams_errors(text):
    start = time.perf_counter()
    try:
        result = parse_loss(text, 3)
    except SgdDiagramsError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(result, sp.Expr)
        assert result.free_symbols <= set(weight_symbols(3))
    assert time.perf_counter() - start < 2.0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_sgd_diagrams_errors(data):
    for text in (data.decode("latin-1"), data.decode("utf-8", errors="replace")):
        try:
            parse_loss(text, 2)
        except SgdDiagramsError as exc:
            assert "\n" not in str(exc)


def test_sympy_to_torch_refuses_text():
    t0 = weight_symbols(1)[0]
    with pytest.raises(SgdDiagramsError, match="sympy expression"):
        sympy_to_torch("__import__('os').system('x')", (t0,))  # type: ignore[arg-type]
    import torch

    fn = sympy_to_torch(parse_loss("t0**2 + 1", 1), (t0,))
    assert float(fn(torch.tensor([2.0], dtype=torch.float64))) == 5.0
    assert float(sympy_to_torch(2.5, (t0,))(torch.zeros(1, dtype=torch.float64))) == 2.5
