"""``sgd-diagrams predict``: predictions at given learning rates (seed 001 Theorem 1, Remark 1, Theorem 2).

Usage::

    sgd-diagrams predict --landscape L --schedule SPEC --order D --eta 0.01,0.05
        [--method taylor|resummed|continuous|limit] [--resum | --continuous | --limit epochs|samples]
        [--quantity Q] [--metric '1,0;0,2'] [--samples K [--seed S] [--replications R] [--cache DIR]]
        [--lr-schedule SPEC] [--momentum BETA]

Resummed or ``--limit`` from ``--samples K``: the dense path when the cost model calls it cheap, else the
matrix-free Krylov path with k chosen by the gradient noise and curvature it captures (``--krylov K`` fixes
k; ``--resummation dense|matrix-free`` forces a path; the rule is :data:`ROUTING_RULE`).  Near a minimum:
``--init-from FILE`` (a .npy vector or a weights-only torch tensor/state_dict) and/or ``--pretrain STEPS
[--pretrain-eta E]`` (full-batch GD on the training rows, recorded in the output) move θ0 first.

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
from ..estimation import krylov as _k
from ..limits import WORK_BUDGET_SECONDS
from ..schedules.prefixes import check_every
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
    add_trust,
    emit,
    execution_from_args,
    fmt,
    load_landscape_arg,
    load_schedule_arg,
    load_statistics_arg,
    parse_etas,
    parse_metric,
    progress,
    sampling_from_args,
    schedule_record,
)

__all__ = ["register", "run", "chosen_method", "ROUTING_RULE"]

ROUTING_RULE = (
    "Resummed/limit from --samples, --resummation auto (the default): with --metric the dense path; with "
    "--krylov K the matrix-free path with K Lanczos steps; otherwise the dense path whenever the cost model "
    f"calls it cheap (part tensors within {_k.MAX_PART_ENTRIES:.0e} numbers, and samples x dim^max(order,2) <= "
    f"{_k.DENSE_CHEAP_ENTRIES:.0e} numbers for a finite landscape, or an estimated <= {_k.DENSE_CHEAP_SECONDS:g} s "
    "for a model), else the matrix-free path with k = 1, 2, 4, ... grown on a pilot of "
    f"{_k.PILOT_SAMPLES} samples until span(Z) holds {_k.CAPTURE_TARGET:.0%} of the gradient noise and of the "
    "noise-weighted curvature tr(HC), or until the cost limit (part tensors, the "
    f"{WORK_BUDGET_SECONDS:g} s work budget) or k = dim. What was chosen and why is in the output (routing, "
    "krylov_choice). With k < dim the directions outside the Krylov space are added back, expanded to the series "
    "order around their noise curvature (exact to the series order for every k, docs/resummation.md); their size "
    f"is reported as complement, with a warning when it exceeds {_k.COMPLEMENT_WARN:.0%} of the predicted effect."
)


def register(subparsers) -> argparse.ArgumentParser:
    limits = ", ".join(f"{k} {v}" for k, v in ORDER_LIMITS.items())
    p = subparsers.add_parser("predict", help="Taylor, resummed, continuous-time or T->infinity predictions",
                              description=f"Predict E[quantity] at each eta. Highest orders: {limits}.",
                              epilog=ROUTING_RULE)
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
    add_trust(p)
    p.add_argument("--krylov", type=int, metavar="K",
                   help="resummed/limit from samples: Krylov dimension (Lanczos steps) of the matrix-free path "
                   "(default: chosen by what it captures, see below)")
    p.add_argument("--resummation", choices=("auto", "dense", "matrix-free"), default="auto",
                   help="resummed/limit from samples: dense tensors, matrix-free Krylov, or auto (the rule below)")
    p.add_argument("--init-from", metavar="FILE",
                   help="start from saved weights: a .npy vector, or a .pt/.pth tensor or state_dict (weights only)")
    p.add_argument("--pretrain", type=int, metavar="STEPS",
                   help="first move theta0 by STEPS of full-batch GD on the training rows (near a minimum)")
    p.add_argument("--pretrain-eta", type=float, default=0.1, metavar="E",
                   help="learning rate of --pretrain (default 0.1)")
    p.add_argument("--curve", action="store_true",
                   help="the whole training curve: the quantity after every step t = 0..T (JSON 'steps', and "
                        "value/stderr/trusted indexed [step][eta]); each step equals predicting on the first t steps")
    p.add_argument("--every", type=int, metavar="K", help="with --curve: record every K-th step (0 and T always)")
    p.add_argument("--band", action="store_true",
                   help="with --quantity test-loss: also ± 1 and 2 sd over training sets (from the test-loss "
                        "variance; exact landscapes, taylor or resummed); implies --curve")
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
    if pred.trusted is None or pred.trusted[i]:
        return ""
    return (f"   (outside the trust region: estimated truncation error {pred.error_estimate[i]:.2g} > "
            f"tolerance {pred.tolerance[i]:.2g})")


def run(args: argparse.Namespace) -> int:
    method = chosen_method(args)
    schedule = load_schedule_arg(args)
    etas = parse_etas(args.eta)
    if args.stats:
        if args.init_from is not None or args.pretrain is not None or args.krylov is not None:
            raise SgdDiagramsError("--init-from, --pretrain and --krylov act on a model; with --stats the values are "
                                   "already measured (measure at the moved point with stats --out instead)")
        landscape = load_statistics_arg(args)
        pred = predict(landscape, schedule, args.order, etas, args.quantity, method,
                       sampling_from_args(args, fixed_by_statistics=True), metric=parse_metric(args.metric),
                       limit=args.limit or "epochs", rtol=args.rtol, **_curve_options(args, schedule))
        args.samples = landscape.samples
    else:
        landscape = _moved(load_landscape_arg(args), args)
        if args.samples is None and args.replications is not None:
            raise SgdDiagramsError("--replications needs --samples K")
        pred = predict(landscape, schedule, args.order, etas, args.quantity, method, sampling_from_args(args),
                       execution_from_args(args), metric=parse_metric(args.metric), limit=args.limit or "epochs",
                       rtol=args.rtol, **_curve_options(args, schedule))
        if args.init_from is not None:
            pred.details["init_from"] = str(args.init_from)
    where = f"landscape={landscape.name}  {schedule}" + (f"  (statistics {args.stats})" if args.stats else "")
    if pred.steps is not None:
        lines = _curve_lines(pred, args, where)
    elif pred.stderr is None:
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
        lines += _resummation_lines(d)
    emit(args, {**pred.to_json(), **schedule_record(args, schedule)}, "\n".join(lines))
    return 0


def _curve_options(args: argparse.Namespace, schedule) -> dict:
    """--curve / --every / --band as predict() keywords (only when given)."""
    if args.every is not None and not (args.curve or args.band):
        raise SgdDiagramsError("--every K applies to a curve; add --curve")
    if not (args.curve or args.band):
        return {}
    every = None if args.every is None else check_every(args.every, schedule.T, "--every")
    steps = "all" if every is None else list(range(0, schedule.T + 1, every))
    return {"steps": steps, "band": bool(args.band)}


CURVE_ROWS = 21
"""The text table of a curve shows at most this many steps, evenly spread (the JSON holds every one)."""


def _curve_lines(pred, args: argparse.Namespace, where: str) -> list[str]:
    """A compact table: one row per shown step, one column per η (value ± stderr, ± sd band; * untrusted)."""
    steps = pred.steps
    shown = sorted({int(round(x)) for x in np.linspace(0, len(steps) - 1, min(CURVE_ROWS, len(steps)))})
    band = pred.details.get("band_sd")
    head = f"{pred.form} order-{args.order} curve of E[{args.quantity}]   {where}"
    lines = [head, f"{len(steps)} steps recorded" + (f", {len(shown)} shown" if len(shown) < len(steps) else "")
             + ("; * = outside the Taylor trust region" if pred.trusted is not None else "")
             + ("; band = sd over training sets" if band is not None else "")]
    lines.append(f"{'step':>8}   " + "   ".join(f"{'eta=' + format(e, '.4g'):>24}" for e in pred.eta))
    value = np.asarray(pred.value)
    for i in shown:
        cells = []
        for j in range(len(pred.eta)):
            v = value[i, j]
            text = _shown(v) if pred.stderr is None else _shown(v, np.asarray(pred.stderr)[i, j])
            if band is not None:
                sd = float(np.asarray(band, dtype=np.float64)[i, j])
                text += " (sd n/a)" if not np.isfinite(sd) else f" sd {sd:.3g}"
            if pred.trusted is not None and not pred.trusted[i, j]:
                text += "*"
            cells.append(f"{text:>24}")
        lines.append(f"{int(steps[i]):>8}   " + "   ".join(cells))
    if pred.method == "resummed" and pred.stderr is not None:  # estimated: the Krylov record of the final step
        lines += _resummation_lines(pred.details)
    return lines


def _moved(landscape, args: argparse.Namespace):
    """The landscape with θ0 from --init-from, then moved by --pretrain steps of GD."""
    if args.init_from is None and args.pretrain is None:
        return landscape
    if not hasattr(landscape, "with_init"):
        raise SgdDiagramsError("--init-from and --pretrain need a neural-network landscape (a torch model)")
    if args.init_from is not None:
        from ..landscapes.checkpoints import load_parameter_vector

        landscape = landscape.with_init(load_parameter_vector(args.init_from, landscape))
    if args.pretrain is not None:
        landscape = landscape.pretrained(args.pretrain, args.pretrain_eta, progress=progress(args), force=args.force)
    return landscape


def _resummation_lines(d: dict) -> list[str]:
    out = []
    if "init_from" in d:
        out.append(f"theta0 read from {d['init_from']}")
    if "pretraining" in d:
        p = d["pretraining"]
        out.append(f"pretrained: {p['steps']} GD steps at eta={p['eta']:g}: training loss {p['train_loss_before']:.6g} "
                   f"-> {p['train_loss_after']:.6g}, gradient norm {p['grad_norm_before']:.3g} -> "
                   f"{p['grad_norm_after']:.3g}")
    if d.get("krylov_dim"):
        text = f"matrix-free: Krylov dimension {d['krylov_dim']}"
        if "captured_gradient_noise" in d:
            text += f", span captures {100 * d['captured_gradient_noise']:.1f}% of the gradient noise"
        if "gradient_equivalents_per_sample" in d:
            text += f", cost {d['gradient_equivalents_per_sample']:.3g} gradient-equivalents per sample"
        if "krylov_choice" in d:
            text += f" (chosen: {d['krylov_choice']['why']})"
        out.append(text)
    if "complement" in d:
        c = d["complement"]
        out.append("outside the Krylov space (expanded to the series order around curvature "
                   f"{c['curvature']:.4g}): " + ", ".join(f"{v:+.4g} ± {e:.2g} ({100 * r:.0f}% of the effect)"
                                                          for v, e, r in zip(c["value"], c["stderr"], c["relative"],
                                                                             strict=True)))
    if "routing" in d:
        out.append(f"routing: {d['routing']}")
    if "negative_curvature" in d:
        n = d["negative_curvature"]
        out.append(f"negative curvature: {n['mean_count']:.3g} eigenvalues < 0 per replication (most negative "
                   f"{n['most_negative']:.4g}, largest eigenvalue {n['largest']:.4g})"
                   + (f"; {d['excluded_directions']:.3g} directions excluded from the limit"
                      if "excluded_directions" in d else ""))
    return out
