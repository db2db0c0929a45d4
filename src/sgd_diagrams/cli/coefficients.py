"""``sgd-diagrams coefficients``: symbolic Taylor coefficients (seed 001 Prop 1, Prop 2, Table 2).

Usage::

    sgd-diagrams coefficients --schedule sgd --order 3 [--format text|latex|markdown|html|json]
    sgd-diagrams coefficients --schedule gd --order 2 --quantity gen-gap
    sgd-diagrams coefficients --order 2 --at B=1 --in-steps
    sgd-diagrams coefficients --order 3 --format markdown --pictures docs/diagrams -o docs/coefficients.md

Each row is one diagram D: its coefficient sign·(−1)^d·count(D) as a formula in
N, B, E (in-order SGD; T = E·N/B) or N, T (GD), and its value in the paper's
index notation.  ``--pictures DIR`` (markdown/html) draws the diagrams into DIR
and shows them in the table; links are relative to the ``-o`` file's folder.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..diagrams import DIAGRAM_QUANTITY_NAMES
from ..errors import SgdDiagramsError
from ..io import atomic_write_text
from ..theory.symbolic import FAMILIES, MAX_SYMBOLIC_ORDER, symbolic_series
from ..theory.symbolic_format import FORMATS, format_series

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``coefficients`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "coefficients",
        help="symbolic Taylor coefficients of SGD/GD in N, B, E (or T) times named diagram values",
        description="Theorem 1's coefficients as exact formulas, like seed 001 Prop 2 (verified against "
        "exact history counts).",
    )
    p.add_argument("--schedule", choices=FAMILIES, default="sgd",
                   help="sgd: in-order SGD with N, B, E; gd: full batch with N, T (default sgd)")
    p.add_argument("--order", type=int, default=2, help=f"largest power of η (default 2, at most {MAX_SYMBOLIC_ORDER})")
    p.add_argument("--quantity", choices=DIAGRAM_QUANTITY_NAMES, default="test-loss", help="default test-loss")
    p.add_argument("--format", choices=FORMATS, default="text", help="default text")
    p.add_argument("--at", default="", help="fix some symbols, e.g. B=1,E=1")
    p.add_argument("--in-steps", action="store_true", help="write SGD coefficients with T = E·N/B instead of E")
    p.add_argument("--pictures", metavar="DIR", help="markdown/html: draw the diagrams into DIR and show them")
    p.add_argument("-o", "--output", "--out", dest="output", help="write to this file (atomically) instead of stdout")
    p.add_argument("--quiet", action="store_true", help="no warnings on stderr")
    p.set_defaults(run=run)
    return p


def _parse_at(text: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, eq, val = item.partition("=")
        try:
            number = int(val)
        except ValueError:
            number = 0
        if not eq or number < 1:
            raise SgdDiagramsError(f"bad --at item {item!r}; write SYMBOL=positive integer, e.g. --at B=1,E=2")
        values[key.strip()] = number
    return values


def run(args: argparse.Namespace) -> int:
    if args.pictures and args.format not in ("markdown", "html"):
        raise SgdDiagramsError("--pictures works with --format markdown or html")
    series = symbolic_series(args.order, args.schedule, args.quantity)
    at = _parse_at(args.at)
    if at:
        series = series.substitute(**at)
    pictures = None
    if args.pictures:
        from ..drawing.gallery import draw_pictures

        paths = draw_pictures([t.diagram for t in series.terms], args.pictures)
        base = Path(args.output).parent if args.output else Path(".")
        pictures = {d: Path(os.path.relpath(p, base)).as_posix() for d, p in paths.items()}
    text = format_series(series, args.format, pictures=pictures, steps=args.in_steps)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        print(text, end="")
    return 0
