"""``predict --samples K`` and ``sgd-diagrams stats``: diagram values estimated from samples (seed 001 App. C.3, C.6).

Usage::

    sgd-diagrams predict --landscape convnet-digits --schedule sgd:N=10,B=1,E=1 --order 3 \\
        --eta 0.001,0.005,0.025 --samples 20000 [--seed 0] [--replications 20] [--json]
    sgd-diagrams stats --landscape convnet-digits --samples 20000 [--order 2] [--kind test]

Every diagram value is estimated without bias from K sampled data points (R replications,
standard error std/√R).  Predictions carry a standard error per η (JSON key ``stderr``).
Estimates are cached (``$SGD_DIAGRAMS_CACHE``, default ``~/.cache/sgd-diagrams``); ``--no-cache``
recomputes.  The resummed form (``--resum``) needs a landscape with at most 24 weights.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..errors import SgdDiagramsError
from ..io import emit

__all__ = ["add_sampling_options", "register", "run", "run_estimated_predict"]


def add_sampling_options(p: argparse.ArgumentParser) -> None:
    """``--samples K``, ``--seed``, ``--replications``, ``--no-cache``, ``--no-progress``."""
    p.add_argument("--samples", type=int, help="estimate diagram values from K sampled data points (error bars)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled data points (default 0)")
    p.add_argument("--replications", type=int, help="independent replications R for standard errors (default 20)")
    p.add_argument("--no-cache", action="store_true", help="recompute estimates instead of reading the cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _emit(args: argparse.Namespace, payload: dict, table: str) -> None:
    emit(payload, table, args.json, getattr(args, "out", None))


def _progress(args) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def run_estimated_predict(args: argparse.Namespace) -> int:
    """``predict`` with ``--samples``: estimated Taylor (or dense resummed) predictions with stderr."""
    from ..cli import _etas, _metric, load_landscape_spec, load_schedule_spec
    from ..estimation.predictions import estimated_prediction

    if args.continuous or args.limit or args.quantity == "test-loss-variance":
        raise SgdDiagramsError("--samples supports the Taylor and --resum forms of test-loss, train-loss, gen-gap "
                               "and displacement")
    landscape = load_landscape_spec(args.landscape)
    schedule = load_schedule_spec(args.grid, args.schedule)
    etas = _etas(args.eta)
    pred = estimated_prediction(landscape, schedule, args.order, etas, args.quantity, samples=args.samples,
                                seed=args.seed, resum=args.resum, replications=args.replications,
                                metric=_metric(args.metric), progress=_progress(args),
                                use_cache=not args.no_cache)
    plan = pred.plan
    payload = {"quantity": args.quantity, "order": args.order, "form": f"{pred.form} (estimated)",
               "eta": etas.tolist(), "value": pred.value.tolist(), "stderr": pred.stderr.tolist(),
               "samples": args.samples, "seed": args.seed, "replications": plan.replications,
               "samples_per_group": plan.per_group, "method": pred.method}
    lines = [f"{pred.form} order-{args.order} prediction of E[{args.quantity}] from {args.samples} samples "
             f"({plan.replications} replications x {plan.groups} groups x {plan.per_group}, {pred.method})   "
             f"landscape={getattr(landscape, 'name', args.landscape)}  {schedule}",
             f"{'eta':>10}   value ± stderr"]
    for eta, v, e in zip(etas, pred.value, pred.stderr, strict=True):
        if np.ndim(v):
            shown = "[" + ", ".join(f"{x:.8g} ± {y:.2g}" for x, y in zip(np.ravel(v), np.ravel(e), strict=True)) + "]"
        else:
            shown = f"{v:.10g} ± {e:.3g}"
        lines.append(f"{eta:>10.6g}   {shown}")
    _emit(args, payload, "\n".join(lines))
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``stats`` subcommand."""
    p = subparsers.add_parser(
        "stats", help="named landscape statistics (G·ηG, tr(CηHη), ...) estimated from samples, with errors",
        description="Estimate the value of every diagram with at most --order edges (the paper's named "
        "statistics: l, G_μG^μ, G_μH^μ_νG^ν, C_μνH^μν, ...) at θ0 from K sampled data points, without bias "
        "(seed 001 App. C.6), with standard errors from independent replications.")
    p.add_argument("--landscape", default="example", help="finite landscape JSON, 'example', or a built-in name")
    p.add_argument("--order", type=int, default=2, help="most edges (default 2; 3 and 4 cost more)")
    p.add_argument("--kind", choices=("test", "train", "displacement"), default="test")
    add_sampling_options(p)
    p.set_defaults(samples=10000)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", help="write the output to this file (atomically)")
    return p


def run(args: argparse.Namespace) -> int:
    """Print every diagram's estimated value ± stderr, with its name (and the exact value when known)."""
    from ..cli import load_landscape_spec
    from ..diagrams import enumerate_diagrams
    from ..diagrams.value_names import value_name
    from ..estimation.predictions import estimate_uvalues

    if not 0 <= args.order <= 4:
        raise SgdDiagramsError(f"--order must be 0..4, got {args.order}")
    landscape = load_landscape_spec(args.landscape)
    est = estimate_uvalues(landscape, args.kind, args.order, args.samples, args.seed, args.replications,
                           progress=_progress(args), use_cache=not args.no_cache)
    root = "displacement" if args.kind == "displacement" else "loss"
    exact = None
    if hasattr(landscape, "derivative_tensors"):
        from ..values import UvalueEvaluator

        exact = UvalueEvaluator(landscape, max(args.order, 1))
    rows = []
    start = 1 if args.kind == "displacement" else 0
    for k in range(start, args.order + 1):
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
             f"{est.method})   landscape={getattr(landscape, 'name', args.landscape)}",
             f"{'diagram':<16}{'value ± stderr':>30}   name" + ("   [exact]" if exact is not None else "")]
    for r in rows:
        v, e = np.ravel(r["value"]), np.ravel(r["stderr"])
        shown = ", ".join(f"{a:.6g} ± {b:.2g}" for a, b in zip(v, e, strict=True))
        extra = ("   [" + ", ".join(f"{x:.6g}" for x in np.ravel(r["exact"])) + "]") if "exact" in r else ""
        lines.append(f"{r['notation']:<16}{shown:>30}   {r['name']}{extra}")
    _emit(args, payload, "\n".join(lines))
    return 0
