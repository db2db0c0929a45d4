"""How long the exact in-order SGD / GD counts take when derived at run time (seed 001 Prop 2, App. A.3).

Every count of the structured families comes from :mod:`sgd_diagrams.theory.order_polynomials` (a sum over
weak orders of node times), cached per diagram and process.  This measures, per order k = 1..6, the first
call (every test, train and displacement diagram with k edges derived, both families, in a fresh process)
and the cached call (the same counts again), so the cost of not shipping a table is visible::

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bench_count_derivation.py [--max-order 6]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CHILD = r"""
import sys, time
t0 = time.perf_counter()
from sgd_diagrams.diagrams import enumerate_diagrams
from sgd_diagrams.theory.structured_counts import structured_count
k = int(sys.argv[1])
seen = {}
for kind in ("test", "train", "displacement"):
    for d in enumerate_diagrams(k, kind):
        seen.setdefault(str(d), d)
diagrams = list(seen.values())
t1 = time.perf_counter()
for d in diagrams:
    structured_count(d, "sgd", (100, 5, 3)); structured_count(d, "gd", (100, 30))
t2 = time.perf_counter()
for d in diagrams:
    structured_count(d, "sgd", (1000, 10, 2)); structured_count(d, "gd", (1000, 7))
t3 = time.perf_counter()
print(len(diagrams), t1 - t0, t2 - t1, t3 - t2)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-order", type=int, default=6)
    args = parser.parse_args()
    print("order  diagrams  import+enumerate_s  first_call_s  cached_call_s  (both families)")
    for k in range(1, args.max_order + 1):
        out = subprocess.run([sys.executable, "-c", CHILD, str(k)], capture_output=True, text=True, check=True)
        n, setup, first, cached = out.stdout.split()
        print(f"{k:5d}  {int(n):8d}  {float(setup):18.3f}  {float(first):12.4f}  {float(cached):13.4f}")


if __name__ == "__main__":
    time.perf_counter()
    main()
