"""Cost and memory of the matrix-free resummed path (issue 12): Lanczos + projected per-sample tensors.

For one replication of n samples on a model with P weights and Krylov dimension k, times

* the Lanczos run (k Hessian-vector products of the sample-mean loss over the n rows),
* the projected per-sample tensors ∇l_s·Z (degree 1), Zᵀ∇²l_s Z (degree 2, k directional passes) and,
  with ``--order 3``, ∇³l_s[Z, Z, Z] (k² passes),

each divided by n × the time of one per-sample gradient (vmapped), i.e. in gradient-equivalents per
sample, and the peak resident memory above the loaded model (each configuration in its own process).
Models: the digits convnet (P = 3290) and one-hidden-layer tanh MLPs on digits (P ≈ 10⁴ … 10⁵).

    python benchmarks/bench_matrix_free.py [--quick] [--order 3] [--json out/bench_matrix_free.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _model(name: str):
    import torch

    import sgd_diagrams as sd
    from sgd_diagrams.landscapes.torch_models import TorchLandscape

    if name == "convnet":
        return sd.landscape("convnet-digits")
    hidden = int(name.removeprefix("mlp"))
    digits = sd.landscape("logistic-digits")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, hidden), torch.nn.Tanh(),
                                torch.nn.Linear(hidden, 10))
    return TorchLandscape(model, torch.nn.functional.cross_entropy, digits.inputs, digits.targets,
                          name=f"mlp{hidden}-digits")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one(name: str, k: int, n: int, order: int) -> dict:
    """Measure one configuration (run in a fresh process by :func:`main`)."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from sgd_diagrams.estimation.krylov import _sample_torch
    from sgd_diagrams.landscapes.sampled import per_sample_gradients

    land = _model(name)
    gen = torch.Generator().manual_seed(0)
    rows = land.sample_training_sets(gen, 1, n)[0]
    per_sample_gradients(land, land.init, rows[:8])  # warm up
    t = time.perf_counter()
    per_sample_gradients(land, land.init, rows)
    t_grad = (time.perf_counter() - t) / n
    base = _rss_mib()
    grouped = rows.reshape(1, n)
    t = time.perf_counter()
    source, basis = _sample_torch(land, grouped, None, k, False, 0)
    t_lanczos = time.perf_counter() - t
    out = {"model": name, "P": land.dim, "k": k, "n": n, "t_grad_ms": 1e3 * t_grad,
           "lanczos": t_lanczos / (n * t_grad), "negative_ritz": int(np.sum(basis.values < 0))}
    for degree in range(1, order + 1):
        t = time.perf_counter()
        source.samples(0, degree)
        out[f"degree{degree}"] = (time.perf_counter() - t) / (n * t_grad)
    out["peak_mib_above_model"] = _rss_mib() - base
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer configurations")
    ap.add_argument("--order", type=int, default=2, choices=(2, 3))
    ap.add_argument("--samples", type=int, default=128, help="samples n per replication")
    ap.add_argument("--json", help="also write the rows as JSON to this path")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), int(args.one[2]), args.order)))
        return
    configs = [("convnet", k) for k in (5, 10, 20, 40)] + [("mlp160", 10), ("mlp1500", 10), ("mlp1500", 20)]
    if args.quick:
        configs = [("convnet", 10), ("mlp1500", 10)]
    rows = []
    print(f"{'model':>9} {'P':>7} {'k':>3} {'t_grad ms':>9} {'Lanczos':>8} " +
          " ".join(f"{'deg' + str(d):>8}" for d in range(1, args.order + 1)) + f" {'total':>8} {'peak MiB':>8}")
    for name, k in configs:
        res = subprocess.run([sys.executable, __file__, "--one", name, str(k), str(args.samples), "--order",
                              str(args.order)], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        degs = [r[f"degree{d}"] for d in range(1, args.order + 1)]
        r["total"] = r["lanczos"] + sum(degs)
        rows.append(r)
        print(f"{name:>9} {r['P']:>7} {k:>3} {r['t_grad_ms']:>9.3f} {r['lanczos']:>8.1f} " +
              " ".join(f"{x:>8.1f}" for x in degs) + f" {r['total']:>8.1f} {r['peak_mib_above_model']:>8.1f}",
              flush=True)
    if args.json:
        from sgd_diagrams.io import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
