"""Cost per sample of matrix-free diagram estimates on the digits convnet, relative to one gradient.

For every test diagram with ≤ 3 edges: the time to evaluate its whole unbiased estimator (every
correlator term, messages shared within the diagram) on one replication block of G = 4 groups of S
samples — group means where a factor stands alone, per-sample (vmapped) products where factors share
a sample — divided by the time of G·S per-sample gradients (vmapped), and by one batched gradient of the
mean loss over the same G·S samples.  Those ratios are the cost per sample in gradient-equivalents;
the autodiff limit is about one gradient-equivalent per node reading the sample.
Peak RSS is reported for the whole process.

Run: ``python benchmarks/bench_estimators.py [--per-group 250] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from torch.func import grad, vmap

from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.estimation.evaluators import matrix_free_evaluator, statistic_terms
from sgd_diagrams.landscapes.registry import resolve_landscape


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--per-group", type=int, default=250)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--landscape", default="convnet-digits")
    args = p.parse_args()
    torch.set_num_threads(2)
    land = resolve_landscape(args.landscape)
    gen = torch.Generator().manual_seed(0)
    G, S = 4, args.per_group
    rows = land.sample_training_sets(gen, 1, G * S)[0]
    g = vmap(grad(lambda th, r: land.batch_loss(th, r.unsqueeze(0))), in_dims=(None, 0))
    g(land.init, rows)
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        g(land.init, rows)
    t_grad = (time.perf_counter() - t0) / args.repeat
    mean_grad = grad(lambda th: land.batch_loss(th, rows))
    mean_grad(land.init)
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        mean_grad(land.init)
    t_batch = (time.perf_counter() - t0) / args.repeat
    blocks = rows.reshape(1, G, S)
    print(f"landscape {args.landscape}: P = {land.dim}, {G} groups × {S} samples; "
          f"{1e3 * t_grad / (G * S):.3f} ms per per-sample gradient (vmapped), "
          f"{1e3 * t_batch / (G * S):.3f} ms per sample in one batched gradient")
    print("| diagram | nodes | correlator terms | × per-sample gradients | × batched gradient |")
    print("|---|---|---|---|---|")
    for k in range(4):
        for d in enumerate_diagrams(k, "test"):
            best = float("inf")
            for _ in range(args.repeat):
                ev = matrix_free_evaluator(land, blocks)
                t0 = time.perf_counter()
                ev.prepare([d])
                best = min(best, time.perf_counter() - t0)
            print(f"| `{d}` | {d.n_nodes} | {len(statistic_terms(d, 1))} | {best / t_grad:.1f} | "
                  f"{best / t_batch:.1f} |")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
