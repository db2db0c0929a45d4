"""Order-1..3 test-loss predictions with error bars beside simulated SGD on the digits convnet (seed 001 Fig. 6).

Diagram values are estimated at θ0 from K sampled images (matrix-free, unbiased, App. C.6) with standard
errors from independent replications; the Taylor predictions at each η carry ±stderr.  SGD is simulated
(``sgd_diagrams.optimizers.simulate``) on the same landscape and schedule, with 95% CIs.

Run::

    python -m sgd_diagrams.experiments.convnet_predictions -o docs/convnet_predictions.png

(defaults: N = 10, B = 1, E = 1, order 3, 6 learning rates from 0.001 to 0.025, 800 samples,
2000 SGD trials per η — about 8 minutes on 2 CPU cores; the estimates are cached).  The numbers go to
the ``.json`` beside the picture.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_text
from ..landscapes.registry import resolve_landscape
from ..optimizers import make_optimizer, simulate
from ..schedules import parse_schedule_spec
from ..theory.estimated_predictions import estimate_uvalues
from ..theory.series import taylor_series

__all__ = ["convnet_predictions", "plot", "main"]


class _Replica:
    def __init__(self, est, r):
        self.est, self.r = est, r

    def __call__(self, d, root="loss"):
        return float(self.est.replicas[str(d)][self.r])


def convnet_predictions(landscape_name: str = "convnet-digits", schedule_spec: str = "sgd:N=10,B=1,E=1",
                        etas: Sequence[float] = (0.001, 0.005, 0.01, 0.015, 0.02, 0.025), order: int = 3,
                        samples: int = 800, trials: int = 2000, seed: int = 0,
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
    for k in range(1, order + 1):
        reps = np.stack([taylor_series(landscape, schedule, k, "test-loss", evaluator=_Replica(est, r))(etas)
                         for r in range(R)])
        predictions[k] = {"value": reps.mean(axis=0).tolist(),
                          "stderr": (reps.std(axis=0, ddof=1) / np.sqrt(R)).tolist()}
    start = time.perf_counter()
    simulated = []
    for eta in etas:
        res = simulate(landscape, schedule, [make_optimizer("sgd")], float(eta), trials, seed=seed)
        tl = res.summary()["optimizers"]["sgd"]["test_loss"]
        simulated.append({"mean": tl["mean"], "sem": tl["sem"], "ci95": tl["ci95"]})
    sim_seconds = time.perf_counter() - start
    return {"landscape": landscape_name, "schedule": schedule_spec, "T": schedule.T, "order": order,
            "samples": samples, "replications": R, "blocks_per_replication": est.plan.blocks, "trials": trials,
            "seed": seed, "eta": etas.tolist(), "predictions": {str(k): v for k, v in predictions.items()},
            "simulated": simulated,
            "uvalues": {k: {"mean": float(v.mean()), "stderr": float(v.std(ddof=1) / np.sqrt(R))}
                        for k, v in est.replicas.items()},
            "seconds": {"estimation": est_seconds, "simulation": sim_seconds}}


def plot(result: dict[str, Any], path: str | Path) -> None:
    """η on x, test loss on y: simulated SGD with 95% CIs and each order's prediction ± 2 stderr."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    etas = np.asarray(result["eta"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sim = result["simulated"]
    mean = np.array([s["mean"] for s in sim])
    lo = mean - np.array([s["ci95"][0] for s in sim])
    hi = np.array([s["ci95"][1] for s in sim]) - mean
    ax.errorbar(etas, mean, yerr=[lo, hi], fmt="ko", capsize=3,
                label=f"simulated SGD ({result['trials']} trials, 95% CI)")
    for k, pred in result["predictions"].items():
        v, e = np.asarray(pred["value"]), np.asarray(pred["stderr"])
        line, = ax.plot(etas, v, "-", label=f"order {k} prediction ± 2 stderr")
        ax.fill_between(etas, v - 2 * e, v + 2 * e, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("test loss after SGD")
    ax.set_title(f"{result['landscape']}, {result['schedule']} (T={result['T']}); "
                 f"values from {result['samples']} samples", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: compute, write ``<output>.json`` and the picture, print a table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", default="docs/convnet_predictions.png")
    p.add_argument("--landscape", default="convnet-digits")
    p.add_argument("--schedule", default="sgd:N=10,B=1,E=1")
    p.add_argument("--eta", default="0.001,0.005,0.01,0.015,0.02,0.025")
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--samples", type=int, default=800)
    p.add_argument("--trials", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    etas = [float(x) for x in args.eta.split(",")]
    result = convnet_predictions(args.landscape, args.schedule, etas, args.order, args.samples, args.trials, args.seed)
    atomic_write_text(Path(args.output).with_suffix(".json"), json.dumps(result, indent=1) + "\n")
    plot(result, args.output)
    header = " ".join(f"{'order ' + k:>22}" for k in result["predictions"])
    print(f"{'eta':>7} {'ηT':>6} {header} {'SGD (95% CI)':>30}")
    for i, eta in enumerate(result["eta"]):
        preds = " ".join(f"{p['value'][i]:>12.5f} ± {p['stderr'][i]:<7.4f}" for p in result["predictions"].values())
        s = result["simulated"][i]
        ci = f"[{s['ci95'][0]:.5f}, {s['ci95'][1]:.5f}]"
        print(f"{eta:>7.3f} {eta * result['T']:>6.3f} {preds} {s['mean']:>10.5f} {ci}")
    print(f"seconds: {result['seconds']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
