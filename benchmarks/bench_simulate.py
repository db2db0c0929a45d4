"""Trials per second of convnet-digits SGD (N = 10, T = 10): vmap over trials vs a per-trial loop.

Run by hand: ``python benchmarks/bench_simulate.py [--trials 1000] [--loop-trials 50]``.
Both paths run the same per-trial step code on the same training sets (see
``sgd_diagrams.optimizers.trials.run_trials``); metrics (test loss and accuracy
on a 512-image evaluation set, train loss) are evaluated once at the end, with
vmap or with a loop according to the mode.  Peak memory is the process's maximum
resident set size (``resource.getrusage``), measured in a fresh subprocess per
mode so the two do not contaminate each other.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.optimizers import make_optimizer
from sgd_diagrams.optimizers.trials import run_trials, trial_metrics
from sgd_diagrams.schedules import sgd


def measure(trials: int, vectorize: bool, threads: int) -> dict:
    """Run ``trials`` trials once (after a small warm-up) and time them."""
    torch.set_num_threads(threads)
    land = resolve_landscape("convnet-digits", eval_size=512)
    schedule = sgd(10, 1, 1)
    stepper = make_optimizer("sgd").bind(land, schedule, 0.01)
    gen = torch.Generator().manual_seed(0)
    warm = land.sample_training_sets(gen, 4, schedule.N)
    run_trials(stepper, warm, [schedule.T], torch.Generator(), vectorize)
    rows = land.sample_training_sets(gen, trials, schedule.N)
    start = time.perf_counter()
    thetas = run_trials(stepper, rows, [schedule.T], torch.Generator(), vectorize)
    train_s = time.perf_counter() - start
    trial_metrics(land, thetas[schedule.T], rows, vectorize=vectorize)
    total_s = time.perf_counter() - start
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "mode": "vmap" if vectorize else "loop",
        "trials": trials,
        "threads": threads,
        "train_seconds": train_s,
        "total_seconds": total_s,
        "trials_per_second_train": trials / train_s,
        "trials_per_second_total": trials / total_s,
        "peak_rss_mib": rss_mib,
        "dim": land.dim,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--loop-trials", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["vmap", "loop"])
    args = parser.parse_args()
    if args.child:
        n = args.trials if args.child == "vmap" else args.loop_trials
        print(json.dumps(measure(n, args.child == "vmap", args.threads)))
        return
    rows = []
    for mode in ("loop", "vmap"):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--trials",
            str(args.trials),
            "--loop-trials",
            str(args.loop_trials),
            "--threads",
            str(args.threads),
        ]
        rows.append(
            json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        )
    speedup = rows[1]["trials_per_second_total"] / rows[0]["trials_per_second_total"]
    train_speedup = rows[1]["trials_per_second_train"] / rows[0]["trials_per_second_train"]
    print(
        json.dumps(
            {"runs": rows, "speedup_total": speedup, "speedup_train": train_speedup}, indent=2
        )
    )


if __name__ == "__main__":
    main()
