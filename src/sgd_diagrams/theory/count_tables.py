"""Shipped closed-form history counts for in-order SGD and GD (seed 001 Prop 2, App. A.3).

Theorem 1's coefficient of uvalue(D) is (−1)^d · count(D), with count(D) = Σ_f 1/|Aut_f(D)| ·
Π_nodes 1/|B_t| the weighted number of histories of D in the schedule's grid (seed 001 App. A.3).
For the two structured families this count is an exact polynomial (Laurent in B, resp. N) in the
hyper-parameters (Prop 2 style; the degree argument is in :mod:`sgd_diagrams.theory.symbolic`):

* ``sgd`` — in-order SGD ``sgd(N, B, E)`` (no ``shuffle_seed``): a polynomial in N, B, E, B^{-1}
  (and N^{-1} for a train root that shares its part);
* ``gd`` — full-batch GD ``gd(N, T)``: a polynomial in T, N^{-1}.

:func:`~sgd_diagrams.theory.symbolic.symbolic_history_count` fits and verifies these formulas from
exact counts, but fitting every diagram with ≤ 4 edges takes minutes, and a sweep of a diagram with k
tied parts costs ~N^k.  So the formulas are fitted once, by this module's generator, and shipped as
package data (``sgd_diagrams/data/count_polynomials.json``); at run time a count is an exact rational
evaluation of a few dozen monomials, whatever N, B, E or T.

Diagrams with 5 or 6 edges are not shipped: their polynomials are derived on demand by
:mod:`sgd_diagrams.theory.order_polynomials` (a sum over weak orders of the node times, no fit and no
sweep; ≈ 1 s for all 2633 five-edge diagrams on 2 cores) and cached in memory — see
:func:`derived_history_count`.  The same derivation reproduces this table term by term.

Regenerate the table (≈ 2 min on 2 cores) after any change to the counting rules::

    python -m sgd_diagrams.theory.count_tables            # writes src/sgd_diagrams/data/count_polynomials.json
    python -m sgd_diagrams.theory.count_tables --output other.json --max-edges 3

File format (plain JSON, version :data:`FORMAT_VERSION`)::

    {"format": "sgd-diagrams count polynomials", "format_version": 1, "package_version": "0.1.0",
     "max_edges": 4,
     "families": {"sgd": {"variables": ["N", "B", "E"], "counts": {"r(ab)": [[[0, 0, 2], "1/2"], ...], ...}},
                  "gd":  {"variables": ["N", "T"],      "counts": {...}}}}

Each diagram (canonical notation ``str(d)``; every test, train and displacement diagram with ≤ max_edges
edges — test and displacement diagrams are train diagrams whose root is alone) maps to its count as a list
of ``[[exponent per variable], "p/q"]`` monomials (an empty list is a count of 0).  Reading checks every
field's type; a malformed file raises :class:`~sgd_diagrams.errors.SgdDiagramsError` asking to regenerate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..diagrams import Diagram, enumerate_diagrams
from ..errors import SgdDiagramsError, guarded
from ..io import parse_untrusted_json, read_untrusted_text
from ..schedules.grid import Schedule
from .order_polynomials import DERIVED_MAX_EDGES, derived_count_polynomial

__all__ = [
    "FORMAT_VERSION",
    "TABLE_FAMILIES",
    "TABLE_MAX_EDGES",
    "CountTable",
    "count_table",
    "derived_history_count",
    "fit_count_polynomial",
    "generate_count_table",
    "load_count_table",
    "structured_family",
    "structured_history_count",
    "table_history_count",
    "write_count_table",
]

FORMAT_VERSION = 1
FORMAT_NAME = "sgd-diagrams count polynomials"
TABLE_MAX_EDGES = 4  # = symbolic.MAX_SYMBOLIC_ORDER: the fits are offered (and verified) up to 4 edges
TABLE_FAMILIES: dict[str, tuple[str, ...]] = {"sgd": ("N", "B", "E"), "gd": ("N", "T")}
TABLE_FILE = "count_polynomials.json"
REGENERATE = "python -m sgd_diagrams.theory.count_tables"

_MAX_EXPONENT = 64  # |exponent| bound on read (the fitted ones are ≤ 2·max_edges)
_MAX_NOTATION = 200
_MAX_RATIONAL_CHARS = 200
_RATIONAL = re.compile(r"-?[0-9]+(/[0-9]+)?")

Monomial = tuple[tuple[int, ...], Fraction]


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


class CountTable:
    """The parsed table: per family, notation → monomials; see the module docstring for the file format."""

    def __init__(self, polynomials: Mapping[str, Mapping[str, tuple[Monomial, ...]]], max_edges: int,
                 package_version: str, source: str) -> None:
        self.polynomials = {f: dict(p) for f, p in polynomials.items()}
        self.max_edges = max_edges
        self.package_version = package_version
        self.source = source
        self._compiled: dict[tuple[str, str], _IntegerForm] = {}

    def polynomial(self, d: Diagram | str, family: str) -> tuple[Monomial, ...] | None:
        """The count of ``d`` under ``family`` as ((exponents, coefficient), …), or None if not tabulated."""
        return self.polynomials.get(family, {}).get(str(d))

    def count(self, d: Diagram | str, family: str, values: Sequence[int]) -> Fraction | None:
        """The exact count at ``values`` (N, B, E for sgd; N, T for gd), or None if not tabulated."""
        names = TABLE_FAMILIES.get(family)
        if names is None:
            raise SgdDiagramsError(f"unknown schedule family {family!r}; use {' or '.join(TABLE_FAMILIES)}")
        if len(values) != len(names) or not all(_is_int(v) and v >= 1 for v in values):
            raise SgdDiagramsError(f"family {family!r} counts need positive integers {', '.join(names)}; got {values}")
        key = (family, str(d))
        form = self._compiled.get(key)
        if form is None:
            poly = self.polynomial(key[1], family)
            if poly is None:
                return None
            form = self._compiled[key] = _IntegerForm(poly, len(TABLE_FAMILIES[family]))
        return form.evaluate(values)


# -- reading ---------------------------------------------------------------------------------
def _malformed(source: str, what: str) -> SgdDiagramsError:
    return SgdDiagramsError(f"count table {source} is malformed ({what}); regenerate it with `{REGENERATE}`")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _parse_rational(text: Any, source: str, where: str) -> Fraction:
    if not isinstance(text, str) or len(text) > _MAX_RATIONAL_CHARS or not _RATIONAL.fullmatch(text):
        raise _malformed(source, f"{where}: coefficient must be a string 'p/q', got {str(text)[:40]!r}")
    num, _, den = text.partition("/")
    if den and int(den) == 0:
        raise _malformed(source, f"{where}: zero denominator")
    return Fraction(int(num), int(den) if den else 1)


def _parse_polynomial(obj: Any, n_vars: int, source: str, where: str) -> tuple[Monomial, ...]:
    if not isinstance(obj, list):
        raise _malformed(source, f"{where}: a count must be a list of [exponents, 'p/q'] monomials")
    out: dict[tuple[int, ...], Fraction] = {}
    for term in obj:
        if not (isinstance(term, list) and len(term) == 2 and isinstance(term[0], list)):
            raise _malformed(source, f"{where}: each monomial must be [[exponents], 'p/q']")
        exps = term[0]
        if len(exps) != n_vars or not all(_is_int(e) and abs(e) <= _MAX_EXPONENT for e in exps):
            raise _malformed(source, f"{where}: exponents must be {n_vars} integers of size <= {_MAX_EXPONENT}")
        key = tuple(exps)
        if key in out:
            raise _malformed(source, f"{where}: monomial {list(key)} appears twice")
        out[key] = _parse_rational(term[1], source, where)
    return tuple(sorted(out.items()))


def _parse_table(obj: Any, source: str) -> CountTable:
    keys = {"format", "format_version", "package_version", "generator", "max_edges", "families"}
    if not isinstance(obj, dict) or set(obj) != keys:
        got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise _malformed(source, f"top level must be an object with keys {sorted(keys)}, got {got}")
    if obj["format"] != FORMAT_NAME:
        raise _malformed(source, f"format is {str(obj['format'])[:40]!r}, expected {FORMAT_NAME!r}")
    if not _is_int(obj["format_version"]) or obj["format_version"] != FORMAT_VERSION:
        raise _malformed(source, f"format_version {obj['format_version']!r}, this version reads {FORMAT_VERSION}")
    for key in ("package_version", "generator"):
        if not isinstance(obj[key], str) or len(obj[key]) > 100:
            raise _malformed(source, f"{key} must be a short string")
    max_edges = obj["max_edges"]
    if not _is_int(max_edges) or not 0 <= max_edges <= TABLE_MAX_EDGES:
        raise _malformed(source, f"max_edges must be an integer 0..{TABLE_MAX_EDGES}, got {max_edges!r}")
    families = obj["families"]
    if not isinstance(families, dict) or set(families) != set(TABLE_FAMILIES):
        raise _malformed(source, f"families must be an object with keys {sorted(TABLE_FAMILIES)}")
    polynomials: dict[str, dict[str, tuple[Monomial, ...]]] = {}
    for family, variables in TABLE_FAMILIES.items():
        fam = families[family]
        if not isinstance(fam, dict) or set(fam) != {"variables", "counts"}:
            raise _malformed(source, f"family {family!r} must be an object with keys 'variables', 'counts'")
        if fam["variables"] != list(variables):
            raise _malformed(source, f"family {family!r} variables must be {list(variables)}")
        counts = fam["counts"]
        if not isinstance(counts, dict):
            raise _malformed(source, f"family {family!r} counts must be an object notation -> monomials")
        table: dict[str, tuple[Monomial, ...]] = {}
        for notation, poly in counts.items():
            if len(notation) > _MAX_NOTATION:
                raise _malformed(source, f"family {family!r}: notation longer than {_MAX_NOTATION} characters")
            table[notation] = _parse_polynomial(poly, len(variables), source, f"{family} {notation[:40]!r}")
        polynomials[family] = table
    return CountTable(polynomials, max_edges, obj["package_version"], source)


def load_count_table(path: str | Path | None = None) -> CountTable:
    """Read and check a count table (default: the one shipped in ``sgd_diagrams/data``).

    Raises :class:`SgdDiagramsError` (one line, asking to regenerate) when the file is missing,
    not JSON, or any field has the wrong type.
    """
    try:
        if path is None:
            source = f"sgd_diagrams/data/{TABLE_FILE}"
            text = resources.files("sgd_diagrams.data").joinpath(TABLE_FILE).read_text(encoding="utf-8")
        else:
            source = str(path)
            text = read_untrusted_text(Path(path), what="count table", max_bytes=64 * 2**20)
    except (OSError, UnicodeDecodeError, SgdDiagramsError) as exc:
        raise SgdDiagramsError(
            f"cannot read count table {source}: {getattr(exc, 'strerror', None) or exc}; "
            f"regenerate it with `{REGENERATE}`"
        ) from None
    try:
        obj = parse_untrusted_json(text, what="count table")
    except SgdDiagramsError as exc:
        raise _malformed(source, str(exc)) from None
    return _parse_table(obj, source)


@lru_cache(maxsize=1)
def count_table() -> CountTable:
    """The shipped table, read and checked once per process."""
    return load_count_table()


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


@lru_cache(maxsize=16384)
def _derived_form(d: Diagram, family: str) -> _IntegerForm:
    return _IntegerForm(derived_count_polynomial(d, family), len(TABLE_FAMILIES[family]))


def derived_history_count(d: Diagram, family: str, values: Sequence[int]) -> Fraction:
    """count(D) at ``values`` from the closed form derived on the fly (:mod:`~.order_polynomials`), exact.

    Serves diagrams beyond the shipped table (5 and 6 edges); the polynomial is derived once per diagram
    and process (≈ 0.5 ms per order-5 diagram) and cached in memory, not shipped.
    """
    names = TABLE_FAMILIES.get(family)
    if names is None:
        raise SgdDiagramsError(f"unknown schedule family {family!r}; use {' or '.join(TABLE_FAMILIES)}")
    if len(values) != len(names) or not all(_is_int(v) and v >= 1 for v in values):
        raise SgdDiagramsError(f"family {family!r} counts need positive integers {', '.join(names)}; got {values}")
    return _derived_form(d, family).evaluate(values)


def table_history_count(d: Diagram, family: str, values: Sequence[int], table: CountTable | None = None
                        ) -> Fraction | None:
    """count(D) for a family and its numbers (exact), or None when there is no closed form for ``d``.

    Diagrams with ≤ :data:`TABLE_MAX_EDGES` edges read the shipped (or given) table; larger ones, up to
    :data:`~.order_polynomials.DERIVED_MAX_EDGES`, use the derived closed form (:func:`derived_history_count`).
    """
    if d.n_edges > TABLE_MAX_EDGES:
        return derived_history_count(d, family, values) if d.n_edges <= DERIVED_MAX_EDGES else None
    return (table or count_table()).count(d, family, values)


def structured_history_count(d: Diagram, schedule: Schedule) -> float | None:
    """history_count(d, schedule) from the shipped formulas, or None when they do not apply.

    They apply to in-order SGD and GD (:func:`structured_family`) and diagrams with at most
    :data:`~.order_polynomials.DERIVED_MAX_EDGES` edges (the shipped table up to :data:`TABLE_MAX_EDGES`).
    The polynomial is evaluated exactly (integers and one
    :class:`~fractions.Fraction`) and rounded once to float64, so it is exact to the last bit at
    N = 10^5 and beyond, where the float sweep would take hours (seed 001 Prop 2, App. A.3).
    """
    if not isinstance(d, Diagram):
        raise SgdDiagramsError("structured_history_count needs a Diagram (use sgd_diagrams.diagrams.parse)")
    if d.n_edges > DERIVED_MAX_EDGES:
        return None
    fam = structured_family(schedule)
    if fam is None:
        return None
    count = table_history_count(d, fam[0], fam[1])
    return None if count is None else float(count)


# -- generating ------------------------------------------------------------------------------
def table_diagrams(max_edges: int = TABLE_MAX_EDGES) -> tuple[Diagram, ...]:
    """Every test, train and displacement diagram with ≤ max_edges edges, each once, by (edges, notation)."""
    seen: dict[str, Diagram] = {}
    for k in range(max_edges + 1):
        for kind in ("test", "train", "displacement"):
            for d in enumerate_diagrams(k, kind):
                seen.setdefault(str(d), d)
    return tuple(sorted(seen.values(), key=lambda d: (d.n_edges, str(d))))


def fit_count_polynomial(d: Diagram, family: str) -> tuple[Monomial, ...]:
    """count(D) under ``family`` as monomials in the family's variables, from the verified symbolic fit."""
    import sympy as sp

    from .symbolic import symbolic_history_count  # symbolic imports series, which imports this module

    symbols = [sp.Symbol(v, positive=True) for v in TABLE_FAMILIES[family]]
    expr = sp.expand(symbolic_history_count(d, family))
    out: dict[tuple[int, ...], Fraction] = {}
    for term in sp.Add.make_args(expr):
        if term == 0:
            continue
        coeff, rest = term.as_coeff_Mul()
        exps = [0] * len(symbols)
        for factor in sp.Mul.make_args(rest):
            if factor == 1:
                continue
            base, exp = factor.as_base_exp()
            if base not in symbols or not exp.is_Integer:
                raise SgdDiagramsError(f"internal: count of {d} under {family} is not a Laurent polynomial: {term}")
            exps[symbols.index(base)] += int(exp)
        if not coeff.is_Rational:
            raise SgdDiagramsError(f"internal: count of {d} under {family} has a non-rational coefficient {coeff}")
        key = tuple(exps)
        out[key] = out.get(key, Fraction(0)) + Fraction(int(coeff.p), int(coeff.q))
    return tuple(sorted((e, c) for e, c in out.items() if c != 0))


def _package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sgd-diagrams")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown"


def generate_count_table(max_edges: int = TABLE_MAX_EDGES, progress: bool = False) -> dict[str, Any]:
    """The table as a JSON-ready object (fits every diagram; ≈ 2 min for 4 edges on 2 cores)."""
    if not _is_int(max_edges) or not 0 <= max_edges <= TABLE_MAX_EDGES:
        raise SgdDiagramsError(f"max_edges must be an integer 0..{TABLE_MAX_EDGES}, got {max_edges!r}")
    diagrams = table_diagrams(max_edges)
    families: dict[str, Any] = {}
    for family, variables in TABLE_FAMILIES.items():
        counts: dict[str, list] = {}
        for i, d in enumerate(diagrams):
            poly = fit_count_polynomial(d, family)
            counts[str(d)] = [[list(e), f"{c.numerator}/{c.denominator}"] for e, c in poly]
            if progress and (i + 1) % 50 == 0:
                print(f"count_tables: {family} {i + 1}/{len(diagrams)}", file=sys.stderr, flush=True)
        families[family] = {"variables": list(variables), "counts": counts}
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": _package_version(),
        "generator": "sgd_diagrams.theory.count_tables",
        "max_edges": max_edges,
        "families": families,
    }


def _dumps(table: Mapping[str, Any]) -> str:
    """JSON with one diagram per line (readable diffs)."""
    head = {k: v for k, v in table.items() if k != "families"}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + ['  "families": {']
    fams = list(table["families"].items())
    for fi, (family, fam) in enumerate(fams):
        lines.append(f"    {json.dumps(family)}: {{")
        lines.append(f'      "variables": {json.dumps(fam["variables"])},')
        lines.append('      "counts": {')
        items = list(fam["counts"].items())
        for i, (notation, poly) in enumerate(items):
            comma = "," if i + 1 < len(items) else ""
            lines.append(f"        {json.dumps(notation)}: {json.dumps(poly, separators=(',', ':'))}{comma}")
        lines.append("      }")
        lines.append("    }" + ("," if fi + 1 < len(fams) else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def write_count_table(table: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``table`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    path = Path(path)
    text = _dumps(table)
    _parse_table(json.loads(text), str(path))  # never write what we could not read back
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; package data is world-readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def default_table_path() -> Path:
    """``src/sgd_diagrams/data/count_polynomials.json`` next to this package."""
    return Path(__file__).resolve().parents[1] / "data" / TABLE_FILE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sgd_diagrams.theory.count_tables",
        description="Fit and write the closed-form history counts of in-order SGD and GD (package data).",
    )
    parser.add_argument("--output", type=Path, default=None, help=f"output file (default: the package's {TABLE_FILE})")
    parser.add_argument("--max-edges", type=int, default=TABLE_MAX_EDGES, help="largest diagram (default 4)")
    args = parser.parse_args(argv)

    def body() -> int:
        out = write_count_table(generate_count_table(args.max_edges, progress=True),
                                args.output or default_table_path())
        print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")
        return 0

    return guarded("count_tables", body)


if __name__ == "__main__":
    sys.exit(main())
