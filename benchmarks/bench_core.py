"""Benchmarks of the core engine (run by hand: ``python benchmarks/bench_core.py``).

1. Enumerating every test diagram with <= 6 edges (cold caches).
2. ``series`` to order 3 (test loss and gen gap) on one-epoch SGD, B = 1, with
   N = T from 10^2 to 3·10^4, and on GD with T = N, to show how cost grows
   with T.  The landscape is the bundled 2-D example.
3. ``series`` to order 4 (test loss) on in-order SGD (B = 1, E = 1) and GD with
   N = T from 10^3 to 10^5: the counts come from the derived closed forms
   (``sgd_diagrams.theory.structured_counts``) instead of the ~N^k history sweep.

Results are printed as a table; copy them into README.md with the machine.
"""

from __future__ import annotations

import platform
import time

from sgd_diagrams.diagrams import enumeration
from sgd_diagrams.landscapes import landscape as load_landscape_spec
from sgd_diagrams.schedules import gd, histories, sgd, sweep
from sgd_diagrams.theory import taylor_series


def clear_caches() -> None:
    enumeration._enumerate.cache_clear()
    enumeration.rooted_trees.cache_clear()
    sweep.history_sweep.cache_clear()
    histories.row_groups.cache_clear()


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    clear_caches()
    t, counts = timed(lambda: [len(enumeration.enumerate_diagrams(d, "test")) for d in range(7)])
    print(f"enumerate test diagrams with <= 6 edges ({sum(counts)} diagrams, per order {counts}): {t:.2f} s")
    clear_caches()
    t, counts = timed(lambda: [len(enumeration.enumerate_diagrams(d, "train")) for d in range(6)])
    print(f"enumerate train diagrams with <= 5 edges ({sum(counts)} diagrams): {t:.2f} s")

    landscape = load_landscape_spec("example")
    print("\nseries to order 3 (test loss; gen gap), cold history caches")
    print(f"{'schedule':<34}{'T':>8}{'test-loss s':>14}{'gen-gap s':>12}")
    for N in (100, 1000, 10_000, 30_000):
        for sched in (sgd(N, 1, 1, shuffle_seed=0), gd(N, N) if N <= 10_000 else None):
            if sched is None:
                continue
            clear_caches()
            t_test, _ = timed(lambda s=sched: taylor_series(landscape, s, 3, "test-loss"))
            clear_caches()
            t_gap, _ = timed(lambda s=sched: taylor_series(landscape, s, 3, "gen-gap"))
            print(f"{repr(sched):<34}{sched.T:>8}{t_test:>14.2f}{t_gap:>12.2f}")
    sched = sgd(10_000, 10, 5, shuffle_seed=1)
    clear_caches()
    t_test, _ = timed(lambda: taylor_series(landscape, sched, 3, "test-loss"))
    print(f"{repr(sched):<34}{sched.T:>8}{t_test:>14.2f}")
    order_four_rows(landscape)


def order_four_rows(landscape) -> None:
    """Order-4 test loss on the structured schedules, whose counts are read from the shipped table."""
    print("\nseries to order 4 (test loss), in-order SGD and GD, counts from the shipped closed forms")
    print(f"{'schedule':<42}{'T':>8}{'test-loss s':>14}")
    for N in (1000, 10_000, 100_000):
        for sched in (sgd(N, 1, 1), gd(N, N)):
            clear_caches()
            t_test, _ = timed(lambda s=sched: taylor_series(landscape, s, 4, "test-loss"))
            print(f"{repr(sched):<42}{sched.T:>8}{t_test:>14.2f}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--order-four"]:  # only the rows of part 3
        order_four_rows(load_landscape_spec("example"))
    else:
        main()
