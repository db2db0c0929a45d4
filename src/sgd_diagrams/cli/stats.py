"""``sgd-diagrams stats``: named landscape statistics estimated from samples (seed 001 App. C.6, Fig. 8).

Usage::

    sgd-diagrams stats --landscape convnet-digits --samples 20000 [--order 2] [--kind test] [--seed 0]

Every diagram value with at most ``--order`` edges (l, G·ηG, G·ηHηG, tr(CηHη), …) at θ0, estimated
without bias from K sampled data points, with standard errors from independent replications; the exact
value beside it where the landscape has an exact form.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..diagrams import KINDS, enumerate_diagrams
from ..diagrams.value_names import value_name
from ..landscapes import as_sampled, is_exact
from ..theory.orders import ORDER_LIMITS, check_order
from ..values import UvalueEvaluator
from ._options import (
    add_execution,
    add_landscape,
    add_output,
    add_sampling,
    emit,
    load_landscape_arg,
    progress,
)

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "stats", help="named landscape statistics (G·ηG, tr(CηHη), ...) estimated from samples, with errors",
        description="Estimate the value of every diagram with at most --order edges (the paper's named "
        "statistics: l, G_μG^μ, G_μH^μ_νG^ν, C_μνH^μν, ...) at θ0 from K sampled data points, without bias "
        "(seed 001 App. C.6), with standard errors from independent replications.")
    add_landscape(p)
    p.add_argument("--order", type=int, default=2,
                   help=f"most edges (default 2, at most {ORDER_LIMITS['estimated']}; 3 and 4 cost more)")
    p.add_argument("--kind", choices=KINDS, default="test")
    add_sampling(p, default_samples=10000)
    add_execution(p)
    add_output(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..estimation.predictions import estimate_uvalues

    check_order(args.order, "estimated")
    landscape = load_landscape_arg(args)
    from ..backends import resolve_device

    sampled = landscape if is_exact(landscape) else as_sampled(landscape).to(resolve_device(args.device))
    est = estimate_uvalues(sampled, args.kind, args.order, args.samples, args.seed, args.replications,
                           progress=progress(args), cache=None if args.no_cache else args.cache, force=args.force,
                           backend=args.backend, address=args.address)
    root = "displacement" if args.kind == "displacement" else "loss"
    exact = UvalueEvaluator(landscape, max(args.order, 1)) if is_exact(landscape) else None
    rows = []
    for k in range(1 if args.kind == "displacement" else 0, args.order + 1):
        for d in enumerate_diagrams(k, args.kind):
            row = {"notation": str(d), "edges": k, "name": value_name(d, root),
                   "value": np.asarray(est.mean(d)).tolist(), "stderr": np.asarray(est.stderr(d)).tolist()}
            if exact is not None:
                row["exact"] = np.asarray(exact(d, root=root)).tolist()
            rows.append(row)
    plan = est.plan
    payload = {"kind": args.kind, "order": args.order, "samples": args.samples, "seed": args.seed,
               "replications": plan.replications, "samples_per_group": plan.per_group, "method": est.method,
               "statistics": rows}
    lines = [f"{args.kind} diagram values at θ0 from {args.samples} samples ({plan.replications} replications, "
             f"{est.method})   landscape={landscape.name}",
             f"{'diagram':<16}{'value ± stderr':>30}   name" + ("   [exact]" if exact is not None else "")]
    for r in rows:
        v, e = np.ravel(r["value"]), np.ravel(r["stderr"])
        shown = ", ".join(f"{a:.6g} ± {b:.2g}" for a, b in zip(v, e, strict=True))
        extra = ("   [" + ", ".join(f"{x:.6g}" for x in np.ravel(r["exact"])) + "]") if "exact" in r else ""
        lines.append(f"{r['notation']:<16}{shown:>30}   {r['name']}{extra}")
    emit(args, payload, "\n".join(lines))
    return 0
