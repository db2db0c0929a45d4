"""Does the cost guard tell the truth?  Estimated vs measured CPU seconds for a table of real jobs.

Run by hand (one thread, CPU time, so load from other jobs inflates neither column)::

    OMP_NUM_THREADS=1 python benchmarks/bench_cost_model.py [--only simulation,resummed] [--json out.json]

Every row runs a real job through the public code path and compares the estimate that path uses to refuse
or admit the job with the CPU seconds the job then took:

* **simulation** — the pilot of :func:`sgd_diagrams.optimizers.trials.check_simulation_cost` (chunks of 8 and
  32 trials, 1 and 5 steps, CPU time) against the chunks' measured CPU (``Simulation.seconds``);
* **resummed** — the matrix-free resummed estimate's pilot (:func:`~sgd_diagrams.estimation.krylov.
  resummed_estimate_seconds`, two short runs of 2 replications) against ``details["cpu_seconds"]``;
* **estimation** — :func:`~sgd_diagrams.estimation.predictions.estimation_cost` (a timed per-sample gradient ×
  calibrated units, replaced by a pilot of two short passes above 3 s) against the matrix-free Taylor
  estimators' CPU;
* **series** — :func:`~sgd_diagrams.schedules.histories.history_seconds` (the kernel sweep's model for
  schedules with lr multipliers) against the exact Taylor series' CPU;
* **pretraining** — :meth:`~sgd_diagrams.landscapes.torch_models.TorchLandscape.pretrained`'s pilot (its first
  5 full-batch GD steps in CPU time, the cheapest × the steps left) against the whole pretraining's CPU, both
  as recorded in ``.pretraining`` (and so in ``predict --pretrain``'s output JSON);
* **reproduction** — ``sgd-diagrams reproduce NAME [--quick]``: the run priced from its first finished unit of
  work (CPU before its main loop + the loop's CPU per unit × its units, :class:`~sgd_diagrams.experiments.
  reproduce.base.Context`) against the whole run's CPU, both as recorded in ``NAME.json``'s ``meta``.

Goal: estimate / measured within [1/3, 3] in every row.  The script prints the table and the worst ratio.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch

import sgd_diagrams as sd
from sgd_diagrams.estimation.evaluators import plan_groups
from sgd_diagrams.estimation.krylov import krylov_resummed_estimate
from sgd_diagrams.estimation.predictions import estimate_uvalues, estimation_cost
from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.schedules import sgd
from sgd_diagrams.schedules.grid import lr_schedule
from sgd_diagrams.schedules.histories import history_seconds


def _cpu(fn):
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def simulation_rows(convnet, logistic):
    jobs = [
        ("convnet sgd N=T=10, 3000 trials", convnet, sgd(10, 1, 1), ["sgd"], 3000, None),
        ("convnet sgd N=T=100, 300 trials", convnet, sgd(100, 1, 1), ["sgd"], 300, None),
        ("convnet sgd+gd N=T=10, 1000 trials", convnet, sgd(10, 1, 1), ["sgd", "gd"], 1000, None),
        ("convnet sgd N=T=10, eval-size 32, 10000 trials", convnet, sgd(10, 1, 1), ["sgd"], 10000, 32),
        ("logistic sgd N=T=100, 2000 trials", logistic, sgd(100, 1, 1), ["sgd"], 2000, None),
    ]
    for label, land, schedule, opts, trials, eval_size in jobs:
        sim = sd.simulate(land, schedule, opts, 0.01, trials, eval_size=eval_size)
        yield "simulation", label, sim.seconds["estimated"], sim.seconds["measured"]


def resummed_rows(convnet, logistic):
    jobs = [
        ("convnet order 2, K=2000, k=10", convnet, 2, 2000, 10),
        ("convnet order 3, K=400, k=20", convnet, 3, 400, 20),
        ("convnet order 3, K=1000, k=12", convnet, 3, 1000, 12),
        ("logistic order 2, K=2000, k=20", logistic, 2, 2000, 20),
        ("logistic order 3, K=600, k=12", logistic, 3, 600, 12),
    ]
    for label, land, order, samples, k in jobs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kp = krylov_resummed_estimate(land, sgd(10, 1, 1), order, [0.01], samples=samples, krylov_dim=k,
                                          force=True)
        yield "resummed", f"{label} ({kp.details.get('estimate_from')})", kp.details.get("estimated_seconds"), \
            kp.details["cpu_seconds"]


def estimation_rows(convnet, logistic):
    jobs = [("convnet order 2, K=2000", convnet, 2, 2000), ("convnet order 3, K=1000", convnet, 3, 1000),
            ("logistic order 3, K=2000", logistic, 3, 2000), ("convnet order 2, K=6000", convnet, 2, 6000)]
    for label, land, order, samples in jobs:
        diagrams = [d for k in range(order + 1) for d in sd.enumerate_diagrams(k, "test")]
        estimate = estimation_cost(land, diagrams, plan_groups(samples, order + 1), "loss", 0)
        _, measured = _cpu(lambda land=land, order=order, samples=samples: estimate_uvalues(
            land, "test", order, samples, method="matrix-free", force=True))
        yield "estimation", label, estimate, measured


def series_rows():
    land = sd.landscape("example")
    jobs = [(30, 3), (100, 3), (300, 3), (30, 4), (100, 4)]
    for N, order in jobs:
        schedule = sgd(N, 1, 1)
        schedule = schedule.with_lr(lr_schedule("cosine", schedule.T))
        diagrams = [d for k in range(order + 1) for d in sd.enumerate_diagrams(k, "test")]
        estimate = history_seconds(diagrams, schedule)
        _, measured = _cpu(lambda schedule=schedule, order=order: sd.taylor_series(land, schedule, order,
                                                                                     force=True))
        yield "series", f"example, sgd N={N} cosine lr, order {order}", estimate, measured


def pretraining_rows(convnet, logistic):
    jobs = [("convnet-digits, 100 GD steps", convnet, 100, 0.5), ("convnet-digits, 600 GD steps", convnet, 600, 0.5),
            ("logistic-digits, 3000 GD steps", logistic, 3000, 0.5)]
    for label, land, steps, eta in jobs:
        record = land.pretrained(steps, eta, force=True).pretraining
        yield "pretraining", label, record["estimated_cpu_s"], record["measured_cpu_s"]


def reproduction_rows(convnet, logistic):
    import tempfile

    from sgd_diagrams.experiments.reproduce import run_reproduction

    with tempfile.TemporaryDirectory() as out:
        for name, quick in (("batch-size", True), ("stic", True), ("nongaussian", True), ("convnet-gen-gap", True),
                            ("nongaussian", False), ("cubic-chi", False)):
            meta = run_reproduction(name, out, quick=quick, show_progress=False, force=True)["meta"]
            yield ("reproduction", f"reproduce {name}{' --quick' if quick else ''}", meta["estimated_cpu_s"],
                   meta["measured_cpu_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="simulation,resummed,estimation,series,pretraining,reproduction")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    convnet, logistic = resolve_landscape("convnet-digits"), resolve_landscape("logistic-digits")
    kinds = args.only.split(",")
    makers = {"simulation": lambda: simulation_rows(convnet, logistic),
              "resummed": lambda: resummed_rows(convnet, logistic),
              "estimation": lambda: estimation_rows(convnet, logistic), "series": series_rows,
              "pretraining": lambda: pretraining_rows(convnet, logistic),
              "reproduction": lambda: reproduction_rows(convnet, logistic)}
    rows = []
    print(f"{'kind':<11} {'job':<52} {'estimate s':>10} {'measured s':>10} {'ratio':>6}")
    for kind in kinds:
        for row in makers[kind]():
            kind_, label, estimate, measured = row
            ratio = None if estimate is None or measured <= 0 else estimate / measured
            rows.append({"kind": kind_, "job": label, "estimated_cpu_s": estimate, "measured_cpu_s": measured,
                         "ratio": ratio})
            shown = "n/a" if ratio is None else f"{ratio:.2f}"
            print(f"{kind_:<11} {label:<52} {estimate if estimate is not None else float('nan'):>10.2f} "
                  f"{measured:>10.2f} {shown:>6}", flush=True)
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    worst = max(ratios, key=lambda r: abs(np.log(r))) if ratios else None
    within = sum(1 / 3 <= r <= 3 for r in ratios)
    print(f"{within}/{len(rows)} rows within 3x; worst ratio {worst if worst is None else round(worst, 2)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
