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
from ..landscapes import example_landscape
from ..schedules import sgd
from ..schedules.histories import history_count

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", help="the main job on the built-in example landscape")
    p.add_argument("--N", type=int, default=4, help="training points (default 4)")
    p.add_argument("--E", type=int, default=2, help="epochs (default 2)")
    p.add_argument("--order", type=int, default=3, help="series order (default 3)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..optimizers.exact_expectation import exact_expectation

    landscape = example_landscape()
    schedule = sgd(args.N, 1, args.E)
    order = args.order
    print(f"sgd-diagrams {__version__} demo: {landscape!r}, {schedule}")
    print("\nTest diagrams with <= 2 edges and their weighted history counts in this grid:")
    for k in range(3):
        for d in enumerate_diagrams(k, "test"):
            print(f"  {str(d):<12} edges={k}  |Aut|={d.automorphisms}  histories={history_count(d, schedule):.6g}")
    series = {q: taylor_series(landscape, schedule, order, q) for q in ("test-loss", "train-loss", "gen-gap")}
    print(f"\nTaylor coefficients (Theorem 1) to order {order}:")
    for q, s in series.items():
        print(f"  {q:<11} " + "  ".join(f"c{k}={c:.6g}" for k, c in enumerate(s.coefficients)))
    etas = np.array([0.005, 0.01, 0.02, 0.04])
    exact = exact_expectation(landscape, schedule, etas)
    print(f"\nOrder-{order} Taylor polynomial and resummed prediction vs exact E[test loss]"
          f" (all {landscape.n_points}^{schedule.N} training sets enumerated):")
    resummed = predict(landscape, schedule, order, etas, method="resummed").value
    print(f"  {'eta':>7} {'Taylor':>14} {'resummed':>14} {'exact SGD':>14} {'Taylor err':>11} {'resum err':>11}")
    for eta, ex, rs in zip(etas, exact["test-loss"], resummed, strict=True):
        pred = float(series["test-loss"](eta))
        print(f"  {eta:>7.3f} {pred:>14.10f} {rs:>14.10f} {ex:>14.10f} {pred - ex:>11.2e} {rs - ex:>11.2e}")
    return 0
