"""``sgd-diagrams demo``: the main job on the bundled example landscape.

Test diagrams with ≤ 2 edges and their history counts in an SGD grid, Theorem 1's Taylor coefficients of
test loss, train loss and generalization gap, and the Taylor and resummed predictions beside the exact
expectation of SGD over every training set (enumerated).
"""

from __future__ import annotations

import argparse

import numpy as np

from .. import __version__
from ..api import predict, taylor_series
from ..diagrams import enumerate_diagrams
from ..io import atomic_write_text
from ..landscapes import example_landscape
from ..schedules import sgd
from ..schedules.histories import history_count

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", help="the main job on the built-in example landscape")
    p.add_argument("--N", type=int, default=4, help="training points (default 4)")
    p.add_argument("--E", type=int, default=2, help="epochs (default 2)")
    p.add_argument("--order", type=int, default=3, help="series order (default 3)")
    p.add_argument("--out", help="write the report to this file (atomically) instead of printing it")
    p.add_argument("--quiet", action="store_true", help="no warnings on stderr")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..optimizers.exact_expectation import exact_expectation

    lines: list[str] = []
    landscape = example_landscape()
    schedule = sgd(args.N, 1, args.E)
    order = args.order
    lines.append(f"sgd-diagrams {__version__} demo: {landscape!r}, {schedule}")
    lines.append("\nTest diagrams with <= 2 edges and their weighted history counts in this grid:")
    for k in range(3):
        for d in enumerate_diagrams(k, "test"):
            count = history_count(d, schedule)
            lines.append(f"  {str(d):<12} edges={k}  |Aut|={d.automorphisms}  histories={count:.6g}")
    series = {q: taylor_series(landscape, schedule, order, q) for q in ("test-loss", "train-loss", "gen-gap")}
    lines.append(f"\nTaylor coefficients (Theorem 1) to order {order}:")
    for q, s in series.items():
        lines.append(f"  {q:<11} " + "  ".join(f"c{k}={c:.6g}" for k, c in enumerate(s.coefficients)))
    etas = np.array([0.005, 0.01, 0.02, 0.04])
    exact = exact_expectation(landscape, schedule, etas)
    lines.append(f"\nOrder-{order} Taylor polynomial and resummed prediction vs exact E[test loss]"
                 f" (all {landscape.n_points}^{schedule.N} training sets enumerated):")
    resummed = predict(landscape, schedule, order, etas, method="resummed").value
    lines.append(f"  {'eta':>7} {'Taylor':>14} {'resummed':>14} {'exact SGD':>14} {'Taylor err':>11} "
                 f"{'resum err':>11}")
    for eta, ex, rs in zip(etas, exact["test-loss"], resummed, strict=True):
        pred = float(series["test-loss"](eta))
        lines.append(f"  {eta:>7.3f} {pred:>14.10f} {rs:>14.10f} {ex:>14.10f} {pred - ex:>11.2e} {rs - ex:>11.2e}")
    text = "\n".join(lines)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    else:
        print(text)
    return 0
