"""Resummed predictions vs horizon T (run by hand: ``python benchmarks/bench_resummation.py``).

Order-3 resummed test loss and displacement on the bundled 2-D example, one-epoch SGD (N = T) and
GD (N = 10), T from 10^3 to 10^6.  Schedule construction is timed separately.
"""

from __future__ import annotations

import time

from sgd_diagrams.landscapes import landscape as load_landscape_spec
from sgd_diagrams.schedules import gd, sgd
from sgd_diagrams.theory.resummation import resummed_prediction


def main() -> None:
    landscape = load_landscape_spec("example")
    print(f"{'schedule':<12}{'T':>9}{'build s':>9}{'test-loss s':>13}{'displacement s':>16}")
    for T in (10**3, 10**4, 10**5, 10**6):
        for label, make in (("sgd N=T", lambda T=T: sgd(T, 1, 1)), ("gd N=10", lambda T=T: gd(10, T))):
            t0 = time.perf_counter()
            s = make()
            t1 = time.perf_counter()
            resummed_prediction(landscape, s, 3, [0.001], "test-loss")
            t2 = time.perf_counter()
            resummed_prediction(landscape, s, 3, [0.001], "displacement")
            t3 = time.perf_counter()
            print(f"{label:<12}{T:>9}{t1 - t0:>9.2f}{t2 - t1:>13.2f}{t3 - t2:>16.2f}")


if __name__ == "__main__":
    main()
