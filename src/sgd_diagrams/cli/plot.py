"""``sgd-diagrams plot``: theory bands vs simulation CIs over η, from a simulate + predict pair.

Usage::

    sgd-diagrams simulate --landscape L --schedule S --optimizer sgd --eta 0.01,0.02,0.05 --out S.json
    sgd-diagrams predict  --landscape L --schedule S --order 2 --eta 0.01,0.02,0.05 --json --out P.json
    sgd-diagrams plot --simulation S.json --prediction P.json [--prediction P2.json ...] --out fig.png

Simulated means with 95% confidence intervals (I bars), each prediction as a line (a ±1.96·stderr band when
it was estimated from samples), η on the x axis and ηT on a top axis.  ``--optimizer`` picks one of the
simulation's optimizers or a paired difference such as ``"gd - sgd"``; ``--coordinate i`` picks a
displacement coordinate.

``--curve`` draws training curves instead: ``predict --curve --json --out P.json`` files (bands: ±1/±2 sd
over training sets with ``--band``, ±1.96 stderr when estimated; steps outside the trust region shaded)
against ``simulate --record-every K --out S.json`` (means with 95% CIs), over the step t with ηt on top, one
panel per η or (``--panels optimizer``) per simulated optimizer.

Needs matplotlib (``pip install 'sgd-diagrams[plot]'``).
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
    p.add_argument("--curve", action="store_true",
                   help="training curves over the step t: predict --curve files against a simulate --record-every "
                   "file, one panel per eta (or per optimizer with --panels optimizer); bands and trust shaded")
    p.add_argument("--panels", choices=("eta", "optimizer"), default="eta",
                   help="with --curve: one panel per eta (default) or per simulated optimizer (at the first eta)")
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
    if args.curve:
        from ..curve_plots import curves_vs_simulation

        names = None if args.optimizer is None else [n.strip() for n in args.optimizer.split(",") if n.strip()]
        path = curves_vs_simulation(args.prediction, args.simulation, args.out,
                                    optimizer=names if args.panels == "optimizer" else args.optimizer,
                                    quantity=args.quantity, coordinate=args.coordinate, title=args.title,
                                    panels=args.panels, logx=bool(args.logx))
        print(f"wrote {path}")
        return 0
    if args.panels != "eta":
        raise SgdDiagramsError("--panels applies to --curve")
    path = theory_vs_simulation(args.prediction, args.simulation, args.out, optimizer=args.optimizer,
                                quantity=args.quantity, coordinate=args.coordinate, title=args.title, logx=args.logx)
    print(f"wrote {path}")
    return 0
