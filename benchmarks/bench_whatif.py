"""Measure once, predict everywhere: a 20 × 20 (η, B) what-if grid from saved statistics vs re-estimating.

For a landscape (default the logistic model on digits, matrix-free estimation) and in-order SGD on N = 720
points (the 20 batch sizes dividing 720 up to 48, one epoch), 20 learning rates and the quantities test loss
and gen gap:

* ``measure``: one ``sd.measure`` (test and train diagrams, every replication) — paid once;
* ``predict --stats``: 20 rows × 2 quantities of ``sd.predict(stats, schedule_B, order, etas, q)``
  (what ``sgd-diagrams predict --stats S.json`` runs; load the file included);
* ``whatif``: the whole grid with trust masks (each cell's flag is ``predict``'s) — ``sd.whatif``;
* ``re-estimating``: ``sd.predict(landscape, schedule_B, order, etas, q, sampling=sd.Sampling(samples=K))``
  for each row and quantity (what one would run without a statistics file); ``--rows`` of them are timed and
  scaled to 20.

The predictions from statistics equal the re-estimated ones (checked on the timed rows).

Run: ``python benchmarks/bench_whatif.py [--landscape logistic-digits] [--samples 2000] [--order 2]
[--rows 20]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import sgd_diagrams as sd

BATCHES = [1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 20, 24, 30, 36, 40, 45, 48]  # divisors of 720
QUANTITIES = ("test-loss", "gen-gap")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--landscape", default="logistic-digits")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--order", type=int, default=2)
    p.add_argument("--rows", type=int, default=20, help="rows re-estimated (the rest extrapolated)")
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                   help="wall time, or process CPU time (all threads; steadier on a shared machine)")
    args = p.parse_args()
    global _clock
    _clock = CLOCKS[args.clock]
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass
    warnings.simplefilter("ignore", RuntimeWarning)
    land = sd.landscape(args.landscape)
    etas = np.geomspace(1e-3, 0.3, 20)
    schedules = [sd.sgd(N=720, B=b, E=1) for b in BATCHES]

    t0 = _clock()
    stats = sd.measure(land, args.order, sd.Sampling(samples=args.samples, seed=0), sd.Execution(force=True),
                       kinds=["test", "train"])
    t_measure = _clock() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "S.json"
        stats.save(path)
        size = path.stat().st_size
        t0 = _clock()
        loaded = sd.load_statistics(path)
        from_stats = {(i, q): sd.predict(loaded, s, args.order, etas, q) for i, s in enumerate(schedules)
                      for q in QUANTITIES}
        t_stats = _clock() - t0
    t0 = _clock()
    grid = sd.whatif(stats, schedules[0], args.order, etas, "batch", BATCHES)
    t_whatif = _clock() - t0

    rows = max(1, min(args.rows, len(schedules)))
    t0 = _clock()
    worst = 0.0
    for i in range(rows):
        for q in QUANTITIES:
            direct = sd.predict(land, schedules[i], args.order, etas, q,
                                sampling=sd.Sampling(samples=args.samples, seed=0), execution=sd.Execution(force=True))
            got = from_stats[(i, q)]
            worst = max(worst, float(np.max(np.abs(direct.value - got.value) / (np.abs(direct.value) + 1e-300))))
    t_direct = (_clock() - t0) * len(schedules) / rows

    result = {"clock": args.clock, "landscape": args.landscape, "dim": stats.dim, "estimator": stats.method,
              "samples": args.samples,
              "order": args.order, "replications": stats.replications, "grid": [len(BATCHES), len(etas)],
              "file_bytes": size, "measure_s": round(t_measure, 2), "predict_stats_s": round(t_stats, 3),
              "whatif_s": round(t_whatif, 3), "reestimate_s": round(t_direct, 1), "rows_reestimated": rows,
              "ratio_reestimate_over_predict_stats": round(t_direct / t_stats, 1),
              "ratio_reestimate_over_measure_plus_whatif": round(t_direct / (t_measure + t_whatif), 1),
              "max_relative_difference": worst, "trusted_share": float(np.mean(grid.trusted["test-loss"]))}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
