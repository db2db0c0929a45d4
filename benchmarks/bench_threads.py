"""One torch thread or two, one process or two?  Wall and CPU seconds of the same jobs, alternated.

Run by hand: ``python benchmarks/bench_threads.py [--rounds 2] [--only threads,workers]``.

* **threads** — ``simulate`` on convnet-digits (N = T = 10, 500 SGD trials, whole evaluation set) and
  matrix-free Taylor estimation (order 2, K = 2000) with 1 and 2 intra-op threads in one process.
* **workers** — ``simulate`` on convnet-digits (N = T = 10, 2000 SGD trials in 2 chunks of 1000) and
  matrix-free Taylor estimation (order 2, K = 8000) with ``workers=1`` and ``workers=2`` local processes, one
  thread each.  CPU counts every process: this one plus the fork server and the workers it reaped.

The CLI's default is one thread and one process (``--threads N``, ``--workers N`` override): on a machine
whose cores are busy, extra threads spin and wait, costing CPU without shortening the run.
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


def _forkserver_cpu() -> float:
    """CPU seconds of the fork server and of the workers it has reaped (0 before it starts)."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None:
        return 0.0
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime, stime, cutime, cstime


def tree_timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn`` in this process and every worker process it used."""
    wall, cpu, other = time.perf_counter(), time.process_time(), _forkserver_cpu()
    fn()
    time.sleep(0.2)  # let the fork server reap the finished workers
    return time.perf_counter() - wall, time.process_time() - cpu + _forkserver_cpu() - other


def compare(jobs: dict, setting: str, run, rounds: int) -> None:
    """Best wall and CPU seconds of ``run(job, n)`` for n = 1 and 2 of ``setting``, alternated, and the ratios."""
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for name, job in jobs.items():
        run(job, 1)  # warm-up
        for _ in range(rounds):
            for n in (1, 2):
                wall, cpu = run(job, n)
                old = best.get((name, n), (float("inf"), float("inf")))
                best[(name, n)] = (min(old[0], wall), min(old[1], cpu))
    rows = [{"job": j, setting: n, "wall_s": w, "cpu_s": c} for (j, n), (w, c) in best.items()]
    print(json.dumps({"load_average": os.getloadavg(), "cores": os.cpu_count(), "rows": rows}, indent=1))
    for name in jobs:
        (w1, c1), (w2, c2) = best[(name, 1)], best[(name, 2)]
        print(f"{name}: 2 {setting} take {w2 / w1:.2f}x the wall time and {c2 / c1:.2f}x the CPU of 1")


def compare_workers(land, rounds: int) -> None:
    torch.set_num_threads(1)
    jobs = {"simulate 2000 trials": lambda w: sd.simulate(land, sgd(10, 1, 1), ["sgd"], 0.01, 2000,
                                                          execution=sd.Execution(workers=w)),
            "estimate order 2, K=8000": lambda w: estimate_uvalues(land, "test", 2, 8000, method="matrix-free",
                                                                   workers=w)}
    jobs["simulate 2000 trials"](2)  # the fork server's one start
    compare(jobs, "workers", lambda job, n: tree_timed(lambda: job(n)), rounds)


def compare_threads(land, rounds: int) -> None:
    jobs = {"simulate 500 trials": lambda: sd.simulate(land, sgd(10, 1, 1), ["sgd"], 0.01, 500),
            "estimate order 2, K=2000": lambda: estimate_uvalues(land, "test", 2, 2000, method="matrix-free")}

    def run(job, threads: int) -> tuple[float, float]:
        torch.set_num_threads(threads)
        try:
            return timed(job)
        finally:
            torch.set_num_threads(1)

    compare(jobs, "threads", run, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="threads,workers")
    args = parser.parse_args()
    land = resolve_landscape("convnet-digits")
    if "threads" in args.only.split(","):
        compare_threads(land, args.rounds)
    if "workers" in args.only.split(","):
        compare_workers(land, args.rounds)


if __name__ == "__main__":
    main()
