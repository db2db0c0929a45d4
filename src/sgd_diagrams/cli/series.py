"""``sgd-diagrams series``: Theorem 1's Taylor coefficients of E[quantity] (seed 001 §"Main result").

Usage::

    sgd-diagrams series --landscape L --schedule SPEC --order D [--quantity Q] [--metric '1,0;0,2'] [--terms]
        [--lr-schedule warmup:5+cosine] [--momentum 0.9]

c_0..c_D with E[quantity] = Σ c_k η^k + o(η^D); ``--terms`` lists every diagram's count and uvalue.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..api import taylor_series
from ..errors import SgdDiagramsError
from ..landscapes import as_exact
from ..theory.orders import ORDER_LIMITS
from ._options import (
    add_force,
    add_landscape,
    add_output,
    add_quantity,
    add_schedule,
    emit,
    fmt,
    load_landscape_arg,
    load_schedule_arg,
    parse_metric,
    schedule_record,
)

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("series", help="Taylor coefficients of SGD's expected outcome (Theorem 1)")
    add_landscape(p)
    add_schedule(p)
    p.add_argument("--order", type=int, required=True, help=f"highest power of η (at most {ORDER_LIMITS['taylor']})")
    add_quantity(p)
    p.add_argument("--metric", help="matrix learning rate direction P (η = scalar·P), e.g. '1,0;0,2'")
    p.add_argument("--terms", action="store_true", help="also list every diagram's count and uvalue")
    add_force(p)
    add_output(p)
    p.set_defaults(run=run)
    return p


def _shown(c) -> str:
    return "[" + ", ".join(fmt(x) for x in np.ravel(c)) + "]" if np.ndim(c) else fmt(c)


def run(args: argparse.Namespace) -> int:
    landscape = load_landscape_arg(args)
    schedule = load_schedule_arg(args)
    series = None
    if args.quantity == "test-loss-variance":
        from ..theory.variance import test_loss_variance_coefficients

        if args.terms or args.metric:
            raise SgdDiagramsError("test-loss-variance does not support --terms or --metric")
        exact = as_exact(landscape)
        from ..theory.orders import check_order

        check_order(args.order, "taylor")
        coeffs = test_loss_variance_coefficients(exact, schedule, args.order, force=args.force)
    else:
        series = taylor_series(landscape, schedule, args.order, args.quantity, metric=parse_metric(args.metric),
                               force=args.force)
        coeffs = [np.asarray(c).tolist() for c in series.coefficients]
    payload = {"quantity": args.quantity, "order": args.order, "coefficients": coeffs,
               **schedule_record(args, schedule)}
    lines = [f"E[{args.quantity}] = Σ_k c_k η^k + o(η^{args.order})   landscape={landscape.name}  {schedule}"]
    lines += [f"  c_{k} = {_shown(c)}" for k, c in enumerate(coeffs)]
    if args.terms and series is not None:
        lines += ["", f"{'diagram':<24}{'edges':>6}{'histories':>16}   uvalue"]
        lines += [f"{str(t.diagram):<24}{t.diagram.n_edges:>6}{t.count:>16.10g}   {_shown(t.uvalue)}"
                  for t in series.terms]
        payload["terms"] = [{"notation": str(t.diagram), "edges": t.diagram.n_edges, "histories": t.count,
                             "uvalue": np.asarray(t.uvalue).tolist()} for t in series.terms]
    emit(args, payload, "\n".join(lines))
    return 0
