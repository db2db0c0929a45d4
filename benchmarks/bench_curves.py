"""Cost of a whole training curve vs the final point alone (issue #22): ``python benchmarks/bench_curves.py``.

The curve reads every prefix's history counts from one sweep (or the Newton form of the closed-form counts
for GD and one-epoch in-order SGD) and computes the diagram values once; the final point computes the counts
at T only.  Same process, same thread, exact landscape ``example`` (2 weights), Taylor form, one η.
Columns: seconds for the final point (``predict``), for the curve with every step t = 0..T recorded
(``steps="all"``, trust per step included) — first call and best of three — and for the counts/values alone
(no trust), and the ratio curve/final of the best times.  The first call of a curve builds the Newton forms of
GD / one-epoch SGD counts (cached per diagram and batch size, like the closed forms); the final point runs
first, so its first call also pays the shared closed-form caches.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

import sgd_diagrams as sd
from sgd_diagrams.diagrams import quantity
from sgd_diagrams.schedules.prefixes import check_steps
from sgd_diagrams.theory.curves import curve_values, taylor_curve_coefficients


def _seconds(fn, repeats: int = 3) -> tuple[float, float]:
    """(first, best of ``repeats``) wall times: the first call pays the per-diagram caches (closed forms,
    Newton forms), the best is the steady cost (small cases take milliseconds: one timing is mostly noise)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], min(times)


def main(cases=None) -> None:
    land = sd.landscape("example")
    rng = np.random.default_rng(0)
    explicit = sd.from_batches(50, [sorted(rng.choice(50, size=int(rng.integers(1, 6)), replace=False).tolist())
                                    for _ in range(200)])
    cases = cases or [
        ("in-order SGD N=T=1e3", sd.sgd(1000), (3, 4, 5)),
        ("in-order SGD N=T=1e5", sd.sgd(100_000), (3, 4, 5)),
        ("GD N=10, T=1e3", sd.gd(10, 1000), (3, 4)),
        ("explicit grid N=50, T=200", explicit, (3,)),
        ("SGD B=2 E=2 N=100 + warmup/cosine + momentum", sd.sgd(100, 2, 2, shuffle_seed=0)
         .with_lr("warmup:10+cosine").with_momentum(0.5), (3,)),
    ]
    print(f"{'case':<48} {'order':>5} {'final s':>15} {'curve s':>15} {'counts s':>9} {'curve/final':>11}")
    print(f"{'':<48} {'':>5} {'first / best':>15} {'first / best':>15} {'best':>9} {'best':>11}")
    for name, schedule, orders in cases:
        for order in orders:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    sd.predict(land, sd.sgd(10), order, [0.001], steps="all")  # warm the closed-form caches
                    final = _seconds(lambda s=schedule, k=order: sd.predict(land, s, k, [0.001]))
                except sd.SgdDiagramsError as exc:
                    print(f"{name:<48} {order:>5}   final point refused: {str(exc)[:60]}", flush=True)
                    continue
                curve = _seconds(lambda s=schedule, k=order: sd.predict(land, s, k, [0.001], steps="all"))
                grid = check_steps("all", schedule.T)
                counts = _seconds(lambda s=schedule, k=order, g=grid: curve_values(taylor_curve_coefficients(
                    land, s, k, quantity("test-loss"), g), np.array([0.001])))
            print(f"{name:<48} {order:>5} {final[0]:>7.3f} {final[1]:>7.3f} {curve[0]:>7.3f} {curve[1]:>7.3f} "
                  f"{counts[1]:>9.3f} {curve[1] / final[1]:>11.2f}", flush=True)


def resummed(cases=None) -> None:
    """Resummed curves: the landscape side once, one geometric history sum per recorded step, so the cost
    grows with the recorded steps (``--every K``) — the second table."""
    land = sd.landscape("example")
    cases = cases or [("in-order SGD N=T=1e3", sd.sgd(1000), 2), ("in-order SGD N=T=1e3", sd.sgd(1000), 3),
                      ("GD N=10, T=1e3", sd.gd(10, 1000), 2),
                      ("SGD N=100 + warmup/cosine + momentum", sd.sgd(100).with_lr("warmup:10+cosine")
                       .with_momentum(0.5), 2)]
    print(f"\n{'resummed case':<40} {'order':>5} {'final s':>15} " + " ".join(
        f"{'R=' + str(r) + ' s':>9} {'x':>6}" for r in (11, 101, "all")))
    print(f"{'':<40} {'':>5} {'first / best':>15}   (x: curve / first final; the curve's prefixes are new schedules)")
    for name, schedule, order in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first, best = _seconds(lambda s=schedule, k=order: sd.predict(land, s, k, [0.001], method="resummed"))
            cells = []
            for every in (schedule.T // 10, schedule.T // 100, 1):
                steps = list(range(0, schedule.T + 1, every))
                took = _seconds(lambda s=schedule, k=order, g=steps: sd.predict(land, s, k, [0.001],
                                                                              method="resummed", steps=g), 1)[1]
                cells.append(f"{took:>9.3f} {took / first:>6.1f}")
        print(f"{name:<40} {order:>5} {first:>7.3f} {best:>7.3f} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        main()
        resummed()
