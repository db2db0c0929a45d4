"""Order-1..3 test-loss predictions with error bars beside simulated SGD on the digits convnet (seed 001 Fig. 6).

Diagram values are estimated at θ0 from K sampled images (matrix-free, unbiased, App. C.6) with standard
errors from independent replications; the Taylor predictions at each η carry ±stderr.  SGD is simulated
(``sgd_diagrams.optimizers.simulate``) on the same landscape and schedule, with 95% CIs.

Both sides are shown as the *change* of the test loss from θ0: the simulation subtracts the exact
l(θ0) (its test loss is the mean over a fixed evaluation set), the prediction its own order-0 term
(the estimated l(θ0)), so the plot compares what SGD does rather than a constant offset.  The
absolute numbers are in the ``.json`` too.

Run::

    python -m sgd_diagrams.experiments.convnet_predictions -o docs/convnet_predictions.png

(defaults: N = 10, B = 1, E = 1, order 3, 7 learning rates from 0.005 to 0.1 (ηT up to 1),
100000 samples, 2000 SGD trials per η — about 7 minutes on 2 CPU cores; the estimates are cached).
The numbers go to the ``.json`` beside the picture.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import guarded, parse_numbers
from ..estimation.predictions import estimate_uvalues
from ..io import atomic_write_text
from ..landscapes.registry import resolve_landscape
from ..optimizers import make_optimizer, simulate
from ..schedules import parse_schedule_spec
from ..theory.series import taylor_series

__all__ = ["convnet_predictions", "plot", "main"]


class _Replica:
    def __init__(self, est, r):
        self.est, self.r = est, r

    def __call__(self, d, root="loss"):
        return float(self.est.replicas[str(d)][self.r])


def convnet_predictions(landscape_name: str = "convnet-digits", schedule_spec: str = "sgd:N=10,B=1,E=1",
                        etas: Sequence[float] = (0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1), order: int = 3,
                        samples: int = 100000, trials: int = 2000, seed: int = 0,
                        progress: bool = True) -> dict[str, Any]:
    """Predictions (orders 1..order, mean ± stderr) and simulated SGD (mean, 95% CI) at every η."""
    landscape = resolve_landscape(landscape_name)
    schedule = parse_schedule_spec(schedule_spec)
    etas = np.asarray(etas, dtype=np.float64)
    start = time.perf_counter()
    est = estimate_uvalues(landscape, "test", order, samples, seed=seed, progress=progress, schedule=schedule)
    est_seconds = time.perf_counter() - start
    R = est.plan.replications
    predictions = {}
    l0 = np.asarray(est.replicas["r"], dtype=np.float64).reshape(R, 1)  # each replication's order-0 term
    for k in range(1, order + 1):
        reps = np.stack([taylor_series(landscape, schedule, k, "test-loss", evaluator=_Replica(est, r))(etas)
                         for r in range(R)])
        change = reps - l0
        predictions[k] = {"value": reps.mean(axis=0).tolist(),
                          "stderr": (reps.std(axis=0, ddof=1) / np.sqrt(R)).tolist(),
                          "change": change.mean(axis=0).tolist(),
                          "change_stderr": (change.std(axis=0, ddof=1) / np.sqrt(R)).tolist()}
    with torch.no_grad():
        initial = float(landscape.test_loss(landscape.init.detach()))
    start = time.perf_counter()
    simulated = []
    for eta in etas:
        res = simulate(landscape, schedule, [make_optimizer("sgd")], float(eta), trials, seed=seed)
        tl = res.summary()["optimizers"]["sgd"]["test-loss"]
        simulated.append({"mean": tl["mean"], "sem": tl["sem"], "ci95": tl["ci95"],
                          "change": tl["mean"] - initial,
                          "change_ci95": [tl["ci95"][0] - initial, tl["ci95"][1] - initial]})
    sim_seconds = time.perf_counter() - start
    return {"landscape": landscape_name, "schedule": schedule_spec, "T": schedule.T, "order": order,
            "samples": samples, "replications": R, "blocks_per_replication": est.plan.blocks, "trials": trials,
            "seed": seed, "eta": etas.tolist(), "initial_test_loss": initial,
            "predictions": {str(k): v for k, v in predictions.items()},
            "simulated": simulated,
            "uvalues": {k: {"mean": float(v.mean()), "stderr": float(v.std(ddof=1) / np.sqrt(R))}
                        for k, v in est.replicas.items()},
            "seconds": {"estimation": est_seconds, "simulation": sim_seconds}}


def plot(result: dict[str, Any], path: str | Path) -> None:
    """η on x, change of the test loss on y: simulated SGD with 95% CIs and each order's prediction ± 2 stderr."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    etas = np.asarray(result["eta"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sim = result["simulated"]
    mean = np.array([s["change"] for s in sim])
    lo = mean - np.array([s["change_ci95"][0] for s in sim])
    hi = np.array([s["change_ci95"][1] for s in sim]) - mean
    for k, pred in result["predictions"].items():
        v, e = np.asarray(pred["change"]), np.asarray(pred["change_stderr"])
        line, = ax.plot(etas, v, "-", label=f"order {k} prediction ± 2 stderr")
        ax.fill_between(etas, v - 2 * e, v + 2 * e, color=line.get_color(), alpha=0.2)
    ax.errorbar(etas, mean, yerr=[lo, hi], fmt="ko", capsize=3, zorder=5,
                label=f"simulated SGD ({result['trials']} trials, 95% CI)")
    ax.axhline(0.0, color="0.7", lw=0.8)
    top = ax.secondary_xaxis("top", functions=(lambda x: x * result["T"], lambda x: x / result["T"]))
    top.set_xlabel("ηT")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("test loss after SGD − test loss at θ0")
    ax.set_title(f"{result['landscape']}, {result['schedule']}; diagram values from {result['samples']} "
                 f"samples at θ0", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: compute, write ``<output>.json`` and the picture, print a table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", default="out/convnet_predictions.png")
    p.add_argument("--landscape", default="convnet-digits")
    p.add_argument("--schedule", default="sgd:N=10,B=1,E=1")
    p.add_argument("--eta", default="0.005,0.01,0.02,0.03,0.05,0.07,0.1")
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--samples", type=int, default=100000)
    p.add_argument("--trials", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return guarded("convnet_predictions", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from ..api import check_etas

    etas = check_etas(parse_numbers(args.eta, "--eta")).tolist()
    result = convnet_predictions(args.landscape, args.schedule, etas, args.order, args.samples, args.trials, args.seed)
    atomic_write_text(Path(args.output).with_suffix(".json"), json.dumps(result, indent=1) + "\n")
    plot(result, args.output)
    print(f"test loss at θ0: {result['initial_test_loss']:.5f}; change of the test loss after SGD:")
    header = " ".join(f"{'order ' + k:>22}" for k in result["predictions"])
    print(f"{'eta':>7} {'ηT':>6} {header} {'SGD (95% CI)':>32}")
    for i, eta in enumerate(result["eta"]):
        preds = " ".join(f"{p['change'][i]:>12.5f} ± {p['change_stderr'][i]:<7.5f}"
                         for p in result["predictions"].values())
        s = result["simulated"][i]
        ci = f"[{s['change_ci95'][0]:.5f}, {s['change_ci95'][1]:.5f}]"
        print(f"{eta:>7.3f} {eta * result['T']:>6.3f} {preds} {s['change']:>10.5f} {ci}")
    print(f"seconds: {result['seconds']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
