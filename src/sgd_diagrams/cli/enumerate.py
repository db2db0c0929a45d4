"""``sgd-diagrams enumerate``: every diagram with d edges of a kind (seed 001 Def. 1, App. A.3).

Usage::

    sgd-diagrams enumerate --edges 3 --kind test [--linkless] [--grid G.json | --schedule SPEC] [--json]

With a schedule, only diagrams with a history in it are listed, with their weighted history counts.
"""

from __future__ import annotations

import argparse

from ..diagrams import KINDS, enumerate_diagrams
from ..schedules.histories import history_count
from ._options import add_force, add_output, emit, load_schedule_arg

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("enumerate", help="list diagrams with a given number of edges")
    p.add_argument("--edges", type=int, required=True, help="number of edges d (order η^d)")
    p.add_argument("--kind", choices=KINDS, default="test")
    p.add_argument("--linkless", action="store_true", help="only linkless diagrams (resummed theory)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--grid", help="schedule JSON: keep only diagrams with a history in it")
    group.add_argument("--schedule", help="schedule spec: keep only diagrams with a history in it")
    add_force(p)
    add_output(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    diagrams = enumerate_diagrams(args.edges, args.kind, linkless=args.linkless, force=args.force)
    schedule = load_schedule_arg(args) if (args.grid or args.schedule) else None
    rows = []
    for d in diagrams:
        count = history_count(d, schedule) if schedule is not None else None
        if schedule is not None and count == 0:
            continue
        row = {"notation": str(d), "edges": d.n_edges, "parts": d.n_parts, "automorphisms": d.automorphisms}
        if count is not None:
            row["histories"] = count
        rows.append(row)
    lines = [f"{len(rows)} {args.kind} diagram(s) with {args.edges} edge(s)"
             + (" (linkless)" if args.linkless else "")
             + (f" having histories in {schedule}" if schedule is not None else "")]
    lines.append(f"{'notation':<24}{'edges':>6}{'parts':>6}{'|Aut|':>7}" + ("   histories" if schedule else ""))
    for r in rows:
        line = f"{r['notation']:<24}{r['edges']:>6}{r['parts']:>6}{r['automorphisms']:>7}"
        if schedule is not None:
            line += f"   {r['histories']:.10g}"
        lines.append(line)
    emit(args, {"count": len(rows), "diagrams": rows}, "\n".join(lines))
    return 0
