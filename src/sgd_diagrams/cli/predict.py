"""``sgd-diagrams predict``: predictions at given learning rates (seed 001 Theorem 1, Remark 1, Theorem 2).

Usage::

    sgd-diagrams predict --landscape L --schedule SPEC --order D --eta 0.01,0.05
        [--method taylor|resummed|continuous|limit] [--resum | --continuous | --limit epochs|samples]
        [--quantity Q] [--metric '1,0;0,2'] [--samples K [--seed S] [--replications R] [--cache DIR]]
        [--lr-schedule SPEC] [--momentum BETA]

``--resum``, ``--continuous`` and ``--limit FAMILY`` are short for ``--method resummed``, ``continuous``
and ``limit``; giving two different forms is an error.  ``--samples K`` estimates every diagram value
from K sampled data points (any landscape, neural networks included) and reports standard errors.
``--stats S.json`` reads those estimates from a file written by ``sgd-diagrams stats --out S.json``
instead: any schedule and η without touching the model, identical to ``--samples K --seed S`` at the
file's order (``--landscape``, when given, must be the one measured).
"""

from __future__ import annotations

import argparse

import numpy as np

from ..api import METHODS, predict
from ..errors import SgdDiagramsError
from ..theory.orders import ORDER_LIMITS
from ._options import (
    add_eta,
    add_execution,
    add_landscape,
    add_output,
    add_quantity,
    add_sampling,
    add_schedule,
    add_statistics,
    emit,
    fmt,
    load_landscape_arg,
    load_schedule_arg,
    load_statistics_arg,
    parse_etas,
    parse_metric,
    progress,
    schedule_record,
)

__all__ = ["register", "run", "chosen_method"]


def register(subparsers) -> argparse.ArgumentParser:
    limits = ", ".join(f"{k} {v}" for k, v in ORDER_LIMITS.items())
    p = subparsers.add_parser("predict", help="Taylor, resummed, continuous-time or T->infinity predictions",
                              description=f"Predict E[quantity] at each eta. Highest orders: {limits}.")
    add_landscape(p)
    add_schedule(p)
    p.add_argument("--order", type=int, required=True, help="number of edges kept (the power of η)")
    add_eta(p)
    p.add_argument("--method", choices=METHODS, help="form of the prediction (default taylor)")
    p.add_argument("--resum", action="store_true", help="same as --method resummed")
    p.add_argument("--continuous", action="store_true", help="same as --method continuous (Remark 1)")
    p.add_argument("--limit", choices=("epochs", "samples"),
                   help="same as --method limit: T -> infinity growing epochs at fixed N, or N = T one-epoch")
    add_quantity(p)
    p.add_argument("--metric", help="matrix learning rate direction P (η = scalar·P), e.g. '1,0;0,2'")
    add_sampling(p)
    add_statistics(p)
    add_execution(p)
    add_output(p)
    p.set_defaults(run=run, landscape=None, seed=None)
    return p


def chosen_method(args: argparse.Namespace) -> str:
    """The one form asked for by --method/--resum/--continuous/--limit (contradictions are errors)."""
    asked = {m for m, flag in (("resummed", args.resum), ("continuous", args.continuous),
                               ("limit", args.limit is not None)) if flag}
    if args.method:
        asked.add(args.method)
    if len(asked) > 1:
        raise SgdDiagramsError(f"choose one form, not {' and '.join(sorted(asked))}")
    return asked.pop() if asked else "taylor"


def _shown(v, e=None) -> str:
    if e is None:
        return "[" + ", ".join(fmt(x) for x in np.ravel(v)) + "]" if np.ndim(v) else fmt(v)
    if np.ndim(v):
        return "[" + ", ".join(f"{x:.8g} ± {y:.2g}" for x, y in zip(np.ravel(v), np.ravel(e), strict=True)) + "]"
    return f"{v:.10g} ± {e:.3g}"


def _mark(pred, i: int) -> str:
    return "   (outside the trust region)" if pred.trusted is not None and not pred.trusted[i] else ""


def run(args: argparse.Namespace) -> int:
    method = chosen_method(args)
    schedule = load_schedule_arg(args)
    etas = parse_etas(args.eta)
    if args.stats:
        landscape = load_statistics_arg(args)
        pred = predict(landscape, schedule, args.order, etas, args.quantity, method,
                       metric=parse_metric(args.metric), limit=args.limit or "epochs")
        args.samples = landscape.samples
    else:
        landscape = load_landscape_arg(args)
        if args.samples is None and args.replications is not None:
            raise SgdDiagramsError("--replications needs --samples K")
        pred = predict(landscape, schedule, args.order, etas, args.quantity, method, samples=args.samples,
                       seed=args.seed or 0, replications=args.replications, metric=parse_metric(args.metric),
                       limit=args.limit or "epochs", cache=None if args.no_cache else args.cache,
                       progress=progress(args), force=args.force, backend=args.backend, address=args.address,
                       device=args.device)
    where = f"landscape={landscape.name}  {schedule}" + (f"  (statistics {args.stats})" if args.stats else "")
    if pred.stderr is None:
        lines = [f"{pred.form} order-{args.order} prediction of E[{args.quantity}]   {where}", f"{'eta':>10}   value"]
        lines += [f"{eta:>10.6g}   {_shown(v)}{_mark(pred, i)}" for i, (eta, v) in enumerate(zip(etas, pred.value,
                                                                                                  strict=True))]
    else:
        d = pred.details
        lines = [f"{pred.form} order-{args.order} prediction of E[{args.quantity}] from {args.samples} samples "
                 f"({d['replications']} replications x {d['groups']} groups x {d['samples_per_group']}, "
                 f"{d['estimator']})   {where}", f"{'eta':>10}   value ± stderr"]
        lines += [f"{eta:>10.6g}   {_shown(v, e)}{_mark(pred, i)}"
                  for i, (eta, v, e) in enumerate(zip(etas, pred.value, pred.stderr, strict=True))]
    emit(args, {**pred.to_json(), **schedule_record(args, schedule)}, "\n".join(lines))
    return 0
