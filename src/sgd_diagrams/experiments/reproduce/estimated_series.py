"""Shared pieces of the model experiments (seed 001 Fig. 6, Cor. 2–4, App. C.2, C.6).

* diagram values estimated at θ0 from K sampled data points (matrix-free, App. C.6), R independent
  replications each, stored through :meth:`Context.cached` so that a killed run resumes;
* the Taylor series of any schedule evaluated on every replication (paired: two schedules' series built
  from the same replication share every estimated value, so their difference is estimated tightly);
* simulated optimizers at one η, stored the same way;
* z-scores, a weighted fit of a difference to a·η² + b·η³, and the figures' shared pieces (ηT top axis,
  ± 2 stderr bands, 95% CIs, zero line and labels, saving).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...landscapes.registry import resolve_landscape
from ...options import Execution
from ...schedules import Schedule
from ...schedules.grid import from_batches
from .base import Context
from .verdicts import Judgement

__all__ = ["MODEL_DIFFERENCES_NOTE", "add_eta_top_axis", "agrees_through", "assess_order_within_range", "band",
           "chain_value", "ci_errorbars", "convnet_sizes_note", "exact_gradient_statistics", "finish_eta_axis",
           "fit_eta2_eta3", "fit_powers", "init_blocks", "init_panels", "landscape_for", "mean_stderr", "pyplot",
           "refined_schedule", "save_pyplot_figure", "series_replicas", "sgd_points", "simulate_point", "summary_of",
           "uvalue_replicas", "z_score"]

MODEL_DIFFERENCES_NOTE = (
    "Architecture per seed 001 App. C.2: two tanh conv layers (kernel 5, stride 2, 10 channels), a dense tanh "
    "layer of width 10 and a dense output layer, Gaussian-Xavier weights pulled back to standard-normal "
    "parameters. Where it differs from the authors' public code (bohrium/perturb): our convolutions use "
    "padding 2 (theirs none; without padding the 8×8 digits would not survive two kernel-5 layers) and our "
    "biases start at 0 (theirs are drawn N(0, 1)).")


def convnet_sizes_note(inits: int, samples: int, trials: int) -> str:
    """The convnet reproductions' note on their run sizes (the paper tested 12 initializations)."""
    return (f"Sizes: the default run is sized for a 2-core CPU shared with other jobs ({inits} initializations, "
            f"K = {samples} samples, {trials} trials per η); the paper tested 12 initializations.")


def landscape_for(ctx: Context, model: str, paper_data: str, init_seed: int | None,
                  **params: Any) -> tuple[str, Any]:
    """``(name, landscape)``: ``model``-``paper_data`` when ``ctx.data_dir`` is given, else the offline digits."""
    data = paper_data if ctx.data_dir is not None else "digits"
    name = f"{model}-{data}"
    if init_seed is not None:
        params["init_seed"] = int(init_seed)
    return name, resolve_landscape(name, data_dir=ctx.data_dir, **params)


def uvalue_replicas(ctx: Context, key: str, landscape: Any, kind: str, order: int, samples: int,
                    seed: int) -> dict[str, list[float]]:
    """Every ``kind`` diagram value with ≤ ``order`` edges, R replications each (cached under ``key``)."""
    from ...estimation.predictions import estimate_uvalues
    from ...landscapes import as_sampled

    def compute() -> dict[str, list[float]]:
        land = as_sampled(landscape)
        if ctx.device != "cpu":
            from ...backends import resolve_device

            land = land.to(resolve_device(ctx.device))
        est = estimate_uvalues(land, kind, order, samples, seed=seed, backend=ctx.backend,
                               progress=ctx.show_progress, force=True)
        return {k: np.asarray(v, dtype=np.float64).tolist() for k, v in est.replicas.items()}

    return ctx.cached(f"uvalues|{key}|{kind}|{order}|{samples}|{seed}", compute)


class _Replica:
    """An evaluator that answers from one replication of stored diagram values."""

    def __init__(self, replicas: dict[str, list[float]], r: int) -> None:
        self.replicas, self.r = replicas, r

    def __call__(self, d: Any, root: str = "loss") -> float:
        return float(self.replicas[str(d)][self.r])


def series_replicas(landscape: Any, schedule: Schedule, order: int, quantity: str,
                    replicas: dict[str, list[float]], etas: Sequence[float]) -> np.ndarray:
    """The order-``order`` Taylor prediction of ``quantity`` on every replication: shape (R, len(etas))."""
    from ...theory.series import taylor_series

    R = len(next(iter(replicas.values())))
    etas = np.asarray(etas, dtype=np.float64)
    return np.stack([np.asarray(taylor_series(landscape, schedule, order, quantity,
                                              evaluator=_Replica(replicas, r))(etas), dtype=np.float64)
                     for r in range(R)])


def mean_stderr(reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over replications and its standard error."""
    reps = np.asarray(reps, dtype=np.float64)
    return reps.mean(axis=0), reps.std(axis=0, ddof=1) / np.sqrt(reps.shape[0])


def chain_value(replicas: dict[str, list[float]]) -> np.ndarray:
    """Replications of G·H·G, the value of the chain diagram r(a(b)) (three distinct samples)."""
    return np.asarray(replicas["r(a(b))"], dtype=np.float64)


def refined_schedule(schedule: Schedule, k: int) -> Schedule:
    """Each step repeated ``k`` times (run at η/k): the ODE/SDE optimizers' k Euler substeps per SGD step."""
    return from_batches(schedule.N, [b for b in schedule.batches for _ in range(k)])


def simulate_point(ctx: Context, key: str, landscape: Any, schedule: Schedule, optimizers: Sequence[str],
                   eta: float, trials: int, seed: int, **options: Any) -> dict[str, Any]:
    """One η of :func:`sgd_diagrams.simulate` (its summary, with the seconds it took), cached under ``key``."""
    import time

    from ...api import simulate

    def compute() -> dict[str, Any]:
        start = time.perf_counter()
        sim = simulate(landscape, schedule, list(optimizers), eta=[float(eta)], trials=trials, seed=seed,
                       execution=Execution(device=ctx.device, backend=ctx.backend, force=True), **options)
        return {"summary": sim.summaries[0], "seconds": time.perf_counter() - start}

    return ctx.cached(f"simulate|{key}|{','.join(optimizers)}|{eta!r}|{trials}|{seed}|{sorted(options.items())}",
                      compute)


def sgd_points(ctx: Context, key: str, landscape: Any, schedule: Schedule, etas: Sequence[float],
               cfg: dict[str, Any], bar: Any, metric: str = "test-loss") -> list[tuple[dict[str, float], float]]:
    """SGD simulated at every η (``cfg["trials"]`` trials, ``cfg["eval_size"]`` test points, cached per η):
    each point's :func:`summary_of` ``metric`` and its seconds; ``bar`` advances once per η."""
    out = []
    for eta in etas:
        point = simulate_point(ctx, key, landscape, schedule, ["sgd"], float(eta), cfg["trials"], ctx.seed,
                               eval_size=cfg["eval_size"])
        out.append((summary_of(point, "sgd", metric), point["seconds"]))
        if bar is not None:
            bar.update(1)
    return out


def init_blocks(ctx: Context, cfg: dict[str, Any], block: Any) -> list[dict[str, Any]]:
    """``block(ctx, cfg, init, bar)`` for every initialization in ``cfg["inits"]``, with one progress bar
    over all the SGD simulations (one per initialization and η).  The run is priced after the first
    initialization's η points: its diagram estimates come before its first simulation, once per
    initialization (pricing from one η point multiplied them by the number of η: 9x over)."""
    bar = ctx.progress(len(cfg["inits"]) * len(cfg["eta"]), "SGD simulations", "η points",
                       price_after=len(cfg["eta"]))
    inits = [block(ctx, cfg, init, bar) for init in cfg["inits"]]
    if bar is not None:
        bar.close()
    return inits


def summary_of(point: dict[str, Any], name: str, metric: str = "test-loss") -> dict[str, float]:
    """``{"mean", "sem"}`` of ``metric`` for optimizer ``name`` (or a difference ``"b - a"``) at one η."""
    block = "differences" if " - " in name else "optimizers"
    s = point["summary"][block][name][metric]
    return {"mean": float(s["mean"]), "sem": float(s["sem"])}


def z_score(a: float, sa: float, b: float, sb: float) -> float:
    """(a − b) / sqrt(sa² + sb²): how many combined standard errors apart two estimates are."""
    scale = float(np.hypot(sa, sb))
    return float((a - b) / scale) if scale > 0 else (0.0 if a == b else float("inf"))


def fit_eta2_eta3(etas: Sequence[float], values: Sequence[float], sems: Sequence[float],
                  powers: Sequence[int] = (2, 3)) -> dict[str, Any]:
    """Weighted least squares of d(η) = a·η² + b·η³ (+ c·η⁴ … with ``powers``): a, b with standard errors.

    ``chi2`` is the weighted residual sum of squares (``dof`` degrees of freedom) — large values say the
    polynomial misses higher orders.
    """
    e = np.asarray(etas, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    w = 1.0 / np.maximum(np.asarray(sems, dtype=np.float64), 1e-300)
    X = np.stack([e**p for p in powers], axis=1)
    Xw, yw = X * w[:, None], y * w
    cov = np.linalg.inv(Xw.T @ Xw)
    coef = cov @ Xw.T @ yw
    chi2 = float(((Xw @ coef - yw) ** 2).sum())
    return {"a": float(coef[0]), "a_se": float(np.sqrt(cov[0, 0])), "b": float(coef[1]),
            "b_se": float(np.sqrt(cov[1, 1])), "powers": list(powers), "coefficients": coef.tolist(),
            "chi2": chi2, "dof": int(len(e) - len(powers))}


def fit_powers(n_eta: int) -> tuple[int, ...]:
    """η², η³ — and η⁴ when the sweep has at least 4 points (so the η² coefficient is not biased by it)."""
    return (2, 3, 4) if n_eta >= 4 else (2, 3)


def agrees_through(eta_t: list[float], z: list[float], threshold: float = 1.96) -> float:
    """The largest ηT such that every ηT up to it has |z| ≤ threshold (0 when the smallest already fails)."""
    through = 0.0
    for x, zz in zip(eta_t, z, strict=True):
        if not abs(zz) <= threshold:
            break
        through = x
    return through


def add_eta_top_axis(ax: Any, T: int) -> None:
    """A top axis reading ηT."""
    top = ax.secondary_xaxis("top", functions=(lambda x: x * T, lambda x: x / T))
    top.set_xlabel("ηT")


def finish_eta_axis(ax: Any, T: int, ylabel: str, zero_color: str = "0.7") -> None:
    """A zero line, the ηT top axis and the η / ``ylabel`` axis labels."""
    ax.axhline(0.0, color=zero_color, lw=0.8)
    add_eta_top_axis(ax, T)
    ax.set_xlabel("learning rate η")
    ax.set_ylabel(ylabel)


def init_panels(plt: Any, count: int) -> tuple[Any, list[Any]]:
    """A figure with one panel per initialization, two a row (unused cells hidden): (figure, the panels)."""
    cols = min(count, 2)
    rows = -(-count // cols)
    fig, grid_axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.4 * rows), squeeze=False)
    for extra in grid_axes.ravel()[count:]:
        extra.set_visible(False)
    return fig, list(grid_axes.ravel()[:count])


def band(ax: Any, x: Any, value: Any, stderr: Any, fmt: str, label: str, alpha: float = 0.2) -> None:
    """A prediction line with its ± 2 stderr band in the line's color."""
    v, e = np.asarray(value), np.asarray(stderr)
    line, = ax.plot(x, v, fmt, label=label)
    ax.fill_between(x, v - 2 * e, v + 2 * e, color=line.get_color(), alpha=alpha)


def ci_errorbars(ax: Any, x: Any, sims: Sequence[dict[str, Any]], key: str = "mean", scale: Any = None,
                 **kw: Any) -> np.ndarray:
    """Simulated ``key`` values with their 95% CIs (± 1.96 SEM), divided by ``scale`` if given; the values."""
    m = np.array([s[key] for s in sims])
    ci = 1.96 * np.array([s["sem"] for s in sims])
    if scale is None:
        ax.errorbar(x, m, yerr=ci, capsize=3, **kw)
    else:
        ax.errorbar(x, m / scale, yerr=ci / scale, capsize=3, **kw)
    return m


def save_pyplot_figure(ctx: Context, plt: Any, fig: Any) -> str:
    """Lay out ``fig``, write it atomically to the reproduction's figure (PNG at 2×), close it; the file name."""
    from ._trials import save_report_figure

    name = save_report_figure(fig, ctx.figure())
    plt.close(fig)
    return name


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (the 'plot' extra)."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        from ...errors import SgdDiagramsError

        raise SgdDiagramsError("the reproductions draw figures with matplotlib; install the 'plot' extra "
                               "(pip install 'sgd-diagrams[plot]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def exact_gradient_statistics(ctx: Context, key: str, landscape_name: str, **params: Any) -> dict[str, float]:
    """G·G, G·H·G, G·∇tr C and tr C at θ0, exactly over the data set (float64), cached under ``key``.

    For a built-in model whose test set is its whole data set (the digits), the data set *is* the population the
    training sets are drawn from, so these are the exact values of Cor. 2–4's contractions (seed 001 App. A.7):
    G = mean gradient, H·G by a Jacobian-vector product, G·∇tr C = d/dε tr C(θ0 + εG) with tr C the per-sample
    gradient variance.
    """
    import torch
    from torch.func import jacrev, jvp

    from ...landscapes import as_sampled

    def compute() -> dict[str, float]:
        land = as_sampled(resolve_landscape(landscape_name, data_dir=ctx.data_dir, dtype=torch.float64, **params))
        rows = torch.arange(land.n_test_points)
        theta = land.init.detach().clone()

        def jac(th):
            return jacrev(lambda t: land.test_losses(t, rows))(th)

        def mean_grad(th):
            return jac(th).mean(0)

        def tr_c(th):
            J = jac(th)
            return (J**2).sum(1).mean() - (J.mean(0) ** 2).sum()

        G = mean_grad(theta)
        _, hg = jvp(mean_grad, (theta,), (G,))
        trc, dtrc = jvp(tr_c, (theta,), (G,))
        return {"GG": float(G @ G), "GHG": float(G @ hg), "G_dot_grad_trC": float(dtrc), "trC": float(trc),
                "points": int(land.n_test_points)}

    return ctx.cached(f"exact-statistics|{key}", compute)


def prediction_points(init: dict[str, Any], prediction: dict[str, Any], key: str, sim_key: str,
                      eta_t: Sequence[float]) -> list[Any]:
    """SGD's ``sim_key`` ± SEM at each ηT of one initialization vs ``prediction[key]`` ± its stderr (effect: what
    the prediction adds to order 1, the prediction without noise corrections)."""
    from .verdicts import Comparison

    label, low = f"init {init.get('init_seed')}", init["orders"]["1"]
    return [Comparison(f"{label}, ηT={x:g}", sim[sim_key], sim["sem"], prediction[key][i], prediction["stderr"][i],
                       prediction[key][i] - low[key][i], x=x)
            for i, (x, sim) in enumerate(zip(eta_t, init["simulated"], strict=True))]


def holm_agreement_range(init: dict[str, Any], prediction: dict[str, Any], key: str, sim_key: str,
                         eta_t: Sequence[float]) -> str:
    """"agrees through ηT = x" for one initialization by the common rule: Holm over all its η (α = 0.05)."""
    from .verdicts import Family, agreement_range

    pts = prediction_points(init, prediction, key, sim_key, eta_t)
    return agreement_range([p.x for p in pts], Family(f"init {init.get('init_seed')}", pts).rejected)


def assess_order_within_range(data: dict[str, Any], order: str, key: str, sim_key: str, upto: float,
                              what: str) -> Judgement:
    """The common rules for "order ``order`` agrees with SGD through ηT ≈ ``upto``" on the convnet: at every
    initialization and η with ηT ≤ ``upto``, SGD's ``what`` ± SEM vs the prediction ± stderr (effect: what order
    ``order`` adds to order 1, the prediction without noise corrections).  Points beyond the range are a
    diagnostic; the agreement range per initialization comes from the Holm rejections over all its η."""
    from .verdicts import Family, Judgement, decide

    claim, beyond, ranges = [], [], []
    for init in data["inits"]:
        pts = prediction_points(init, init["orders"][order], key, sim_key, data["eta_T"])
        claim += [p for p in pts if p.x <= upto + 1e-9]
        beyond += [p for p in pts if p.x > upto + 1e-9]
        ranges.append(f"init {init.get('init_seed')} "
                      f"{holm_agreement_range(init, init['orders'][order], key, sim_key, data['eta_T'])}")
    fams = [Family(f"SGD's {what} vs order {order} within the claimed range ηT ≤ {upto:g}", claim)]
    j = decide(fams[0])
    if beyond:
        fams.append(Family("diagnostic, not part of the verdict: beyond the claimed range", beyond))
    return Judgement(j.verdict, f"{j.reason} Agreement ranges (Holm over all η of an initialization): "
                     f"{'; '.join(ranges)}.", fams)
