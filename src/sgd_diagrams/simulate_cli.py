"""The ``sgd-diagrams simulate`` subcommand: vectorized trials of optimizers on a landscape.

Usage::

    sgd-diagrams simulate --landscape {L.json,gauss,helix,mean-estimation,...}
        (--grid G.json | --schedule sgd:N=10,B=1,E=1)
        --optimizer sgd [gd gdc sde sde-frozen ode momentum stic]
        --eta 0.01 [--trials 10000] [--seed 0] [--chunk 1000] [--steps 1,5]
        [--param KEY=VALUE ...] [--data-dir DIR] [--dtype float64]
        [--momentum 0.9] [--substeps 16] [--sde-noise varying|frozen]
        [--stic-weight 1.0] [--gdc-coefficient K] [--json] [--out R.json] [--quiet]

With one optimizer the JSON is ``{"test-loss": {"mean", "sem", "ci95", "n",
"nonfinite"}, "train-loss": ..., "gen-gap": ..., "displacement": {"mean": [per
coordinate], ...}, ["accuracy": ...], "at_steps": {step: {...}}, "meta": {...}}``
at the last step; with several, ``{"optimizers": {name: that}, "differences":
{"b - a": that}, "meta": ...}`` where differences are paired (same training sets).
``--out`` writes the result atomically and saves every finished chunk; a rerun
with the same arguments resumes from the finished chunks.

:func:`add_simulate_parser` registers the subcommand; :func:`run_simulate` runs it
(returns 0, or 2 after printing a one-line error on stderr).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .catalog import BUILTIN_LANDSCAPES, OPTIMIZER_NAMES
from .errors import SgdDiagramsError
from .io import atomic_write_text
from .schedules import Schedule, load_schedule, parse_schedule_spec

__all__ = ["add_simulate_parser", "run_simulate", "atomic_write_json"]


def add_simulate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``simulate`` on an argparse subparsers object; returns its parser."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate optimizers over many independent trials (mean, SEM, 95%% CI)",
        description="Vectorized trials of SGD-like optimizers (seed 001 App. C.3-C.4).",
    )
    p.add_argument(
        "--landscape",
        required=True,
        help=f"a finite landscape .json file or one of: {', '.join(BUILTIN_LANDSCAPES)}",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="landscape parameter, e.g. H=2 S=10 init=1 (helix: u v z; models: init_seed)",
    )
    p.add_argument("--data-dir", help="directory with Fashion-MNIST IDX or CIFAR-10 pickle files")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--grid", help="schedule JSON file")
    group.add_argument("--schedule", help="schedule spec, e.g. sgd:N=10,B=1,E=1 or gd:N=10,T=5")
    p.add_argument(
        "--optimizer",
        nargs="+",
        required=True,
        help=f"one or more of {', '.join(OPTIMIZER_NAMES)} (several: paired differences)",
    )
    p.add_argument("--eta", required=True, help="learning rate η > 0")
    p.add_argument("--trials", default="1000", help="number of independent trials (default 1000)")
    p.add_argument("--seed", default="0", help="seed for training sets and noise (default 0)")
    p.add_argument("--chunk", default="1000", help="trials per vectorized chunk (default 1000)")
    p.add_argument("--steps", default="", help="extra steps to report, e.g. 1,5 (last always)")
    p.add_argument("--dtype", choices=["float32", "float64"], help="tensor precision")
    p.add_argument("--momentum", default="0.9", help="heavy-ball coefficient β (default 0.9)")
    p.add_argument("--substeps", default="16", help="SDE/ODE time refinement (default 16)")
    p.add_argument("--sde-noise", choices=["varying", "frozen"], default="varying")
    p.add_argument("--stic-weight", default="1.0", help="weight of STIC's gen-gap term")
    p.add_argument("--gdc-coefficient", default=None, help="override GDC's κ (default: schedule)")
    p.add_argument("--eval-chunk", default="64", help="trials per vmap chunk when evaluating")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", help="write the result here (atomic); reruns resume finished chunks")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_simulate)
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


def _schedule(args: argparse.Namespace) -> Schedule:
    return load_schedule(args.grid) if args.grid else parse_schedule_spec(args.schedule)


def _steps(text: str) -> list[int]:
    return [_number(s, "steps", int) for s in text.replace(" ", "").split(",") if s]


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON to ``path`` atomically (see :func:`sgd_diagrams.io.atomic_write_text`)."""
    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


def _load_checkpoint(path: Path, fingerprint: str) -> dict[int, Any]:
    from .optimizers.trials import stats_from_json
    if not path.exists():
        return {}
    try:
        obj = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise SgdDiagramsError(
            f"--out {path} exists but is not a results file; delete it or choose another --out"
        ) from None
    if not isinstance(obj, dict) or obj.get("fingerprint") != fingerprint:
        raise SgdDiagramsError(
            f"--out {path} holds a run with different arguments; rerun with the same arguments "
            "to resume, or delete it / choose another --out"
        )
    try:
        return {int(c): stats_from_json(s) for c, s in obj.get("chunks", {}).items()}
    except (KeyError, TypeError, ValueError):
        raise SgdDiagramsError(
            f"--out {path} has corrupt chunk data; delete it to start afresh"
        ) from None


def _shape(summary: dict[str, Any], names: list[str], meta: dict[str, Any]) -> dict[str, Any]:
    if len(names) == 1:
        out = dict(summary["optimizers"][names[0]])
    else:
        out = {"optimizers": summary["optimizers"], "differences": summary["differences"]}
    out["meta"] = meta
    return out


def _human(result: dict[str, Any], names: list[str]) -> str:
    blocks = (
        {names[0]: result} if len(names) == 1 else {**result["optimizers"], **result["differences"]}
    )
    lines = []
    for label, block in blocks.items():
        for metric in ("test-loss", "train-loss", "gen-gap", "accuracy"):
            if metric in block:
                s = block[metric]
                lines.append(
                    f"{label:>16s} {metric:<10s} {s['mean']:+.6g} ± {s['sem']:.2g} "
                    f"(95% CI [{s['ci95'][0]:+.6g}, {s['ci95'][1]:+.6g}], n={s['n']}, "
                    f"nonfinite={s['nonfinite']})"
                )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    import torch

    from .landscapes.registry import resolve_landscape
    from .optimizers.registry import make_optimizer
    from .optimizers.trials import simulate, stats_to_json
    eta = _number(args.eta, "eta")
    trials = _number(args.trials, "trials", int)
    seed = _number(args.seed, "seed", int)
    chunk = _number(args.chunk, "chunk", int)
    eval_chunk = _number(args.eval_chunk, "eval-chunk", int)
    if eval_chunk < 1:
        raise SgdDiagramsError("--eval-chunk must be a positive integer")
    schedule = _schedule(args)
    dtype = {"float32": torch.float32, "float64": torch.float64, None: None}[args.dtype]
    landscape = resolve_landscape(
        args.landscape, data_dir=args.data_dir, dtype=dtype, **_params(args.param)
    )
    names_in = [n for item in args.optimizer for n in item.split(",") if n]
    optimizers = [
        make_optimizer(
            n,
            momentum=_number(args.momentum, "momentum"),
            substeps=_number(args.substeps, "substeps", int),
            sde_noise=args.sde_noise,
            stic_weight=_number(args.stic_weight, "stic-weight"),
            gdc_coefficient=None
            if args.gdc_coefficient is None
            else _number(args.gdc_coefficient, "gdc-coefficient"),
        )
        for n in names_in
    ]
    names = [o.name for o in optimizers]
    steps = _steps(args.steps)
    config = {
        "version": __version__,
        "landscape": landscape.describe(),
        "schedule": schedule.to_json(),
        "optimizers": [o.describe() for o in optimizers],
        "eta": eta,
        "trials": trials,
        "seed": seed,
        "chunk": chunk,
        "steps": sorted(set(steps)),
        "dtype": str(landscape.dtype),
    }
    fingerprint = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    out_path = Path(args.out) if args.out else None
    completed = _load_checkpoint(out_path, fingerprint) if out_path else {}
    saved = {c: stats_to_json(s) for c, s in completed.items()}

    def save_chunk(c: int, stats: Any) -> None:
        saved[c] = stats_to_json(stats)
        if out_path is not None:
            atomic_write_json(
                out_path,
                {
                    "fingerprint": fingerprint,
                    "config": config,
                    "complete": False,
                    "chunks": {str(k): v for k, v in sorted(saved.items())},
                },
            )

    progress = not args.quiet and sys.stderr.isatty()
    result = simulate(
        landscape,
        schedule,
        optimizers,
        eta,
        trials,
        seed=seed,
        chunk=chunk,
        record_steps=steps,
        eval_chunk=eval_chunk,
        completed=completed,
        on_chunk=save_chunk,
        progress=progress,
    )
    meta = {
        "landscape": landscape.name,
        "dim": landscape.dim,
        "N": schedule.N,
        "T": schedule.T,
        "eta": eta,
        "trials": trials,
        "seed": seed,
        "optimizers": names,
        "resumed_chunks": sorted(completed),
    }
    shaped = _shape(result.summary(), names, meta)
    if out_path is not None:
        atomic_write_json(
            out_path,
            {
                "fingerprint": fingerprint,
                "config": config,
                "complete": True,
                "chunks": {str(k): v for k, v in sorted(saved.items())},
                "result": shaped,
            },
        )
    print(json.dumps(shaped, indent=2) if args.json else _human(shaped, names))
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    """Run the ``simulate`` subcommand; one-line error on stderr and status 2 on bad input."""
    try:
        return _run(args)
    except SgdDiagramsError as exc:
        print(f"sgd-diagrams simulate: error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m sgd_diagrams.simulate_cli simulate ...``)."""
    parser = argparse.ArgumentParser(prog="sgd-diagrams")
    sub = parser.add_subparsers(dest="command", required=True)
    add_simulate_parser(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
