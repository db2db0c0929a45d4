"""Cost of an estimated (matrix-free) resummed curve vs its final point (issue #22, convnet).

The digits convnet (P = 3290), order 3, test loss, Krylov dimension k, K samples in R replications, N = T = 64
one-epoch SGD under the three schedules of ``reproduce curves`` (constant lr, cosine, warm-up 8 + cosine with
momentum 0.9), η·K₁ = 1.  Per schedule: CPU seconds of the final point (``krylov_resummed_estimate``) and of the
curve recorded every 4 steps (17 steps, ``steps=``); then the three schedules' curves from one shared estimate
(``krylov_resummed_curves``) against three separate curve estimates.  CPU time (``time.process_time``), one
thread, so load from other jobs does not inflate it.  Arguments: ``k K R`` (default 8 400 2):
``python benchmarks/bench_estimated_resummed_curves.py 8 400 2``.

``python benchmarks/bench_estimated_resummed_curves.py statistics``: resummed curves from a statistics record
(mean estimation, order 3, 2000 samples, in-order SGD N = T = 100, every step recorded) against the final point,
with a constant lr and under cosine + momentum 0.5, through the public API a user calls.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from sgd_diagrams.estimation.krylov import CurveTarget, krylov_resummed_curves, krylov_resummed_estimate
from sgd_diagrams.experiments.practical_schedules import first_order_count
from sgd_diagrams.landscapes import as_sampled
from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.schedules import sgd


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main(k: int = 8, samples: int = 400, replications: int = 2) -> None:
    import torch

    torch.set_num_threads(1)
    land = as_sampled(resolve_landscape("convnet-digits"))
    targets = []
    for lr, beta in ((None, 0.0), ("cosine", 0.0), ("warmup:8+cosine", 0.9)):
        s = sgd(64, 1, 1)
        s = s.with_lr(lr) if lr else s
        s = s.with_momentum(beta) if beta else s
        targets.append(CurveTarget(s, np.array([1.0 / first_order_count(s)]), np.arange(0, 65, 4)))
    kw = dict(samples=samples, seed=0, replications=replications, krylov_dim=k, force=True, pilot=False)
    print(f"digits convnet, order 3, k = {k}, K = {samples}, R = {replications}; CPU seconds")
    print("| schedule | final point | curve (17 steps) | curve / final |")
    print("|---|---|---|---|")
    separate = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, t in zip(("constant lr", "cosine", "warm-up + cosine + momentum 0.9"), targets, strict=True):
            final = _cpu(lambda t=t: krylov_resummed_estimate(land, t.schedule, 3, t.etas, **kw))
            curve = _cpu(lambda t=t: krylov_resummed_estimate(land, t.schedule, 3, t.etas, steps=t.steps, **kw))
            separate += curve
            print(f"| {name} | {final:.1f} | {curve:.1f} | {curve / final:.2f} |")
        shared = _cpu(lambda: krylov_resummed_curves(land, targets, 3, "test-loss", **kw))
    print(f"three curves from one estimate: {shared:.1f} s; three separate curve estimates: {separate:.1f} s "
          f"({separate / shared:.2f}x)")


def statistics_curves() -> None:
    import torch

    import sgd_diagrams as sd

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = sd.measure(sd.landscape("mean-estimation"), 3, sd.Sampling(samples=2000, seed=0), kinds=("test",),
                           tensors=True)
        print("statistics record, mean estimation, order 3, K = 2000, N = T = 100; CPU seconds")
        print("| schedule | final point | every step (101) | curve / final |")
        print("|---|---|---|---|")
        for name, s in (("constant lr", sd.sgd(100, 1, 1)),
                        ("cosine + momentum 0.5", sd.sgd(100, 1, 1).with_lr("cosine").with_momentum(0.5))):
            final = _cpu(lambda s=s: sd.predict(stats, s, 3, [0.1, 0.3], method="resummed"))
            curve = _cpu(lambda s=s: sd.predict(stats, s, 3, [0.1, 0.3], method="resummed", steps="all"))
            print(f"| {name} | {final:.3f} | {curve:.3f} | {curve / final:.2f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["statistics"]:
        statistics_curves()
    else:
        main(*(int(a) for a in sys.argv[1:4]))
