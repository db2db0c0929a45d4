"""Cost of matrix-free diagram estimates on the digits convnet, relative to one gradient evaluation.

For every test diagram with ≤ 3 edges: the time to evaluate its whole unbiased estimator (all statistic
terms of App. C.6, messages shared within the diagram) on B blocks of single-sample groups (vmapped
over blocks), divided by the time of B per-sample gradients (vmapped the same way).  The autodiff
limit is about one gradient-equivalent per node; the estimator of a diagram with parts of sizes m_p
evaluates up to Π Bell(m_p) statistics (shared messages reduce that).  Peak RSS is reported per process.

Run: ``python benchmarks/bench_estimators.py [--blocks 16] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from torch.func import grad, vmap

from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.values.estimated import matrix_free_evaluator, statistic_terms


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--blocks", type=int, default=16)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--landscape", default="convnet-digits")
    args = p.parse_args()
    torch.set_num_threads(2)
    land = resolve_landscape(args.landscape)
    gen = torch.Generator().manual_seed(0)
    B = args.blocks
    rows = land.sample_training_sets(gen, 1, B * 4)[0].reshape(B, 4, 1)
    g = vmap(grad(lambda th, r: land.batch_loss(th, r)), in_dims=(None, 0))
    flat = rows[:, 0]
    g(land.init, flat)
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        g(land.init, flat)
    t_grad = (time.perf_counter() - t0) / args.repeat
    print(f"landscape {args.landscape}: P = {land.dim}, {B} blocks; {1e3 * t_grad / B:.2f} ms per per-sample gradient")
    print("| diagram | nodes | statistic terms | node evaluations | time / gradient | per node |")
    print("|---|---|---|---|---|---|")
    for k in range(4):
        for d in enumerate_diagrams(k, "test"):
            best = float("inf")
            for _ in range(args.repeat):
                ev = matrix_free_evaluator(land, rows, chunk=B)
                t0 = time.perf_counter()
                ev.prepare([d])
                best = min(best, time.perf_counter() - t0)
            ratio = best / t_grad
            print(f"| `{d}` | {d.n_nodes} | {len(statistic_terms(d, 1))} | {ev.node_evaluations} | {ratio:.1f} | "
                  f"{ratio / max(ev.node_evaluations, 1):.1f} |")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
