"""``sgd-diagrams plot``: theory bands vs simulation CIs over η, from a simulate + predict pair.

Usage::

    sgd-diagrams simulate --landscape L --schedule S --optimizer sgd --eta 0.01,0.02,0.05 --out S.json
    sgd-diagrams predict  --landscape L --schedule S --order 2 --eta 0.01,0.02,0.05 --json --out P.json
    sgd-diagrams plot --simulation S.json --prediction P.json [--prediction P2.json ...] --out fig.png

Simulated means with 95% confidence intervals (I bars), each prediction as a line (a ±1.96·stderr band when
it was estimated from samples), η on the x axis and ηT on a top axis.  ``--optimizer`` picks one of the
simulation's optimizers or a paired difference such as ``"gd - sgd"``; ``--coordinate i`` picks a
displacement coordinate.  Needs matplotlib (``pip install 'sgd-diagrams[plot]'``).
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot", help="plot predictions (theory bands) against a simulation (95%% CIs) over eta",
        description="Theory bands vs simulation CIs over eta (eta*T on a top axis), from the JSON files of "
                    "'simulate --out' and 'predict --json --out'.")
    p.add_argument("--simulation", required=True, metavar="S.json", help="result of sgd-diagrams simulate --out")
    p.add_argument("--prediction", action="append", required=True, metavar="P.json",
                   help="result of sgd-diagrams predict --json --out (repeat for several orders or methods)")
    p.add_argument("--out", required=True, metavar="FIG.png", help="the PNG to write (atomically)")
    p.add_argument("--optimizer", help="which simulated optimizer or paired difference ('gd - sgd'); default the first")
    p.add_argument("--quantity", choices=("test-loss", "train-loss", "gen-gap", "displacement", "accuracy"),
                   help="simulated quantity to compare (default: the predictions' quantity)")
    p.add_argument("--metric", help=argparse.SUPPRESS)  # renamed: --metric is predict's matrix learning rate
    p.add_argument("--coordinate", type=int, help="displacement coordinate to plot")
    p.add_argument("--title", help="figure title")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--logx", dest="logx", action="store_true", default=None, help="log-scale eta axis")
    scale.add_argument("--linx", dest="logx", action="store_false", help="linear eta axis")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..errors import SgdDiagramsError
    from ..plots import theory_vs_simulation

    if args.metric is not None:
        raise SgdDiagramsError("plot takes --quantity (the simulated quantity); --metric is predict's matrix "
                               "learning rate")
    if args.coordinate is not None and args.coordinate < 0:
        raise SgdDiagramsError(f"--coordinate must be >= 0, got {args.coordinate}")
    path = theory_vs_simulation(args.prediction, args.simulation, args.out, optimizer=args.optimizer,
                                quantity=args.quantity, coordinate=args.coordinate, title=args.title, logx=args.logx)
    print(f"wrote {path}")
    return 0
