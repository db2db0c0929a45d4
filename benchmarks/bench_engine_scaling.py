"""How `series` time and memory grow with N at orders 3, 4, 5 (run by hand; quoted in the README).

Each case runs in a fresh subprocess (so peak RSS is the case's own) on the bundled example landscape:
in-order one-epoch SGD (N = T), in-order SGD with B = 10 and E = 3 (T = 0.3·N), GD (N = T) — these read
the closed forms (shipped up to 4 edges, derived on demand for 5) — and SGD reshuffled over two epochs
with one fixed shuffle seed (T = 2N; the history sweep: one reshuffled epoch is in-order SGD relabelled).
Cases the cost guard refuses are reported as refused with the estimate.
The growth exponent is the least-squares slope of log time against log N over the cases that ran for
at least 0.05 s.

    python benchmarks/bench_engine_scaling.py [--max-seconds 120]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

CASE = r"""
import json, resource, sys, time
import sgd_diagrams as sd
kind, order, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sched = {"sgd": lambda: sd.sgd(n), "sgd-B10-E3": lambda: sd.sgd(n, 10, 3),
         "sgd-reshuffled": lambda: sd.sgd(n, 1, 2, 0), "gd": lambda: sd.gd(n, n)}[kind]()
land = sd.landscape("example")
start = time.perf_counter()
try:
    sd.taylor_series(land, sched, order)
    out = {"seconds": time.perf_counter() - start}
except sd.SgdDiagramsError as exc:
    out = {"refused": str(exc)}
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run(kind: str, order: int, n: int, timeout: float) -> dict:
    try:
        proc = subprocess.run([sys.executable, "-c", CASE, kind, str(order), str(n)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr[-200:]}


def slope(points: list[tuple[int, float]]) -> float | None:
    pts = [(math.log(n), math.log(t)) for n, t in points if t >= 0.05]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-seconds", type=float, default=120.0, help="timeout of one case")
    args = p.parse_args()
    sizes = [100, 1000, 10_000, 100_000]
    for kind in ("sgd", "sgd-B10-E3", "gd", "sgd-reshuffled"):
        for order in (3, 4, 5):
            rows, timed = [], []
            for n in sizes:
                r = run(kind, order, n, args.max_seconds)
                rows.append((n, r))
                if "seconds" in r:
                    timed.append((n, r["seconds"]))
                if "seconds" not in r:
                    break  # larger N will not run either
            cells = []
            for n, r in rows:
                if "seconds" in r:
                    cells.append(f"N={n}: {r['seconds']:.2f} s, {r['peak_mib']:.0f} MiB")
                elif "refused" in r:
                    cells.append(f"N={n}: refused ({r['refused'].split(' would take about ')[-1].split(' (')[0]})")
                else:
                    cells.append(f"N={n}: {'timeout' if 'timeout' in r else 'error'}")
            exponent = slope(timed)
            grow = f"time ~ N^{exponent:.2f}" if exponent is not None else "too few sizes ran for a slope"
            print(f"{kind:<15} order {order}: " + "; ".join(cells) + f"   [{grow}]", flush=True)


if __name__ == "__main__":
    main()
