"""How estimation's CPU grows with the samples K: matrix-free resummed convnet predictions (issue #20 item 4).

The digits convnet, ``sgd:N=10,B=1,E=1``, η = 0.01, test loss, R = 20 replications, one thread, CPU seconds
(``time.process_time``; a child's ``RUSAGE_CHILDREN`` for the command line), so load from other jobs does not
inflate them.  For order 2 (Krylov k = 16) and order 3 (k = 12) at K = 2000 and 8000 samples:

* **estimator** — ``krylov_resummed_estimate(..., pilot=False)``: the estimate alone, every part timed
  (exclusive CPU of the Lanczos runs, the projected tensors, the whole-space complement values, the noise
  curvature μ, the contractions and resummed engine; the rest is Python glue).  Fitting CPU = R·f + K·c to
  the two sample sizes splits each part into a fixed cost f per replication and a cost c per sample.
* **predict** — the public call a user makes, ``sd.predict(land, schedule, order, eta, method="resummed",
  sampling=sd.Sampling(samples=K, krylov_dim=k, replications=20, resummation="matrix-free"))``, with the
  cost pilot and guard as the user meets them (a refused job is reported and rerun with ``force``).
* **command line** (``--cli``) — ``sgd-diagrams predict --landscape convnet-digits --schedule sgd:N=10,B=1,E=1
  --order O --resum --samples K --krylov k --eta 0.01 --replications 20`` in a subprocess (imports included).

Each prints CPU(8000)/CPU(2000) (linear in K would be 4).  In one process, without the command line's
allocator tuning (:func:`sgd_diagrams.backends.keep_freed_memory`; ``--keep-freed-memory`` applies it here).
``python benchmarks/bench_estimation_scaling.py [--cli] [--orders 2,3] [--keep-freed-memory]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import warnings
from collections import defaultdict

CASES = {2: 16, 3: 12}  # order -> Krylov dimension
SIZES = (2000, 8000)
REPLICATIONS = 20
ETA = 0.01
SCHEDULE = "sgd:N=10,B=1,E=1"

PARTS = {  # label -> (module, attribute, owner class or None)
    "Lanczos (HVP graph + k products)": ("sgd_diagrams.estimation.krylov", "_sample_torch", None),
    "projected tensors": ("sgd_diagrams.estimation.tensor_sources", "TorchGroupSource",
                          ("prefetch", "mean", "samples")),
    "whole-space complement values": ("sgd_diagrams.estimation.krylov", "replication_values", None),
    "noise curvature mu": ("sgd_diagrams.estimation.krylov", "complement_curvature", None),
    "contractions + resummed engine": ("sgd_diagrams.estimation.krylov", "ResummedTally", ("replicate",)),
    "contractions (part table)": ("sgd_diagrams.estimation.group_statistic", "GroupStatisticEvaluator",
                                  ("part_table", "__call__")),
}


class ExclusiveTimer:
    """CPU seconds per label, exclusive: a labelled call inside another is not counted twice."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []

    def wrap(self, label: str, fn):
        def timed(*args, **kwargs):
            frame = [label, time.process_time(), 0.0]  # label, start, time of labelled calls inside
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._stack.pop()
                spent = time.process_time() - frame[1]
                self.seconds[label] += spent - frame[2]
                if self._stack:
                    self._stack[-1][2] += spent

        return timed

    def install(self) -> None:
        import importlib

        for label, (module, name, methods) in PARTS.items():
            mod = importlib.import_module(module)
            target = getattr(mod, name, None)
            if target is None:
                continue
            if methods is None:
                setattr(mod, name, self.wrap(label, target))
            else:
                for m in methods:
                    if m in vars(target):  # absent on older versions (e.g. prefetch): nothing to time
                        setattr(target, m, self.wrap(label, vars(target)[m]))


def _fit(t_small: float, t_large: float) -> tuple[float, float]:
    """(f per replication, c per sample) of CPU = R·f + K·c through the two sizes."""
    k1, k2 = SIZES
    c = (t_large - t_small) / (k2 - k1)
    return (t_small - c * k1) / REPLICATIONS, c


def estimator_rows(orders: list[int]) -> None:
    import numpy as np

    import sgd_diagrams as sd
    from sgd_diagrams.estimation.krylov import krylov_resummed_estimate

    land, schedule = sd.landscape("convnet-digits"), sd.sgd(N=10, B=1, E=1)
    timer = ExclusiveTimer()
    timer.install()
    for order in orders:
        k = CASES[order]
        krylov_resummed_estimate(land, schedule, order, [ETA], samples=200, krylov_dim=k, replications=2,
                                 pilot=False, force=True)  # warm-up: torch's first calls, imports
        totals, parts = {}, {}
        for K in SIZES:
            timer.seconds.clear()
            start = time.process_time()
            p = krylov_resummed_estimate(land, schedule, order, [ETA], samples=K, krylov_dim=k,
                                         replications=REPLICATIONS, pilot=False, force=True)
            totals[K] = time.process_time() - start
            parts[K] = dict(timer.seconds)
            parts[K]["Python glue (the rest)"] = totals[K] - sum(timer.seconds.values())
            print(f"estimator, order {order}, k = {k}, K = {K}: {totals[K]:.2f} CPU s  "
                  f"(value {float(np.ravel(p.value)[0]):.6f} +- {float(np.ravel(p.stderr)[0]):.6f})", flush=True)
        f, c = _fit(totals[SIZES[0]], totals[SIZES[1]])
        print(f"estimator, order {order}: CPU({SIZES[1]})/CPU({SIZES[0]}) = {totals[SIZES[1]] / totals[SIZES[0]]:.2f}; "
              f"fit: f = {f:.3f} s per replication ({REPLICATIONS * f / totals[SIZES[0]]:.0%} of the run at "
              f"K = {SIZES[0]}), c = {1e3 * c:.3f} ms per sample")
        print(f"| part (order {order}) | K = {SIZES[0]} | K = {SIZES[1]} | fixed f per replication | per sample c |")
        print("|---|---|---|---|---|")
        for label in list(PARTS) + ["Python glue (the rest)"]:
            a, b = parts[SIZES[0]].get(label, 0.0), parts[SIZES[1]].get(label, 0.0)
            fi, ci = _fit(a, b)
            print(f"| {label} | {a:.2f} | {b:.2f} | {1e3 * fi:.1f} ms | {1e3 * ci:.3f} ms |")
        print(flush=True)


def predict_rows(orders: list[int]) -> None:
    import sgd_diagrams as sd

    land, schedule = sd.landscape("convnet-digits"), sd.sgd(N=10, B=1, E=1)
    for order in orders:
        k = CASES[order]
        totals = {}
        for K in SIZES:
            sampling = sd.Sampling(samples=K, krylov_dim=k, replications=REPLICATIONS, resummation="matrix-free")
            note = ""
            start = time.process_time()
            try:
                p = sd.predict(land, schedule, order, [ETA], method="resummed", sampling=sampling)
            except sd.SgdDiagramsError as exc:
                note = f" (refused: {str(exc)[:80]}...; rerun with force)"
                start = time.process_time()
                p = sd.predict(land, schedule, order, [ETA], method="resummed", sampling=sampling,
                               execution=sd.Execution(force=True))
            totals[K] = time.process_time() - start
            est = p.details.get("estimated_seconds")
            print(f"predict, order {order}, k = {k}, K = {K}: {totals[K]:.2f} CPU s (estimator "
                  f"{p.details.get('cpu_seconds', float('nan')):.2f}, estimated {est if est is None else round(est, 1)}"
                  f" from {p.details.get('estimate_from')}){note}", flush=True)
        print(f"predict, order {order}: CPU({SIZES[1]})/CPU({SIZES[0]}) = {totals[SIZES[1]] / totals[SIZES[0]]:.2f}\n",
              flush=True)


def cli_rows(orders: list[int]) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for order in orders:
        k = CASES[order]
        totals = {}
        for K in SIZES:
            cmd = [sys.executable, "-m", "sgd_diagrams.cli", "predict", "--landscape", "convnet-digits", "--schedule",
                   SCHEDULE, "--order", str(order), "--resum", "--samples", str(K), "--krylov", str(k), "--eta",
                   str(ETA), "--replications", str(REPLICATIONS), "--json"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            totals[K] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-120:]}"
            print(f"command line, order {order}, k = {k}, K = {K}: {totals[K]:.2f} CPU s ({status})", flush=True)
        print(f"command line, order {order}: CPU({SIZES[1]})/CPU({SIZES[0]}) = "
              f"{totals[SIZES[1]] / totals[SIZES[0]]:.2f}\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="2,3", help="comma-separated orders among 2, 3")
    parser.add_argument("--cli", action="store_true", help="also time the command line (subprocess)")
    parser.add_argument("--skip-predict", action="store_true", help="the estimator rows only")
    parser.add_argument("--keep-freed-memory", action="store_true", help="apply the command line's allocator tuning")
    args = parser.parse_args()
    orders = [int(o) for o in args.orders.split(",")]
    if any(o not in CASES for o in orders):
        parser.error(f"orders must be among {sorted(CASES)}")
    import torch

    torch.set_num_threads(1)
    if args.keep_freed_memory:
        from sgd_diagrams.backends import keep_freed_memory

        print(f"allocator tuning applied: {keep_freed_memory()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator_rows(orders)
        if not args.skip_predict:
            predict_rows(orders)
    if args.cli:
        cli_rows(orders)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
