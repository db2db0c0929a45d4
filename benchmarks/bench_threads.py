"""One torch thread or two?  Wall and CPU seconds of the same jobs with 1 and 2 intra-op threads, alternated.

Run by hand: ``python benchmarks/bench_threads.py [--rounds 2]``.  Jobs: ``simulate`` on convnet-digits
(N = T = 10, 500 SGD trials, whole evaluation set) and matrix-free Taylor estimation (order 2, K = 2000).
The CLI's default is one thread per process (``--threads N`` overrides): on a machine whose cores are
busy, extra threads spin and wait, costing CPU without shortening the run.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

import sgd_diagrams as sd
from sgd_diagrams.estimation.predictions import estimate_uvalues
from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.schedules import sgd


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    land = resolve_landscape("convnet-digits")
    jobs = {"simulate 500 trials": lambda: sd.simulate(land, sgd(10, 1, 1), ["sgd"], 0.01, 500),
            "estimate order 2, K=2000": lambda: estimate_uvalues(land, "test", 2, 2000, method="matrix-free")}
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for name, job in jobs.items():
        torch.set_num_threads(1)
        job()  # warm-up
        for _ in range(args.rounds):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                wall, cpu = timed(job)
                old = best.get((name, threads), (float("inf"), float("inf")))
                best[(name, threads)] = (min(old[0], wall), min(old[1], cpu))
    rows = [{"job": n, "threads": t, "wall_s": w, "cpu_s": c} for (n, t), (w, c) in best.items()]
    print(json.dumps({"load_average": os.getloadavg(), "cores": os.cpu_count(), "rows": rows}, indent=1))
    for name in jobs:
        (w1, c1), (w2, c2) = best[(name, 1)], best[(name, 2)]
        print(f"{name}: 2 threads take {w2 / w1:.2f}x the wall time and {c2 / c1:.2f}x the CPU of 1 thread")


if __name__ == "__main__":
    main()
