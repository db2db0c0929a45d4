"""``sgd-diagrams stats``: named landscape statistics estimated from samples (seed 001 App. C.6, Fig. 8).

Usage::

    sgd-diagrams stats --landscape convnet-digits --samples 20000 [--order 2] [--kind all] [--seed 0]
        [--out S.json]

Every diagram value with at most ``--order`` edges (l, G·ηG, G·ηHηG, tr(CηHη), …) at θ0, estimated
without bias from K sampled data points, with standard errors from independent replications; the exact
value beside it where the landscape has an exact form.  ``--kind all`` (default) measures the test, train
and displacement diagrams: everything test loss, train loss, gen gap and displacement need.

``--out S.json`` saves the per-replication estimates (measure once): ``sgd-diagrams predict --stats
S.json`` and ``sgd-diagrams whatif --stats S.json`` then predict any schedule and η from the file without
touching the model; it then prints a short summary (what was measured and how to use it) unless ``--table``
asks for the table too.  ``--json`` prints the table as JSON.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..diagrams import KINDS, parse
from ..diagrams.value_names import value_name
from ..io import dumps
from ..landscapes import is_exact
from ..theory.orders import ORDER_LIMITS, check_order
from ..values import UvalueEvaluator
from ._options import (
    add_execution,
    add_landscape,
    add_sampling,
    execution_from_args,
    load_landscape_arg,
    sampling_from_args,
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
    p.add_argument("--kind", choices=KINDS + ("all",), default="all",
                   help="diagram kind: test (test loss), train (train loss, gen gap), displacement, or all (default)")
    add_sampling(p, default_samples=10000)
    add_execution(p)
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--out", metavar="S.json", help="save every replication's estimates (written atomically) for "
                   "'predict --stats S.json' and 'whatif --stats S.json'")
    p.add_argument("--table", action="store_true", help="with --out: print the whole table as well (by default "
                   "--out prints a summary)")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no warnings on stderr")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..api import measure

    check_order(args.order, "estimated")
    landscape = load_landscape_arg(args)
    kinds = KINDS if args.kind == "all" else (args.kind,)
    stats = measure(landscape, args.order, sampling_from_args(args), execution_from_args(args), kinds=kinds,
                    spec=args.landscape)
    if args.out:
        stats.save(args.out)
    exact = UvalueEvaluator(landscape, max(args.order, 1)) if is_exact(landscape) else None
    rows = []
    for row in stats.summary():
        d = parse(row["notation"])
        root = "displacement" if row["kind"] == "displacement" else "loss"
        row["name"] = value_name(d, root)
        if exact is not None:
            row["exact"] = np.asarray(exact(d, root=root)).tolist()
        rows.append(row)
    plan = stats.plan
    payload = {"kind": args.kind, "order": args.order, "samples": args.samples, "seed": args.seed,
               "replications": plan.replications, "samples_per_group": plan.per_group, "method": stats.method,
               "statistics": rows}
    lines = [f"{args.kind} diagram values at θ0 from {args.samples} samples ({plan.replications} replications, "
             f"{stats.method})   landscape={landscape.name}",
             f"{'kind':<14}{'diagram':<16}{'value ± stderr':>30}   name" + ("   [exact]" if exact is not None else "")]
    for r in rows:
        v, e = np.ravel(r["value"]), np.ravel(r["stderr"])
        shown = ", ".join(f"{a:.6g} ± {b:.2g}" for a, b in zip(v, e, strict=True))
        extra = ("   [" + ", ".join(f"{x:.6g}" for x in np.ravel(r["exact"])) + "]") if "exact" in r else ""
        lines.append(f"{r['kind']:<14}{r['notation']:<16}{shown:>30}   {r['name']}{extra}")
    if args.out:
        lines.append(f"saved to {args.out}: sgd-diagrams predict --stats {args.out} --schedule ... --eta ...")
        if not (args.table or args.json):  # the file holds the numbers: say what was measured, not all of it
            counts = {k: sum(r["kind"] == k for r in rows) for k in dict.fromkeys(r["kind"] for r in rows)}
            lines = [lines[0], "measured " + ", ".join(f"{n} {k} diagrams" for k, n in counts.items())
                     + f" of order <= {args.order} (dim {stats.dim}); the table: --table or --json", lines[-1]]
    print(dumps(payload) if args.json else "\n".join(lines))
    return 0
