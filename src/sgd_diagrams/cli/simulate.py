"""``sgd-diagrams simulate``: SGD and its rivals over many vectorized trials (seed 001 App. C.3–C.4).

Usage::

    sgd-diagrams simulate --landscape {example,L.json,gauss,helix,mean-estimation:H=2,...}
        (--schedule sgd:N=10,B=1,E=1 | --grid G.json) --optimizer sgd [gd gdc sde sde-frozen ode momentum stic]
        --eta 0.01[,0.02,...] [--trials 1000] [--seed 0] [--chunk 1000] [--steps 1,5] [--data-dir DIR]
        [--record-every K] [--dtype float64] [--lr-schedule SPEC] [--momentum BETA] [--substeps 16]
        [--sde-noise varying|frozen] [--stic-weight 1.0] [--gdc-coefficient K] [--json] [--out R.json] [--quiet]

The JSON has one shape for every run (:meth:`sgd_diagrams.Simulation.to_json`): ``{"eta": [...], "sweep":
[{"optimizers": {name: {"test-loss": {"mean", "sem", "ci95", "n", "nonfinite"}, "train-loss": ...,
"gen-gap": ..., "displacement": {"mean": [per coordinate], ...}, ["accuracy": ...], "at_steps": {step:
{...}}}}, "differences": {"b - a": ...}} per η], "meta": {...}}`` at the last step — one η and one
optimizer included; differences are paired (same training sets, the same at every η).  Readers
(``plot``, :meth:`~sgd_diagrams.Simulation.from_json`) also accept the shapes of earlier versions.
``--record-every K`` (1 ≤ K ≤ T) records a training curve: every metric at steps 0, K, 2K, …, T for every trial
(paired), streamed as per-step sums and sums of squares; the JSON gains ``"steps"`` and each summary's
``at_steps`` holds that step's mean, SEM and CI.  ``--out`` writes the result atomically and saves every finished chunk;
a rerun with the same arguments resumes from the finished chunks.

``--lr-schedule SPEC`` and ``--momentum BETA`` change the schedule: step t of sgd and gd uses η·m_t, and with
BETA > 0 both become heavy-ball descents (buf ← BETA·buf + g_t, θ ← θ − η·m_t·buf); the ``momentum``
optimizer uses BETA too (0.9 without ``--momentum``).  gdc, sde, ode and stic refuse them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from .. import __version__
from ..catalog import OPTIMIZER_NAMES
from ..errors import SgdDiagramsError
from ..io import atomic_write_text, dumps, read_untrusted_json, terminal_safe
from ..limits import MAX_INPUT_BYTES
from ..schedules.prefixes import check_every
from ._options import (
    add_eta,
    add_execution,
    add_landscape,
    add_output,
    add_schedule,
    execution_from_args,
    load_landscape_arg,
    load_schedule_arg,
    parse_etas,
    schedule_record,
)

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "simulate", help="simulate optimizers over many independent trials (mean, SEM, 95%% CI)",
        description="Vectorized trials of SGD-like optimizers (seed 001 App. C.3-C.4), over an eta sweep.")
    add_landscape(p)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help=argparse.SUPPRESS)
    add_schedule(p)
    p.add_argument("--optimizer", nargs="+", required=True,
                   help=f"one or more of {', '.join(OPTIMIZER_NAMES)} (several: paired differences)")
    add_eta(p)
    p.add_argument("--trials", default="1000", help="independent trials per eta (default 1000)")
    p.add_argument("--seed", default="0", help="seed for training sets and noise (default 0)")
    p.add_argument("--chunk", default="1000", help="trials per vectorized chunk (default 1000)")
    p.add_argument("--steps", default="", help="extra steps to report, e.g. 1,5 (last always)")
    p.add_argument("--record-every", default=None, metavar="K",
                   help="a training curve: every metric at every K-th step (0 and T always), per-step mean, SEM "
                   "and CI in each summary's at_steps and the JSON's 'steps'")
    p.add_argument("--dtype", choices=["float32", "float64"], help="tensor precision")
    p.add_argument("--substeps", default="16", help="SDE/ODE time refinement (default 16)")
    p.add_argument("--sde-noise", choices=["varying", "frozen"], default="varying")
    p.add_argument("--stic-weight", default="1.0", help="weight of STIC's gen-gap term")
    p.add_argument("--gdc-coefficient", default=None, help="override GDC's κ (default: schedule)")
    p.add_argument("--eval-chunk", default="64", help="trials per vmap chunk when evaluating")
    p.add_argument("--eval-size", default=None,
                   help="evaluate each trial's test loss on K random test points (default: the whole test set); "
                   "cheaper, unbiased, and the SEM includes the extra noise (see variance_split)")
    add_execution(p)
    add_output(p)
    p.set_defaults(run=run)
    return p


def _number(text: Any, name: str, kind: type = float) -> Any:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        word = "an integer" if kind is int else "a number"
        raise SgdDiagramsError(f"--{name} must be {word}, got {text!r}") from None
    return value


def _params(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SgdDiagramsError(f"--param {item!r} must look like KEY=VALUE, e.g. H=2")
        out[key.strip()] = _number(value, f"param {key.strip()}")
    return out


def _load_checkpoint(path: Path, fingerprint: str) -> dict[tuple[int, int], Any]:
    from ..optimizers.trials import stats_from_json

    if not path.exists():
        return {}
    try:
        obj = read_untrusted_json(path, what="--out results", max_bytes=MAX_INPUT_BYTES)
    except SgdDiagramsError as exc:
        raise SgdDiagramsError(
            f"--out {terminal_safe(str(path))} exists but is not a results file ({exc}); delete it or choose "
            "another --out"
        ) from None
    if not isinstance(obj, dict) or obj.get("fingerprint") != fingerprint:
        raise SgdDiagramsError(
            f"--out {path} holds a run with different arguments; rerun with the same arguments to resume, "
            "or delete it / choose another --out"
        )
    try:
        out = {}
        for key, stats in obj.get("chunks", {}).items():
            i, sep, c = key.partition(":")
            out[(int(i), int(c)) if sep else (0, int(i))] = stats_from_json(stats)
        return out
    except (AttributeError, KeyError, TypeError, ValueError):
        raise SgdDiagramsError(f"--out {path} has corrupt chunk data; delete it to start afresh") from None


def _human(result: dict[str, Any], eta: float | None = None) -> list[str]:
    blocks = {**result["optimizers"], **result["differences"]}
    lines = [] if eta is None else [f"eta = {eta:g}"]
    for label, block in blocks.items():
        for metric in ("test-loss", "train-loss", "gen-gap", "accuracy"):
            if metric in block:
                s = block[metric]
                if s["mean"] is None:
                    lines.append(f"{label:>16s} {metric:<10s} no finite trials (n=0, nonfinite={s['nonfinite']})")
                    continue
                lines.append(
                    f"{label:>16s} {metric:<10s} {s['mean']:+.6g} ± {s['sem']:.2g} "
                    f"(95% CI [{s['ci95'][0]:+.6g}, {s['ci95'][1]:+.6g}], n={s['n']}, nonfinite={s['nonfinite']})"
                )
    return lines


_CURVE_ROWS = 12
"""The text table of a simulated curve shows at most this many steps, evenly spread (the JSON holds all)."""


def _curve_lines(sim: Any) -> list[str]:
    """Test loss mean ± SEM of the first optimizer at (at most) :data:`_CURVE_ROWS` recorded steps, per η."""
    import numpy as np

    steps = sim.steps
    mean, sem = sim.curve("test-loss"), sim.curve("test-loss", key="sem")
    shown = np.unique(np.linspace(0, steps.size - 1, min(_CURVE_ROWS, steps.size)).round().astype(int))
    lines = [f"simulated {sim.optimizers[0]} test-loss curve (mean ± SEM over {sim.trials} trials; "
             f"{steps.size} recorded steps, all in --json)",
             "  step  " + "  ".join(f"{'eta=' + format(e, 'g'):>24s}" for e in sim.eta)]
    for i in shown:
        lines.append(f"{steps[i]:6d}  " + "  ".join(f"{m:>+14.6g} ± {s:<7.2g}" for m, s in zip(mean[i], sem[i],
                                                                                                  strict=True)))
    return lines


def run(args: argparse.Namespace) -> int:
    import torch

    from ..api import simulate
    from ..landscapes import as_sampled
    from ..optimizers.registry import make_optimizer
    from ..optimizers.trials import stats_to_json

    etas = parse_etas(args.eta)
    trials = _number(args.trials, "trials", int)
    seed = _number(args.seed, "seed", int)
    chunk = _number(args.chunk, "chunk", int)
    eval_chunk = _number(args.eval_chunk, "eval-chunk", int)
    if eval_chunk < 1:
        raise SgdDiagramsError("--eval-chunk must be a positive integer")
    steps = [_number(s, "steps", int) for s in args.steps.replace(" ", "").split(",") if s]
    eval_size = None if args.eval_size is None else _number(args.eval_size, "eval-size", int)
    every = None if args.record_every is None else _number(args.record_every, "record-every", int)
    if every is not None and every < 1:
        raise SgdDiagramsError(f"--record-every must be a positive number of steps, got {every}")
    schedule = load_schedule_arg(args)
    if every is not None:  # K > T would record only 0 and T: refused before anything is loaded or run
        check_every(every, schedule.T, "--record-every")
    dtype = {"float32": torch.float32, "float64": torch.float64, None: None}[args.dtype]
    land = as_sampled(load_landscape_arg(args, extra=_params(args.param), dtype=dtype), dtype=dtype)
    settings = {  # the momentum optimizer's beta: the schedule's (--momentum), else its default 0.9
        "substeps": _number(args.substeps, "substeps", int),
        "sde_noise": args.sde_noise,
        "stic_weight": _number(args.stic_weight, "stic-weight"),
        "gdc_coefficient": None if args.gdc_coefficient is None else _number(args.gdc_coefficient, "gdc-coefficient"),
    }
    names_in = [n for item in args.optimizer for n in item.split(",") if n]
    optimizers = [make_optimizer(n, **settings) for n in names_in]
    names = [o.name for o in optimizers]
    config = {
        "version": __version__, "landscape": land.describe(), "schedule": schedule.to_json(),
        "optimizers": [o.describe() for o in optimizers], "eta": etas.tolist(), "trials": trials, "seed": seed,
        "chunk": chunk, "steps": sorted(set(steps)), "dtype": str(land.dtype),
    }
    if eval_size is not None:
        config["eval_size"] = eval_size
    if every is not None:
        config["record_every"] = every
    if schedule.description.get("shuffle") == "average":  # same stored batches as in-order: say which it is
        config["shuffle"] = "average"
    fingerprint = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    out_path = Path(args.out) if args.out else None
    completed = _load_checkpoint(out_path, fingerprint) if out_path else {}
    saved = {k: stats_to_json(s) for k, s in completed.items()}

    def record(extra: dict[str, Any]) -> None:
        chunks = {(f"{i}:{c}" if len(etas) > 1 else str(c)): v for (i, c), v in sorted(saved.items())}
        atomic_write_text(out_path, json.dumps({"fingerprint": fingerprint, "config": config, **extra,
                                                "chunks": chunks}, indent=1) + "\n")

    def save_chunk(i: int, c: int, stats: Any) -> None:
        saved[(i, c)] = stats_to_json(stats)
        if out_path is not None:
            record({"complete": False})

    sim = simulate(land, schedule, names_in, etas, trials, seed, chunk=chunk, record_steps=steps,
                   eval_chunk=eval_chunk, completed=completed, on_chunk=save_chunk, eval_size=eval_size,
                   record_every=every, execution=execution_from_args(args), **settings)
    meta = {"landscape": land.name, "dim": land.dim, "N": schedule.N, "T": schedule.T,
            "eta": float(etas[0]) if len(etas) == 1 else etas.tolist(), "trials": trials, "seed": seed,
            "optimizers": names, "resumed_chunks": sorted(f"{i}:{c}" for i, c in completed) if len(etas) > 1
            else sorted(c for _, c in completed), **schedule_record(args, schedule),
            "cpu_seconds": sim.seconds}
    for e, summary in zip(etas, sim.summaries, strict=True):
        for name, block in summary["optimizers"].items():
            bad = block["test-loss"]["nonfinite"]
            if bad:
                warnings.warn(f"{bad} of {trials} {name} trials diverged at eta={e:g} (NaN/inf); their metrics are "
                              "left out of the statistics; use a smaller eta", RuntimeWarning, stacklevel=1)
    sim.meta.update({k: v for k, v in meta.items() if k not in ("eta", "trials", "seed", "optimizers")})
    result = sim.to_json()
    text = dumps(result) if args.json else "\n".join(
        [line for i, s in enumerate(result["sweep"]) for line in _human(s, None if len(etas) == 1 else float(etas[i]))]
        + (_curve_lines(sim) if every is not None else []))
    if out_path is not None:
        record({"complete": True, "result": json.loads(dumps(result))})
    print(text)
    return 0
