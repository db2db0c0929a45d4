"""Practical schedules on the digits convnet: predicted vs simulated test loss (issue 14, "Simulation").

Three configurations practitioners use, each an η sweep on the ``convnet-digits`` landscape (seed 001
App. C.2, data distribution = the 1797 digits, test loss = the mean over all of them):

1. ``cosine`` — cosine decay, ``sgd:N=64,B=1,E=1`` with m_t = (1 + cos(πt/T))/2;
2. ``warmup-momentum`` — linear warm-up over 16 steps then constant, heavy-ball momentum β = 0.9
   (PyTorch's convention), ``sgd:N=64,B=1,E=1``;
3. ``step-batch`` — step decay ×0.1 at the epoch boundary with batches of 4, ``sgd:N=128,B=4,E=2``.

**Measure once, predict everywhere.**  The diagram values (seed 001 Def. 3) depend on θ0 only, so they are
estimated ONCE from sampled images (:func:`sgd_diagrams.measure`, matrix-free estimators of App. C.6, R
independent replications) and every configuration, its constant-lr counterpart and every η are predicted
from that one :class:`~sgd_diagrams.estimation.statistics.Statistics` (Theorem 1 with the kernel-weighted
history counts of ``docs/momentum.md``).  Each replication gives its own prediction, so the bands are
mean ± 1.96·stderr over replications.  SGD itself is simulated (:func:`sgd_diagrams.simulate` with the
schedule carrying the lr multipliers and β) with 95% CIs; each trial's test loss is evaluated on its own
``eval_size`` random test images (unbiased; the CI includes that noise).

Both sides are compared as the *change* of the test loss from θ0: the simulation subtracts the exact
l(θ0), each prediction replication its own order-0 term, so the comparison is not blurred by the
(correlated) error of estimating l(θ0).

The η grid of a configuration is chosen so that η·K₁ takes the same values in every panel, where
K₁ = Σ_s Σ_{t≥s} m_t β^{t−s} is the order-1 history count (test loss ≈ l(θ0) − η·K₁·|G|²): the grids are
equally far into the series in every panel; the top axis shows ηT.

Run (the committed docs/practical_schedules.png/.json come from the first line)::

    python -m sgd_diagrams.experiments.practical_schedules --out docs
    python -m sgd_diagrams.experiments.practical_schedules --out out/practical --quick

Default: 40000 samples (R = 20), 6 learning rates per configuration, 2000 trials each with 256 test
images per trial — a few CPU minutes.  ``--quick`` (1000 samples, R = 5, 2 learning rates, 200 trials) is for
tests.  Every simulated η point and the statistics are saved under ``OUT/.partial`` as they finish, so a
killed run resumes; the outputs are written atomically and the partial folder removed at the end.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SgdDiagramsError, guarded
from ..io import atomic_write_text
from ..options import Execution, Sampling
from .reproduce.base import Context, clear_partial

__all__ = ["CONFIGURATIONS", "Configuration", "Settings", "first_order_count", "practical_schedules", "plot", "main"]

NAME = "practical_schedules"
LANDSCAPE = "convnet-digits"
ORDER = 3
Z_AGREE = 2.0  # |prediction − SGD| ≤ 2 combined standard errors counts as agreement
CURVE_POINTS = 60  # learning rates at which the predicted polynomials are drawn


@dataclass(frozen=True)
class Configuration:
    """One practical training configuration: in-order SGD with lr multipliers and heavy-ball momentum."""

    key: str
    title: str
    N: int
    B: int
    E: int
    lr: str
    momentum: float = 0.0

    def schedule(self, constant: bool = False) -> Any:
        """The schedule (with its lr and momentum), or its constant-lr plain-SGD counterpart."""
        from ..schedules import sgd

        base = sgd(self.N, self.B, self.E)
        return base if constant else base.with_lr(self.lr).with_momentum(self.momentum)

    @property
    def spec(self) -> str:
        extra = f", momentum {self.momentum:g}" if self.momentum else ""
        return f"sgd:N={self.N},B={self.B},E={self.E}, lr {self.lr}{extra}"


CONFIGURATIONS = (
    Configuration("cosine", "cosine decay", 64, 1, 1, "cosine"),
    Configuration("warmup-momentum", "warm-up 16 steps + momentum 0.9", 64, 1, 1, "warmup:16", 0.9),
    Configuration("step-batch", "step decay ×0.1 at epoch 2, B = 4", 128, 4, 2, "step:0.1@32"),
)


@dataclass(frozen=True)
class Settings:
    """How much work a run does (``quick`` or default mode)."""

    samples: int
    replications: int
    eta_k1: tuple[float, ...]  # values of η·K₁ swept in every configuration
    trials: int
    eval_size: int

    @staticmethod
    def for_mode(quick: bool) -> Settings:
        if quick:
            return Settings(samples=1000, replications=5, eta_k1=(0.1, 0.5), trials=200, eval_size=64)
        return Settings(samples=40000, replications=20, eta_k1=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5), trials=2000,
                        eval_size=256)


def first_order_count(schedule: Any) -> float:
    """K₁ = Σ_s k(s, T) with k(s, u) = Σ_{t=s}^{u−1} m_t β^{t−s}: the order-1 history count (docs/momentum.md).

    The order-η test loss is −η·K₁·G_μG^μ for any batch size, so η·K₁ measures how far a run has gone.
    """
    m = np.asarray(schedule.lr_multipliers(), dtype=np.float64)
    beta = float(schedule.momentum)
    total, buffered = 0.0, 0.0
    for t in range(len(m)):  # Σ_s Σ_{t≥s} m_t β^{t−s} = Σ_t m_t Σ_{s≤t} β^{t−s}
        buffered = beta * buffered + 1.0
        total += m[t] * buffered
    return total


def _predict(stats: Any, config: Configuration, etas: np.ndarray, constant: bool = False) -> dict[str, Any]:
    """Orders 1..3 of the test loss's change from θ0 (mean, stderr over replications) and mean coefficients."""
    from ..estimation.statistics import statistics_prediction

    schedule = config.schedule(constant)
    est = stats.estimates("test")
    l0 = np.asarray(est.replicas["r"], dtype=np.float64).reshape(-1, 1)  # each replication's order-0 term
    R = l0.shape[0]
    orders: dict[str, Any] = {}
    coefficients = None
    for k in range(1, ORDER + 1):
        pred = statistics_prediction(stats, schedule, k, etas, "test-loss")
        change = np.asarray(pred.replicas, dtype=np.float64) - l0
        orders[str(k)] = {"change": change.mean(axis=0).tolist(),
                          "stderr": (change.std(axis=0, ddof=1) / np.sqrt(R)).tolist()}
        coefficients = [float(np.asarray(c)) for c in pred.coefficients]
    return {"orders": orders, "coefficients": coefficients}


def _simulate(landscape: Any, config: Configuration, eta: float, settings: Settings, seed: int) -> dict[str, Any]:
    from ..api import simulate
    sim = simulate(landscape, config.schedule(), ["sgd"], [eta], settings.trials, seed=seed,
                   eval_size=settings.eval_size, chunk=min(settings.trials, 500), execution=Execution(force=True))
    tl = sim.summaries[0]["optimizers"]["sgd"]["test-loss"]
    return {"mean": tl["mean"], "sem": tl["sem"], "n": tl["n"], "nonfinite": tl["nonfinite"]}


def agreement(pred: dict[str, Any], sim: list[dict[str, Any]], eta_T: Sequence[float]) -> dict[str, Any]:
    """Per order: z-scores (prediction − SGD)/combined SE and the largest ηT up to which all |z| ≤ 2."""
    out = {}
    for k, p in pred["orders"].items():
        z = [(pc - s["change"]) / float(np.hypot(ps, s["sem"]))
             for pc, ps, s in zip(p["change"], p["stderr"], sim, strict=True)]
        upto = None
        for et, zi in zip(eta_T, z, strict=True):
            if abs(zi) > Z_AGREE:
                break
            upto = et
        out[k] = {"z": z, "agrees_up_to_etaT": upto}
    return out


def practical_schedules(ctx: Context) -> dict[str, Any]:
    """Measure once, predict the three configurations (and their constant-lr counterparts), simulate SGD."""
    from ..api import load_statistics, measure
    from ..landscapes.registry import resolve_landscape

    settings = Settings.for_mode(ctx.quick)
    landscape = resolve_landscape(LANDSCAPE)
    import torch

    with torch.no_grad():
        initial = float(landscape.test_loss(landscape.init.detach()))
    stats_path = ctx.partial_dir / "statistics.json"
    start = time.perf_counter()
    if stats_path.exists():
        stats = load_statistics(stats_path)
    else:
        stats = measure(landscape, ORDER, Sampling(samples=settings.samples, seed=ctx.seed,
                                                   replications=settings.replications),
                        Execution(progress=ctx.show_progress, force=True), kinds=("test",))
        ctx.partial_dir.mkdir(parents=True, exist_ok=True)
        stats.save(stats_path)
    seconds = {"measure": time.perf_counter() - start, "predict": 0.0, "simulate": 0.0}
    results = []
    bar = ctx.progress(len(CONFIGURATIONS) * len(settings.eta_k1), "simulating SGD", "eta")
    for config in CONFIGURATIONS:
        schedule = config.schedule()
        K1 = first_order_count(schedule)
        etas = np.array([x / K1 for x in settings.eta_k1])
        start = time.perf_counter()
        curve_eta = np.linspace(0.0, etas[-1], CURVE_POINTS + 1)[1:]  # the polynomials drawn smoothly
        both = np.concatenate([etas, curve_eta])
        pred, curve = _split(_predict(stats, config, both), len(etas))
        const, const_curve = _split(_predict(stats, config, both, constant=True), len(etas))
        seconds["predict"] += time.perf_counter() - start
        start = time.perf_counter()
        sim = []
        for eta in etas:
            key = json.dumps({"config": config.spec, "eta": float(eta), "trials": settings.trials,
                              "eval_size": settings.eval_size, "seed": ctx.seed})
            s = ctx.cached(key, lambda eta=eta, config=config: _simulate(landscape, config, float(eta), settings,
                                                                         ctx.seed))
            s["change"] = s["mean"] - initial
            s["change_ci95"] = [s["change"] - 1.96 * s["sem"], s["change"] + 1.96 * s["sem"]]
            sim.append(s)
            if bar is not None:
                bar.update(1)
        seconds["simulate"] += time.perf_counter() - start
        eta_T = (etas * schedule.T).tolist()
        K1_const = first_order_count(config.schedule(constant=True))
        results.append({
            "key": config.key, "title": config.title, "schedule": config.spec, "N": config.N, "B": config.B,
            "E": config.E, "T": schedule.T, "lr": config.lr, "lr_multipliers": list(schedule.lr_multipliers()),
            "momentum": config.momentum, "K1": K1, "eta": etas.tolist(), "eta_T": eta_T,
            "eta_K1": list(settings.eta_k1), "predictions": pred["orders"], "coefficients": pred["coefficients"],
            "simulated": sim, "agreement": agreement(pred, sim, eta_T),
            "constant_lr": {"K1": K1_const, "predictions": const["orders"], "coefficients": const["coefficients"],
                            "normalized_coefficients": _normalized(const["coefficients"], K1_const),
                            "curve": const_curve},
            "curve": {"eta": curve_eta.tolist(), **curve},
            "normalized_coefficients": _normalized(pred["coefficients"], K1),
        })
    if bar is not None:
        bar.close()
    return {"landscape": LANDSCAPE, "order": ORDER, "quick": ctx.quick, "seed": ctx.seed,
            "samples": settings.samples, "replications": stats.replications, "estimator": stats.method,
            "trials": settings.trials, "eval_size": settings.eval_size, "initial_test_loss": initial,
            "z_agree": Z_AGREE, "configurations": results, "seconds": seconds}


def _split(pred: dict[str, Any], n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Predictions at the first ``n`` learning rates (the simulated ones) and at the rest (the drawn curve)."""
    head = {"orders": {k: {f: v[:n] for f, v in p.items()} for k, p in pred["orders"].items()},
            "coefficients": pred["coefficients"]}
    tail = {"orders": {k: {f: v[n:] for f, v in p.items()} for k, p in pred["orders"].items()}}
    return head, tail


def _normalized(coefficients: Sequence[float], K1: float) -> list[float]:
    """c_k / K₁^k for k ≥ 1: the coefficients per unit of first-order progress η·K₁."""
    return [float(c) / K1**k for k, c in enumerate(coefficients) if k >= 1]


def plot(result: dict[str, Any], path: str | Path) -> None:
    """Three panels: order 1–3 bands (mean ± 1.96 stderr) and SGD's 95% CIs over η, ηT on the top axis."""
    try:
        import matplotlib
    except ImportError:
        raise SgdDiagramsError("plotting needs matplotlib; install the extra: "
                               "pip install 'sgd-diagrams[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = result["configurations"]
    fig, axes = plt.subplots(1, len(configs), figsize=(5.2 * len(configs), 4.6))
    colors = {"1": "tab:blue", "2": "tab:orange", "3": "tab:green"}
    for ax, c in zip(np.atleast_1d(axes), configs, strict=True):
        etas = np.asarray(c["eta"])
        grid = np.concatenate([[0.0], c["curve"]["eta"]])
        for k, p in c["curve"]["orders"].items():
            v = np.concatenate([[0.0], p["change"]])
            e = np.concatenate([[0.0], p["stderr"]])
            ax.plot(grid, v, "-", color=colors.get(k), label=f"order {k} (±1.96 SE)")
            ax.fill_between(grid, v - 1.96 * e, v + 1.96 * e, color=colors.get(k), alpha=0.2)
        const = np.concatenate([[0.0], c["constant_lr"]["curve"]["orders"][str(result["order"])]["change"]])
        ax.plot(grid, const, ":", color="0.5", label=f"order {result['order']}, same η, constant lr, no momentum")
        mean = np.array([s["change"] for s in c["simulated"]])
        half = 1.96 * np.array([s["sem"] for s in c["simulated"]])
        ax.errorbar(etas, mean, yerr=half, fmt="ko", capsize=3, zorder=5,
                    label=f"SGD, {result['trials']} trials (95% CI)")
        ax.axhline(0.0, color="0.8", lw=0.8)
        T = c["T"]
        top = ax.secondary_xaxis("top", functions=(lambda x, T=T: x * T, lambda x, T=T: x / T))
        top.set_xlabel("ηT")
        ax.set_xlabel("learning rate η")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.set_title(f"{c['title']}\n{c['schedule']}", fontsize=9)
        lo = min(mean.min() - half.max(), 0.0)
        hi = max(mean.max() + half.max(), 0.0)
        pad = 0.5 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlim(0.0, 1.04 * etas[-1])
    axes[0].set_ylabel("test loss after SGD − test loss at θ0")
    axes[-1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{result['landscape']}: predictions from one measurement ({result['samples']} samples, "
                 f"R = {result['replications']}) vs simulated SGD", fontsize=10)
    from ..plots import save_laid_out

    try:
        save_laid_out(fig, path)
    finally:
        plt.close(fig)


def _table(result: dict[str, Any]) -> str:
    lines = [f"test loss at θ0: {result['initial_test_loss']:.5f}; change of the test loss after SGD"]
    for c in result["configurations"]:
        lines.append(f"\n{c['title']} ({c['schedule']}, T={c['T']}, K1={c['K1']:.1f})")
        lines.append(f"{'eta':>9} {'ηT':>6} " + " ".join(f"{'order ' + k:>19}" for k in c["predictions"])
                     + f" {'SGD ± SE':>19}")
        for i, eta in enumerate(c["eta"]):
            preds = " ".join(f"{p['change'][i]:>9.5f} ± {p['stderr'][i]:<7.5f}" for p in c["predictions"].values())
            s = c["simulated"][i]
            lines.append(f"{eta:>9.5f} {c['eta_T'][i]:>6.3f} {preds} {s['change']:>9.5f} ± {s['sem']:<7.5f}")
        agree = ", ".join(f"order {k}: " + ("none" if a["agrees_up_to_etaT"] is None
                                            else f"{a['agrees_up_to_etaT']:.3g}") for k, a in c["agreement"].items())
        lines.append(f"agrees (|z| <= {result['z_agree']:g}) up to ηT = {agree}")
    lines.append("\nseconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run (resumably), write ``OUT/practical_schedules.json`` and ``.png``, print a table."""
    p = argparse.ArgumentParser(prog="python -m sgd_diagrams.experiments.practical_schedules",
                                description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output folder (practical_schedules.json / .png)")
    p.add_argument("--quick", action="store_true", help="a run of under a minute (for tests)")
    p.add_argument("--seed", type=int, default=0, help="seed of the measurement and the simulations")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared CPU more threads only spin; the numbers do not change)")
    args = p.parse_args(argv)
    return guarded("practical_schedules", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise SgdDiagramsError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.threads < 1:
        raise SgdDiagramsError(f"--threads must be a positive integer, got {args.threads}")
    import torch

    out = Path(args.out)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run_in(args, out)
    finally:
        torch.set_num_threads(threads)


def _run_in(args: argparse.Namespace, out: Path) -> int:
    ctx = Context(NAME, out, quick=args.quick, seed=args.seed, show_progress=not args.no_progress)
    start_cpu, start = time.process_time(), time.perf_counter()
    result = practical_schedules(ctx)
    result["seconds"]["wall_total"] = time.perf_counter() - start
    result["seconds"]["cpu_total"] = time.process_time() - start_cpu
    result["command"] = ("python -m sgd_diagrams.experiments.practical_schedules --out " + str(args.out)
                         + (" --quick" if args.quick else "") + (f" --seed {args.seed}" if args.seed else ""))
    atomic_write_text(out / f"{NAME}.json", json.dumps(result, indent=1) + "\n")
    plot(result, out / f"{NAME}.png")
    clear_partial(ctx)
    print(_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
