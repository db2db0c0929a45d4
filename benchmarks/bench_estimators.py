"""Cost per sample of matrix-free diagram estimates on the digits convnet, relative to one gradient.

For every diagram with ≤ 3 edges (test diagrams, and train diagrams whose root shares its part): the
time to evaluate its whole unbiased estimator (every correlator term, messages shared within the
diagram) on one replication block of G = 4 groups of S samples — group means where a factor stands
alone, per-sample (vmapped) products where factors share a sample — divided by the time of G·S
per-sample gradients (vmapped), and by one batched gradient of the mean loss over the same G·S samples.
Those ratios are the cost per sample in gradient-equivalents; the autodiff limit is about one
gradient-equivalent per node reading the sample.

*before* is the old evaluation: per-sample products 64 samples per vectorized call and every scalar node
by forward-over-reverse (∇ then jvps, dotted with the last message); *after* the default: all S samples
in one call (unless memory says otherwise) and scalar nodes with 2–3 messages by nested forward mode.
Both run on the same machine, interleaved, best of ``--repeat``, and their values are checked equal to
float32 rounding.  The last rows time all diagrams of one order in one pass (as ``predict``/``estimate``
do, sharing messages across diagrams) against the sum of their single-diagram times.  Peak RSS is
reported for the whole process.

Run: ``python benchmarks/bench_estimators.py [--per-group 250] [--repeat 2] [--max-edges 3] [--threads 2]
[--clock wall|cpu]``.
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import torch
from torch.func import grad, vmap

from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.estimation import matrix_free
from sgd_diagrams.estimation.evaluators import matrix_free_evaluator, statistic_terms
from sgd_diagrams.landscapes.registry import resolve_landscape

# (samples per per-sample call, most messages of a scalar node taken by nested forward mode)
VARIANTS = {"before": (64, 1), "after": (None, matrix_free.FORWARD_SCALAR_MAX_MESSAGES)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--per-group", type=int, default=250)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--landscape", default="convnet-digits")
    p.add_argument("--max-edges", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch threads (1 gives the cleanest CPU-time ratios)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time, or this process's CPU time (robust when other jobs share the cores)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    land = resolve_landscape(args.landscape)
    gen = torch.Generator().manual_seed(0)
    G, S = 4, args.per_group
    rows = land.sample_training_sets(gen, 1, G * S)[0]
    g = vmap(grad(lambda th, r: land.batch_loss(th, r.unsqueeze(0))), in_dims=(None, 0))

    def best_of(fn, n: int = 10) -> float:
        fn()
        best = float("inf")
        for _ in range(n):
            t0 = clock()
            fn()
            best = min(best, clock() - t0)
        return best

    t_grad = best_of(lambda: g(land.init, rows))
    mean_grad = grad(lambda th: land.batch_loss(th, rows))
    t_batch = best_of(lambda: mean_grad(land.init))
    blocks = rows.reshape(1, G, S)
    print(f"landscape {args.landscape}: P = {land.dim}, {G} groups × {S} samples, {torch.get_num_threads()} "
          f"threads, {args.clock} clock; {1e3 * t_grad / (G * S):.3f} ms per per-sample gradient (vmapped), "
          f"{1e3 * t_batch / (G * S):.3f} ms per sample in one batched gradient")
    print("| diagram | nodes | correlator terms | before: × per-sample grad | × batched grad "
          "| after: × per-sample grad | × batched grad | speed-up |")
    print("|---|---|---|---|---|---|---|---|")

    def timed(diagrams, variants):
        """Best time of each variant over ``--repeat`` interleaved rounds, and its values."""
        best = {v: float("inf") for v in variants}
        values = {}
        for _ in range(args.repeat):
            for v in variants:
                sample_chunk, forward_max = VARIANTS[v]
                matrix_free.FORWARD_SCALAR_MAX_MESSAGES = forward_max
                ev = matrix_free_evaluator(land, blocks, sample_chunk=sample_chunk)
                t0 = clock()
                ev.prepare(diagrams)
                best[v] = min(best[v], clock() - t0)
                values[v] = [ev(d) for d in diagrams]
        matrix_free.FORWARD_SCALAR_MAX_MESSAGES = VARIANTS["after"][1]
        return best, values

    singles: dict[int, float] = {}
    seen = set()
    for k in range(args.max_edges + 1):
        for d in [*enumerate_diagrams(k, "test"), *enumerate_diagrams(k, "train")]:
            if d in seen:
                continue
            seen.add(d)
            best, values = timed([d], ("before", "after"))
            t_old, t_new = best["before"], best["after"]
            if not math.isclose(values["before"][0], values["after"][0], rel_tol=1e-4, abs_tol=1e-6):
                raise SystemExit(f"{d}: values differ, before {values['before'][0]!r} after {values['after'][0]!r}")
            singles[k] = singles.get(k, 0.0) + t_new
            print(f"| `{d}`{'' if d.root_alone else ' (train)'} | {d.n_nodes} | {len(statistic_terms(d, 1))} | "
                  f"{t_old / t_grad:.1f} | {t_old / t_batch:.1f} | {t_new / t_grad:.1f} | {t_new / t_batch:.1f} | "
                  f"{t_old / t_new:.1f}x |", flush=True)
    for k in range(1, args.max_edges + 1):
        ds = sorted({d for kind in ("test", "train") for d in enumerate_diagrams(k, kind)}, key=str)
        t_all = timed(ds, ("after",))[0]["after"]
        print(f"order {k}: {len(ds)} diagrams in one pass {t_all / t_batch:.1f} batched gradients "
              f"({t_all / t_batch / len(ds):.1f} per diagram) vs {singles[k] / t_batch:.1f} one by one "
              f"(sharing saves {100 * (1 - t_all / singles[k]):.0f} %)", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
