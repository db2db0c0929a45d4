"""Scale-out benchmark: simulation trials/s and estimation cost on whatever device and backend is here.

Run by hand (``python benchmarks/bench_scale.py [--device auto] [--ray]``); results are quoted in the
README with the machine.  Measures, on the digits convnet (N = T = 10, SGD):

* trials/s end to end with the whole evaluation set (1797 images) and with a per-trial test subsample
  (``eval_size``), and the variance split the subsample adds;
* the same run on the Ray backend (``--ray``; a local instance with every core);
* one per-sample gradient's time, the unit the cost estimates use.
"""

from __future__ import annotations

import argparse
import json
import time

import sgd_diagrams as sd
from sgd_diagrams.backends import resolve_device
from sgd_diagrams.landscapes.sampled import seconds_per_sample_gradient


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--trials", type=int, default=2000)
    p.add_argument("--ray", action="store_true", help="also time the Ray backend")
    args = p.parse_args()
    device = resolve_device(args.device)
    land = sd.landscape("convnet-digits").to(device)
    sched = sd.sgd(N=10)
    rows = {"device": device, "dim": land.dim, "trials": args.trials,
            "seconds_per_sample_gradient": seconds_per_sample_gradient(land)}
    for label, kwargs in (("full evaluation", {}), ("eval_size=128", {"eval_size": 128}),
                          ("eval_size=32", {"eval_size": 32})):
        sim, seconds = _timed(lambda kwargs=kwargs: sd.simulate(land, sched, ["sgd"], eta=0.05, trials=args.trials,
                                                                seed=0, execution=sd.Execution(device=device),
                                                                **kwargs))
        test = sim.summaries[0]["optimizers"]["sgd"]["test-loss"]
        rows[label] = {"seconds": round(seconds, 2), "trials_per_s": round(args.trials / seconds, 1),
                       "mean": test["mean"], "sem": test["sem"], "variance_split": test.get("variance_split")}
    if args.ray:
        sim, seconds = _timed(lambda: sd.simulate(land, sched, ["sgd"], eta=0.05, trials=args.trials, seed=0,
                                                  chunk=max(args.trials // 8, 1),
                                                  execution=sd.Execution(backend="ray")))
        rows["ray (8 chunks)"] = {"seconds": round(seconds, 2), "trials_per_s": round(args.trials / seconds, 1)}
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
