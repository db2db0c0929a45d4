"""Options shared by every subcommand, and their parsing: one meaning per option name.

* ``--landscape NAME[:K=V,...]|FILE`` — :func:`sgd_diagrams.landscape`'s spec (``example`` by default);
* ``--schedule sgd:N=..,B=..,E=..[,seed=..]|gd:N=..,T=..`` or ``--grid FILE.json``;
* ``--eta 0.01,0.05`` — always a comma-separated list;
* ``--quantity`` — one of :data:`sgd_diagrams.QUANTITY_NAMES`;
* ``--samples K --seed S --replications R --cache DIR`` — estimated values;
* ``--stats S.json`` — estimated values saved by ``sgd-diagrams stats --out S.json`` (measure once);
* ``--json``, ``--out FILE`` (written atomically), ``--quiet`` (no progress, no warnings).

A value starting with ``-`` (``--metric -1,0;0,2``, ``--eta -0.1``) is read as a value, not an option.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import numpy as np

from ..catalog import BUILTIN_LANDSCAPES
from ..diagrams import QUANTITY_NAMES
from ..errors import SgdDiagramsError, parse_numbers
from ..io import emit as _emit
from ..options import Execution, Sampling

__all__ = [
    "add_backend",
    "add_device",
    "add_eta",
    "add_execution",
    "add_threads",
    "add_force",
    "add_landscape",
    "add_output",
    "add_quantity",
    "add_sampling",
    "add_schedule",
    "add_statistics",
    "emit",
    "fmt",
    "join_negative_values",
    "load_landscape_arg",
    "load_schedule_arg",
    "schedule_record",
    "with_lr_and_momentum",
    "load_statistics_arg",
    "parse_etas",
    "parse_metric",
    "progress",
]

LANDSCAPE_HELP = (
    "landscape: 'example' (bundled), a finite landscape .json file, or a built-in with parameters "
    f"NAME[:KEY=VALUE,...] — {', '.join(BUILTIN_LANDSCAPES)} (e.g. mean-estimation:H=2,S=1); default: example "
    "(the same in every command)"
)
VALUE_OPTIONS = ("--metric", "--eta", "--at", "--steps", "--gdc-coefficient", "--momentum", "--stic-weight")
_NEGATIVE = re.compile(r"^-(\d|\.\d)")


def join_negative_values(argv: list[str]) -> list[str]:
    """``--metric -1,0;0,2`` → ``--metric=-1,0;0,2`` so argparse does not read the value as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in VALUE_OPTIONS and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def add_landscape(p: argparse.ArgumentParser) -> None:
    """``--landscape`` (default ``example`` in every command) and ``--data-dir``."""
    p.add_argument("--landscape", default="example", help=LANDSCAPE_HELP)
    p.add_argument("--data-dir", help="folder with Fashion-MNIST IDX or CIFAR-10 files (their built-ins)")


def add_trust(p: argparse.ArgumentParser) -> None:
    """``--rtol``: the tolerance of the Taylor form's trust flag (sgd_diagrams.theory.trust)."""
    from ..theory.trust import DEFAULT_RTOL

    p.add_argument("--rtol", type=float, default=None, metavar="R",
                   help=f"trust a Taylor value when its estimated truncation error is at most R times the predicted "
                   f"change from l(theta0) (+2 stderr for estimates); default {DEFAULT_RTOL:g}")


def add_schedule(p: argparse.ArgumentParser, required: bool = False) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--schedule", help="schedule spec: sgd:N=10,B=1,E=1[,seed=0] or gd:N=10,T=5")
    group.add_argument("--grid", help="schedule JSON file (explicit batches, SGD or GD)")
    from ..schedules.grid import LR_SCHEDULE_HELP

    p.add_argument("--lr-schedule", metavar="SPEC", help=LR_SCHEDULE_HELP)
    p.add_argument("--momentum", metavar="BETA",
                   help="heavy-ball momentum 0 <= BETA < 1 (PyTorch convention: buf = BETA*buf + g, "
                   "theta -= eta*m_t*buf; default 0: plain SGD)")


def add_eta(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--eta", required=required, help="learning rates, comma-separated, e.g. 0.01,0.05")


def add_quantity(p: argparse.ArgumentParser, choices: tuple[str, ...] = QUANTITY_NAMES) -> None:
    p.add_argument("--quantity", choices=choices, default="test-loss", help="what to predict (default test-loss)")


def add_sampling(p: argparse.ArgumentParser, default_samples: int | None = None) -> None:
    p.add_argument("--samples", type=int, default=default_samples,
                   help="estimate diagram values from K sampled data points (error bars)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled data points (default 0)")
    p.add_argument("--replications", type=int, help="independent replications R for standard errors (default 20)")
    p.add_argument("--cache", default=os.environ.get("SGD_DIAGRAMS_CACHE") or None, metavar="DIR",
                   help="reuse and store estimates in DIR (default: $SGD_DIAGRAMS_CACHE if set, else no cache)")
    p.add_argument("--no-cache", action="store_true", help="ignore --cache / $SGD_DIAGRAMS_CACHE")
    p.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)  # older spelling of --quiet


def add_statistics(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stats", metavar="S.json",
                   help="diagram values saved by 'sgd-diagrams stats --out S.json': predict without touching the "
                   "model (replaces --samples/--seed/--replications)")


def load_statistics_arg(args: argparse.Namespace):
    """The statistics of ``--stats``; sampling options beside it are errors; ``--landscape`` must match it."""
    from ..api import load_statistics

    given = [f"--{n}" for n in ("samples", "seed", "replications") if getattr(args, n, None) is not None]
    if given:
        raise SgdDiagramsError(f"--stats fixes the samples, seed and replications; drop {', '.join(given)}")
    stats = load_statistics(args.stats)
    if getattr(args, "landscape", None):
        from ..estimation.statistics import same_landscape

        land = load_landscape_arg(args)
        if not same_landscape(stats, land):
            raise SgdDiagramsError(f"{args.stats} was measured on {stats.name!r} (another landscape or θ0 than "
                                   f"--landscape {args.landscape}); drop --landscape or measure this one")
    return stats


def add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where the work runs: this process (default) or Ray tasks (identical results; pip extra "
                   "'ray')")
    p.add_argument("--address", help="with --backend ray: a cluster address (auto, ray://host:10001); "
                   "default: start or join a local Ray instance")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="local processes for simulation chunks and matrix-free estimation replications, one torch "
                   "thread each (default 1; identical results; README, Threads)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                   help="where torch tensors live: cpu (default), cuda, or auto (a GPU when one is visible)")


def add_force(p: argparse.ArgumentParser) -> None:
    from ..limits import summary

    p.add_argument("--force", action="store_true",
                   help=f"run a job estimated beyond the time budget anyway. {summary()}")


def add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch intra-op threads of this process (default 1, or $OMP_NUM_THREADS when set): one "
                   "thread per worker measured fastest on a loaded 2-core machine (README, Performance)")


def add_execution(p: argparse.ArgumentParser) -> None:
    """``--backend``/``--address``, ``--device``, ``--threads`` and ``--force``: how and where a heavy job runs."""
    add_backend(p)
    add_device(p)
    add_threads(p)
    add_force(p)


def add_output(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
    if json_flag:
        p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", help="write the output to this file (atomically) instead of printing it")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no warnings on stderr")


def load_landscape_arg(args: argparse.Namespace, extra: dict[str, float] | None = None, dtype: Any = None):
    """The landscape named by ``--landscape`` (and ``--data-dir``); ``extra`` parameters add to the spec's."""
    from ..landscapes import landscape

    return landscape(args.landscape or "example", data_dir=getattr(args, "data_dir", None), dtype=dtype,
                     **(extra or {}))


def load_schedule_arg(args: argparse.Namespace):
    """The schedule from ``--schedule`` or ``--grid``."""
    from ..schedules import load_schedule, parse_schedule_spec

    if getattr(args, "grid", None):
        schedule = load_schedule(args.grid)
    elif getattr(args, "schedule", None):
        schedule = parse_schedule_spec(args.schedule)
    else:
        raise SgdDiagramsError("no schedule: give --grid G.json or --schedule sgd:N=10,B=1,E=1")
    return with_lr_and_momentum(args, schedule)


def with_lr_and_momentum(args: argparse.Namespace, schedule):
    """``schedule`` with ``--lr-schedule`` multipliers and ``--momentum`` β applied (when given)."""
    spec = getattr(args, "lr_schedule", None)
    if spec is not None:
        from ..schedules.grid import lr_schedule

        schedule = schedule.with_lr(lr_schedule(spec, schedule.T))
    beta = getattr(args, "momentum", None)
    if beta is not None:
        try:
            value = float(beta)
        except (TypeError, ValueError):
            raise SgdDiagramsError(f"--momentum must be a number in [0, 1), got {beta!r}") from None
        schedule = schedule.with_momentum(value)
    return schedule


def schedule_record(args: argparse.Namespace, schedule) -> dict[str, Any]:
    """What a results JSON records about the lr schedule and momentum (empty for plain SGD)."""
    out: dict[str, Any] = {}
    if getattr(args, "lr_schedule", None) is not None:
        out["lr_schedule"] = args.lr_schedule
    if schedule.lr is not None:
        out["lr"] = list(schedule.lr)
    if schedule.momentum:
        out["momentum"] = schedule.momentum
    return out


def parse_etas(text: str) -> np.ndarray:
    """``"0.01,0.05"`` → array; one-line errors for anything else (η must be positive and finite)."""
    from ..api import check_etas

    return check_etas(parse_numbers(text, "--eta"))


def parse_metric(text: str | None) -> np.ndarray | None:
    """``'1,0;0,2'`` → a square matrix (rows separated by ';')."""
    if text is None:
        return None
    try:
        m = np.array([[float(x) for x in row.split(",")] for row in text.split(";")], dtype=np.float64)
    except ValueError:
        raise SgdDiagramsError("--metric must look like '1,0;0,2' (rows separated by ';')") from None
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise SgdDiagramsError("--metric must be a square matrix like '1,0;0,2'")
    return m


def progress(args: argparse.Namespace) -> bool:
    """Progress unless ``--quiet``: a bar on a terminal, a short line every 10 s in logs and pipes."""
    return not (getattr(args, "quiet", False) or getattr(args, "no_progress", False))


# -- the one place where flags become the front door's two option sets -------------------------------------
def sampling_from_args(args: argparse.Namespace, fixed_by_statistics: bool = False) -> Sampling:
    """``--samples/--seed/--replications/--cache/--no-cache/--krylov/--resummation`` as :class:`sd.Sampling`.

    ``fixed_by_statistics`` (``--stats``): the statistics fix samples, seed and replications, so only the
    resummation flags are carried (predict refuses them there with its own message).
    """
    resummation = {"krylov_dim": getattr(args, "krylov", None), "resummation": getattr(args, "resummation", "auto")}
    if fixed_by_statistics:
        return Sampling(**resummation)
    cache = None if getattr(args, "no_cache", False) else getattr(args, "cache", None)
    return Sampling(samples=getattr(args, "samples", None), seed=getattr(args, "seed", None),
                    replications=getattr(args, "replications", None), cache=cache, **resummation)


def execution_from_args(args: argparse.Namespace) -> Execution:
    """``--backend/--address/--workers/--device/--quiet/--force`` as :class:`sd.Execution` (absent flags:
    defaults)."""
    return Execution(backend=getattr(args, "backend", "local"), address=getattr(args, "address", None),
                     device=getattr(args, "device", None), progress=progress(args),
                     force=bool(getattr(args, "force", False)), workers=getattr(args, "workers", 1))


def emit(args: argparse.Namespace, payload: Any, table: str) -> None:
    """Print JSON (``--json``) or the table, or write it atomically to ``--out``."""
    _emit(payload, table, getattr(args, "json", False), getattr(args, "out", None))


def fmt(x: float) -> str:
    return f"{x: .10g}"
