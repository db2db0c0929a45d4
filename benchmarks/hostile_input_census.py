"""Census of the hostile-input catalog (issue 19): cases tried per surface and how many break the contract.

Runs every case of ``tests/hostile_cases.py`` in this process, each under a 20 s alarm (a hang counts as
broken) and the whole run under a 4 GiB address-space cap (a memory blow-up becomes a MemoryError, counted
as broken, instead of taking the machine down).  Prints one row per surface: cases, broken, slowest case,
and the process's peak resident memory.  Run it on this checkout, and on another one for "before":

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/hostile_input_census.py
    OMP_NUM_THREADS=1 PYTHONPATH=/path/to/main/src python benchmarks/hostile_input_census.py --list-broken
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import hostile_cases as hc  # noqa: E402


def _alarm(*_):
    raise TimeoutError("no answer within 20 s")


def census(root: Path) -> list[dict]:
    ws = hc.Workspace(root)
    signal.signal(signal.SIGALRM, _alarm)
    rows = []
    for case in hc.all_cases():
        start = time.perf_counter()
        signal.alarm(20)
        try:
            why = case.check(ws)
        except BaseException as exc:  # noqa: BLE001 - a crash or hang of the case itself breaks the contract
            if isinstance(exc, KeyboardInterrupt):
                raise
            why = f"{type(exc).__name__}: {str(exc)[:160]}"
        finally:
            signal.alarm(0)
        rows.append({"surface": case.surface, "case": case.name, "broken": why,
                     "seconds": time.perf_counter() - start})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list-broken", action="store_true", help="print each broken case and why")
    parser.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    args = parser.parse_args()
    cap = 4 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import sgd_diagrams

    with tempfile.TemporaryDirectory() as tmp:
        rows = census(Path(tmp))
    by = defaultdict(list)
    for r in rows:
        by[r["surface"]].append(r)
    print(f"sgd_diagrams from {Path(sgd_diagrams.__file__).parent}")
    print(f"{'surface':<18} {'cases':>5} {'broken':>6} {'slowest (s)':>11}")
    for surface, rs in by.items():
        print(f"{surface:<18} {len(rs):>5} {sum(r['broken'] is not None for r in rs):>6} "
              f"{max(r['seconds'] for r in rs):>11.1f}")
    print(f"{'total':<18} {len(rows):>5} {sum(r['broken'] is not None for r in rows):>6} "
          f"{max(r['seconds'] for r in rows):>11.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the whole run: {peak:.0f} MiB")
    if args.list_broken:
        for r in rows:
            if r["broken"] is not None:
                print(f"  [{r['surface']}] {r['case']}: {' '.join(str(r['broken']).split())[:200]}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
