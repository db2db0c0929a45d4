"""``sgd-diagrams whatif``: predicted test loss and gen gap with error bars over a 2-D grid of choices.

Usage::

    sgd-diagrams whatif (--stats S.json | --landscape L --samples K [--seed S] [--replications R])
        --schedule sgd:N=..,B=..,E=.. --order D --eta 0.001:0.1:20:log --vary batch=1,2,4,8
        [--quantity test-loss,gen-gap] [-o out/whatif.png] [--json]

Rows vary one choice (``--vary batch=…`` at fixed epochs, ``epochs=…``, or ``momentum=…``), columns η.
Value lists are ``a,b,c``, ``START:STOP:COUNT`` (evenly spaced) or ``START:STOP:COUNT:log`` (geometric).
Each row's schedule is ``--schedule`` with that B or E (so ``--lr-schedule``/``--momentum``, where the
schedule options offer them, are rebuilt for each row), or with that momentum β.  Writes a heatmap PNG
(``-o``; matplotlib, extra 'plot') and its JSON beside it (axes, values, stderr, trusted mask); hatched
cells are not trusted (:mod:`sgd_diagrams.what_if`).  The grid's cost is estimated before it starts.
"""

from __future__ import annotations

import argparse
import copy
import re
from pathlib import Path

import numpy as np

from ..errors import SgdDiagramsError
from ..theory.orders import ORDER_LIMITS
from ._options import (
    add_execution,
    add_landscape,
    add_sampling,
    add_schedule,
    add_statistics,
    add_trust,
    execution_from_args,
    load_landscape_arg,
    load_schedule_arg,
    load_statistics_arg,
    sampling_from_args,
)

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "whatif", help="map predicted test loss and gen gap (± stderr) over eta x batch, epochs or momentum",
        description="Predict E[test loss] and E[gen gap] with error bars over a grid: eta (columns) x one more "
        "choice (rows: --vary batch=..., epochs=... or momentum=...), from saved statistics (--stats) or "
        "samples (--samples K). Values: a,b,c or START:STOP:COUNT[:log]. Hatched cells are not trusted, by the "
        "same rule as predict's flag: estimated truncation error above --rtol times the predicted change (+2 "
        "stderr), or eta*lambda_max >= 2(1+beta).")
    add_landscape(p)
    add_schedule(p, required=True)
    p.add_argument("--order", type=int, required=True, help=f"edges kept (at most {ORDER_LIMITS['estimated']})")
    p.add_argument("--eta", required=True, help="learning rates: a,b,c or START:STOP:COUNT[:log]")
    p.add_argument("--vary", required=True, metavar="AXIS=VALUES",
                   help="the rows: batch=1,2,4,8 (epochs fixed), epochs=1:10:10, or momentum=0:0.9:10")
    p.add_argument("--quantity", default="test-loss,gen-gap",
                   help="comma-separated: test-loss, train-loss, gen-gap (default test-loss,gen-gap)")
    add_sampling(p)
    add_trust(p)
    add_statistics(p)
    add_execution(p)
    p.add_argument("--curve", action="store_true",
                   help="one predicted training curve per setting of --vary, at one --eta (first --quantity); -o "
                   "draws them over the step t")
    p.add_argument("--every", type=int, metavar="K", help="with --curve: every K-th step (0 and T always)")
    p.add_argument("-o", "--out", help="heatmap PNG (its JSON is written beside it, same name .json)")
    p.add_argument("--json", action="store_true", help="print the grid as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no warnings on stderr")
    p.set_defaults(run=run, landscape=None, seed=None)
    return p


def _axis(text: str) -> tuple[str, str]:
    from ..what_if import AXES

    name, eq, values = str(text).partition("=")
    name = name.strip()
    if not eq or name not in AXES or not values.strip():
        raise SgdDiagramsError(f"--vary must be AXIS=VALUES with AXIS one of {', '.join(AXES)} "
                               f"(e.g. batch=1,2,4,8), got {text!r}")
    return name, values


def _row_builder(args: argparse.Namespace, axis: str):
    """Row schedules: the --schedule spec with B or E replaced, re-read like --schedule itself."""
    if axis == "momentum":
        return None
    if not args.schedule or not args.schedule.strip().lower().startswith("sgd:"):
        raise SgdDiagramsError(f"--vary {axis}=... needs --schedule sgd:N=..,B=..,E=.. (not --grid or gd)")
    key = "B" if axis == "batch" else "E"

    def build(value: float):
        spec = args.schedule
        item = f"{key}={int(value)}"
        pattern = re.compile(rf"(?<=[:,])\s*{key}\s*=\s*[^,]*")
        spec = pattern.sub(item, spec) if pattern.search(spec) else spec.rstrip(",") + f",{item}"
        row = copy.copy(args)
        row.schedule, row.grid = spec, None
        return load_schedule_arg(row)

    return build


def run(args: argparse.Namespace) -> int:
    from ..api import measure
    from ..what_if import parse_axis_values, whatif

    axis, text = _axis(args.vary)
    values = parse_axis_values(text, f"--vary {axis}", integer=axis != "momentum")
    etas = parse_axis_values(args.eta, "--eta")
    quantities = [q.strip() for q in args.quantity.split(",") if q.strip()]
    if not quantities:
        raise SgdDiagramsError(f"--quantity needs at least one of test-loss, train-loss, gen-gap, got "
                               f"{args.quantity!r}")
    if args.out and Path(args.out).suffix.lower() != ".png":
        raise SgdDiagramsError(f"-o must name a .png file, got {args.out!r}")
    base = load_schedule_arg(args)
    if args.stats:
        stats = load_statistics_arg(args)
    else:
        if args.samples is None:
            raise SgdDiagramsError("give --stats S.json (from sgd-diagrams stats --out) or --samples K")
        kinds = ["test"] * ("test-loss" in quantities) + ["train"] * bool({"train-loss", "gen-gap"} & set(quantities))
        stats = measure(load_landscape_arg(args), args.order, sampling_from_args(args), execution_from_args(args),
                        kinds=kinds or ["test"], spec=args.landscape or "example")
    if args.every is not None and (not args.curve or args.every < 1):
        raise SgdDiagramsError("--every K (a positive number of steps) applies to --curve")
    if args.curve:
        return _curves(args, stats, base, etas, axis, values, quantities[0])
    grid = whatif(stats, base, args.order, etas, axis, values, quantities=quantities,
                  make_schedule=_row_builder(args, axis), rtol=args.rtol, execution=execution_from_args(args))
    if args.out:
        out = Path(args.out)
        grid.plot(out)  # the figure first: a failure leaves no JSON claiming a figure beside it
        grid.save_json(out.with_suffix(".json"))
    if args.json:
        from ..io import dumps

        print(dumps(grid.to_json()))
        return 0
    lines = [f"what if: order-{grid.order} Taylor predictions from {stats.samples} samples of {stats.name} "
             f"({stats.replications} replications); rows {axis}, columns eta; * = not trusted"]
    for q in grid.quantities:
        lines.append(f"E[{q}] ± stderr")
        lines.append(f"{axis:>10}  " + "  ".join(f"{e:>20.4g}" for e in grid.eta))
        for i, v in enumerate(grid.values):
            cells = [f"{a:.6g} ± {b:.2g}{'' if ok else '*'}"
                     for a, b, ok in zip(grid.value[q][i], grid.stderr[q][i], grid.trusted[q][i], strict=True)]
            lines.append(f"{v:>10g}  " + "  ".join(f"{c:>20}" for c in cells))
        share = float(np.mean(grid.trusted[q]))
        lines.append(f"trusted cells: {100 * share:.0f}%")
    if args.out:
        lines.append(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    print("\n".join(lines))
    return 0


def _curves(args: argparse.Namespace, stats, base, etas, axis: str, values, quantity: str) -> int:
    """whatif --curve: one curve per row value; a compact table of each curve's value at a few steps."""
    from ..what_if import whatif_curves

    result = whatif_curves(stats, base, args.order, etas, axis, values, quantity=quantity, every=args.every,
                           make_schedule=_row_builder(args, axis), rtol=args.rtol,
                           execution=execution_from_args(args))
    if args.out:
        out = Path(args.out)
        result.plot(out)
        result.save_json(out.with_suffix(".json"))
    if args.json:
        from ..io import dumps

        print(dumps(result.to_json()))
        return 0
    lines = [f"what if: order-{result.order} Taylor curves of E[{quantity}] at eta = {result.eta:g}, one per {axis} "
             "(value ± stderr at the first, middle and last recorded step; * = not trusted)"]
    for v, p in zip(result.values, result.predictions, strict=True):
        picks = sorted({0, len(p.steps) // 2, len(p.steps) - 1})
        cells = [f"t={int(p.steps[i])}: {p.value[i][0]:.6g} ± {p.stderr[i][0]:.2g}"
                 f"{'' if p.trusted is None or p.trusted[i][0] else '*'}" for i in picks]
        lines.append(f"{axis}={v:g}  " + "   ".join(cells))
    if args.out:
        lines.append(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    print("\n".join(lines))
    return 0
