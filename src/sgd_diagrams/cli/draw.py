"""``sgd-diagrams draw``: pictures of diagrams and of histories in a grid (seed 001 App. A, Figs. 9–11).

Usage::

    sgd-diagrams draw "r(a(b)a)" -o d.svg
    sgd-diagrams draw "r(a(b(a)))" -o h.png --schedule sgd:N=4,B=1,E=3 [--history auto]
    sgd-diagrams draw "r(a(a))" -o h.png --grid schedule.json --history '[[1,5],[1,2]]'
    sgd-diagrams draw --all --edges 3 --kind test -o docs/diagrams/ [--picture-format png|svg]

With a schedule (``--schedule`` spec or ``--grid`` JSON file) the picture is a
history of the diagram in that grid: ``--history auto`` (the default) picks
one, or give ``[[n, t], ...]`` for the non-root nodes 1..m in canonical
preorder.  ``--all`` draws every diagram with at most ``--edges`` edges into
the output directory and writes ``index.md`` there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..diagrams import KINDS, parse
from ..errors import SgdDiagramsError
from ..schedules import load_schedule, parse_schedule_spec
from ._options import with_lr_and_momentum

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``draw`` subcommand to an argparse ``subparsers`` object (``run`` is set as default ``run``)."""
    p = subparsers.add_parser(
        "draw",
        help="draw a diagram, a history in its grid, or every diagram up to some edges",
        description="Draw diagrams as seed 001 does: dots, children left of parents, the root rightmost, "
        "a colour and a fuzzy outline per part. The file format follows the suffix (.svg or .png).",
    )
    p.add_argument("notation", nargs="?", help="diagram notation, e.g. 'r(a(b)c)' (omit with --all)")
    p.add_argument("-o", "--output", "--out", dest="output", required=True,
                   help="output file (.svg/.png), or a directory with --all")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--schedule", help="draw a history in this grid: sgd:N=..,B=..,E=.. or gd:N=..,T=..")
    src.add_argument("--grid", help="draw a history in the grid of this schedule JSON file")
    from ..schedules.grid import LR_SCHEDULE_HELP

    p.add_argument("--lr-schedule", metavar="SPEC",
                   help="show these lr multipliers above the grid: " + LR_SCHEDULE_HELP)
    p.add_argument("--history", help="'auto' (default with a schedule) or JSON [[n, t], ...] for nodes 1..m")
    p.add_argument("--all", action="store_true", help="draw every diagram with at most --edges edges")
    p.add_argument("--edges", type=int, default=3, help="with --all: largest number of edges (default 3)")
    p.add_argument("--kind", choices=KINDS, default="test", help="with --all: diagram kind (default test)")
    p.add_argument("--picture-format", choices=("png", "svg"), default="png",
                   help="with --all: picture file format (default png)")
    p.add_argument("--label", action="store_true", help="write the notation under a single diagram")
    p.add_argument("--quiet", action="store_true", help="no warnings on stderr")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..drawing import draw_gallery, draw_history
    from ..drawing.history import parse_history

    if args.all:
        if args.notation:
            raise SgdDiagramsError("give either a diagram notation or --all, not both")
        if args.schedule or args.grid or args.history:
            raise SgdDiagramsError("--all draws diagrams only; drop --schedule/--grid/--history")
        index = draw_gallery(args.edges, args.kind, args.output, suffix="." + args.picture_format)
        print(index)
        return 0
    if not args.notation:
        raise SgdDiagramsError("give a diagram notation such as 'r(a(b))', or --all for every diagram")
    d = parse(args.notation)
    schedule = None
    if args.schedule:
        schedule = parse_schedule_spec(args.schedule)
    elif args.grid:
        schedule = load_schedule(args.grid)
    if args.lr_schedule is not None:
        if schedule is None:
            raise SgdDiagramsError("--lr-schedule needs a grid: add --schedule sgd:N=..,B=..,E=.. or --grid FILE")
        schedule = with_lr_and_momentum(args, schedule)
    out = Path(args.output)
    if schedule is None:
        if args.history:
            raise SgdDiagramsError("--history needs a grid: add --schedule sgd:N=..,B=..,E=.. or --grid FILE")
        from ..drawing.render import draw_diagram

        print(draw_diagram(d, out, label=args.label))
        return 0
    history = None if args.history in (None, "auto") else parse_history(args.history, d)
    print(draw_history(d, schedule, history, out))
    return 0
