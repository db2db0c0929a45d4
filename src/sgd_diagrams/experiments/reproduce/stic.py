"""``stic`` — choosing an l2 strength from statistics at initialization (seed 001 Cor. 6, Fig. 13 right).

STIC estimates the test loss after T steps of GD as the training loss plus Corollary 6's generalization gap
tr(Ĉ (I − (I − ηĤ)^T) Ĥ⁻¹)/N, with Ĉ and Ĥ measured on the training set at initialization; TIC uses the
T → ∞ gap tr(ĈĤ⁻¹)/N.  Each picks, per training set, the l2 strength λ whose estimate is smallest.

Problem (MEAN ESTIMATION with its true mean μ away from the initialization θ0 = 0, App. C.1): the population
test loss is ½H(θ − μ)², each point's loss ½H(θ − μ)² + xS(θ − μ) with x ~ N(0, 1) (C = S²), and GD runs T
steps on the training loss plus ½λθ² (an l2 penalty toward θ0).  For every λ on a grid and every training
set we run the GD recursion itself (vectorized over trials and λ); the expected test loss after training
at each λ comes from the engine (GD on the penalized loss is GD on MEAN ESTIMATION with curvature H + λ,
shifted).  We compare the test losses reached by STIC's choice, TIC's, plain GD (λ = 0; AIC's gap dim/N does
not depend on λ, so AIC picks what the training loss picks) and the oracle's (the λ of least expected loss).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import api as sd
from ...landscapes.registry import resolve_landscape
from ...schedules import gd
from .base import Context, Outcome
from .paired import summary, z_score
from .verdicts import Comparison, Family, Judgement, decide, from_summary, majority_verdict

__all__ = ["assess", "check", "run"]

TITLE = "STIC picks the l2 strength from statistics at initialization (Cor. 6, Fig. 13 right)"
CLAIM = (
    "Seed 001, Corollary 6 and §\"Both flat and sharp minima overfit less\": the generalization gap of T-step GD "
    "is Σ (C/(NH))(I − exp(−ηTH)) + o(η); \"Unlike AIC, our more general expression is descendably smooth, may "
    "be used with MAP or ELBO tasks ... and does not assume a well-specified model.\"  Fig. 13 (right): "
    "\"Blue intervals show regularization using Corollary 6. When the blue intervals fall below the black bar, "
    "this proposed method outperforms plain GD. For MEAN ESTIMATION with fixed C and a range of Hs, initialized "
    "a fixed distance *away* from the true minimum, descent on an l2 penalty coefficient λ improves on plain GD "
    "for most Hessians. The new method does not always outperform GD, because λ is not perfectly tuned "
    "according to STIC but instead descended on for finite ηT.\"  Here λ *is* tuned according to STIC (a grid "
    "search per training set), and compared with TIC (Dixon and Ward 2018), plain GD and the oracle."
)
S, N, T, ETA, MU = 10.0, 10, 100, 0.05, 3.0
Z_LIMIT = 3.0


def _settings(ctx: Context) -> dict[str, Any]:
    grid = [0.0] + np.logspace(-3, np.log10(20.0), 36 if ctx.quick else 60).tolist()
    if ctx.quick:
        return {"H": [0.1, 0.3, 1.0, 3.0], "trials": 3000, "grid": grid}
    return {"H": [0.03, 0.1, 0.3, 1.0, 3.0, 10.0], "trials": 40000, "grid": grid}


def gd_at_fixed_lambdas(H: float, lambdas: np.ndarray, x: np.ndarray) -> np.ndarray:
    """θ_T − μ after T GD steps on ½H(θ−μ)² + x̄S(θ−μ) + ½λθ² from θ0 = 0, per trial (rows of x) and λ."""
    xbar = x.mean(axis=1)[:, None]
    lam = lambdas[None, :]
    phi = np.full((x.shape[0], lambdas.size), -MU)
    for _ in range(T):
        phi = phi - ETA * ((H + lam) * phi + lam * MU + S * xbar)
    return phi


def expected_test_loss(H: float, lam: float) -> dict[str, float]:
    """The engine's E[test loss] after GD at fixed λ: GD on ½(H+λ)ψ² + xSψ from ψ0 = −μH/(H+λ), ψ = φ + λμ/(H+λ)."""
    shift = lam * MU / (H + lam)
    land = resolve_landscape("mean-estimation", H=H + lam, S=S, init=-MU * H / (H + lam))
    sched = gd(N, T)
    loss = float(sd.predict(land, sched, 2, [ETA], method="resummed").value[0])  # ½(H+λ)E[ψ²]
    disp = float(np.ravel(sd.predict(land, sched, 2, [ETA], "displacement", method="resummed").value)[0])
    second = 2 * loss / (H + lam)
    mean_psi = -MU * H / (H + lam) + disp
    return {"test_loss": 0.5 * H * (second - 2 * shift * mean_psi + shift**2), "mean_theta_minus_mu": mean_psi - shift}


def _one_H(H: float, grid: np.ndarray, trials: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, int(round(H * 1e6))])
    x = rng.standard_normal((trials, N))
    phi = gd_at_fixed_lambdas(H, grid, x)
    xbar = x.mean(axis=1)[:, None]
    test = 0.5 * H * phi**2
    train = 0.5 * H * phi**2 + S * xbar * phi  # unpenalized training loss, up to a λ-free constant
    c_hat = S**2 * x.var(axis=1, ddof=1)[:, None]  # Bessel's estimate of C at initialization
    h = H + grid[None, :]  # Hessian of the penalized training loss (the same at every θ)
    decay = (1 - ETA * h) ** T
    criteria = {"stic": train + c_hat * (1 - decay) / (N * h), "tic": train + c_hat / (N * h)}
    expected = [expected_test_loss(H, float(lam)) for lam in grid]
    exp_loss = np.array([e["test_loss"] for e in expected])
    oracle = int(np.argmin(exp_loss))
    rows = np.arange(trials)
    picks = {name: np.argmin(c, axis=1) for name, c in criteria.items()}
    picks["gd"] = np.zeros(trials, dtype=int)
    picks["oracle"] = np.full(trials, oracle)
    losses = {name: test[rows, k] for name, k in picks.items()}
    out: dict[str, Any] = {"H": H, "oracle_lambda": float(grid[oracle]), "methods": {}, "differences": {}}
    for name, k in picks.items():
        out["methods"][name] = {"test_loss": summary(losses[name]), "lambda_mean": float(grid[k].mean()),
                                "lambda_median": float(np.median(grid[k])),
                                "lambda_quartiles": [float(np.quantile(grid[k], q)) for q in (0.25, 0.75)]}
    for a, b in (("stic", "gd"), ("stic", "tic"), ("stic", "oracle"), ("tic", "gd")):
        out["differences"][f"{a} - {b}"] = summary(losses[a] - losses[b])
    sim_mean = test.mean(axis=0)
    sim_sem = test.std(axis=0, ddof=1) / np.sqrt(trials)
    out["curve"] = {"lambda": grid.tolist(), "engine_test_loss": exp_loss.tolist(),
                    "simulated_test_loss": sim_mean.tolist(), "simulated_sem": sim_sem.tolist(),
                    "z_engine": [z_score(m, s, e) for m, s, e in zip(sim_mean, sim_sem, exp_loss, strict=True)]}
    return out


def run(ctx: Context) -> Outcome:
    cfg = _settings(ctx)
    grid = np.array(cfg["grid"])
    bar = ctx.progress(len(cfg["H"]), "λ selection per training set", "H")
    points = []
    for H in cfg["H"]:
        points.append(ctx.cached(f"stic/H{H!r}/grid{len(grid)}/trials{cfg['trials']}/seed{ctx.seed}/S{S}N{N}T{T}"
                                 f"eta{ETA}mu{MU}", lambda H=H: _one_H(H, grid, cfg["trials"], ctx.seed)))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    for p in points:
        d = p["differences"]
        p["z"] = {k: z_score(v["mean"], v["sem"], 0.0) for k, v in d.items()}
    f = {"stic_beats_gd": sum(p["z"]["stic - gd"] < -Z_LIMIT for p in points),
         "stic_loses_to_gd": sum(p["z"]["stic - gd"] > Z_LIMIT for p in points),
         "stic_beats_tic": sum(p["z"]["stic - tic"] < -Z_LIMIT for p in points),
         "stic_loses_to_tic": sum(p["z"]["stic - tic"] > Z_LIMIT for p in points),
         "max_abs_z_engine": max(max(abs(z) for z in p["curve"]["z_engine"]) for p in points),
         "points": len(points)}
    data = {"problem": {"S": S, "C": S**2, "N": N, "T": T, "eta": ETA, "mu": MU, "theta0": 0.0},
            "trials": cfg["trials"], "seed": ctx.seed, "z_limit": Z_LIMIT, "grid": cfg["grid"], "points": points,
            "findings": f}
    verdict, reason = _verdict(data)
    measured = describe(data)
    notes = ["The paper's Fig. 13 descends on λ jointly with θ (see the mean-estimation reproduction's l2 panel); "
             "here λ is chosen by a grid search per training set, which is what \"perfectly tuned according to "
             "STIC\" means.",
             "The penalty pulls toward the initialization, not toward the truth (with the penalty centred at the "
             "truth every method would simply pick the largest stable λ); μ = 3 rather than 10 makes the "
             "bias–variance trade-off visible at C = 100, N = 10.",
             "Per training set, the training-loss part of both criteria is what varies: a training set whose mean "
             "lies far out has a low training loss at λ = 0 and picks it, and those are exactly the sets that "
             "overfit most.  TIC's T → ∞ gap over-estimates the finite-T gap at small λ, so it leans to larger "
             "λ — which helps here; STIC's gap is the unbiased one (its expectation equals the test loss)."]
    figures = [_figure(ctx, data)]
    return Outcome(TITLE, CLAIM, measured, verdict, reason, data, figures, notes)


def describe(data: dict[str, Any]) -> str:
    """What we measured, in Markdown, from the saved numbers (a re-rendered report calls it again)."""
    pr, points, f, grid = data["problem"], data["points"], data["findings"], data["grid"]
    rows = ["| H | oracle λ | STIC-grid λ (median) | TIC λ (median) | test loss GD | STIC-grid | TIC | oracle | "
            "STIC-grid − GD (z) | STIC-grid − TIC (z) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        m = p["methods"]
        rows.append(f"| {p['H']:g} | {p['oracle_lambda']:.3g} | {m['stic']['lambda_median']:.3g} | "
                    f"{m['tic']['lambda_median']:.3g} | {m['gd']['test_loss']['mean']:.4g} | "
                    f"{m['stic']['test_loss']['mean']:.4g} | {m['tic']['test_loss']['mean']:.4g} | "
                    f"{m['oracle']['test_loss']['mean']:.4g} | {p['differences']['stic - gd']['mean']:+.3g} "
                    f"({p['z']['stic - gd']:+.1f}) | {p['differences']['stic - tic']['mean']:+.3g} "
                    f"({p['z']['stic - tic']:+.1f}) |")
    _, text = majority_verdict(_stic_grid_family(data))
    return (
        f"MEAN ESTIMATION with the true mean μ = {pr['mu']:g} away from θ0 = 0, S = {pr['S']:g} (C = {pr['C']:g}), "
        f"N = {pr['N']}, GD for T = {pr['T']} steps at η = {pr['eta']} (ηT = {pr['eta'] * pr['T']:g}) on the "
        f"training loss + ½λθ².  {data['trials']} training sets per H (seeded; the same sets for every method and "
        f"λ), λ on a grid of {len(grid)} values in [0, {grid[-1]:g}].  Test losses are population losses "
        "½H(θ_T − μ)² of each trial's trained θ.\n\n"
        "**STIC-grid**: for each training set, λ is picked from the grid by minimizing STIC (the training loss "
        "after T steps at that λ plus Cor. 6's gap estimate), then that λ's trained θ is kept — \"perfectly tuned "
        "according to STIC\".  (The `mean-estimation` reproduction's STIC-descent, Fig. 13's procedure, instead "
        "descends on λ together with θ in one run.)\n\n"
        + "\n".join(rows) + "\n\n"
        "z is the paired difference over its SE; the verdict tests all H together (Holm, α = 0.05): STIC-grid "
        f"against plain GD is {text}.  The engine's expected test loss at each fixed λ agrees with the simulated "
        f"mean within {f['max_abs_z_engine']:.2f} SE over the whole grid.")


def _stic_grid_family(data: dict[str, Any]) -> Family:
    """STIC-grid − plain GD per H against 0 (the majority rule's points)."""
    return Family("STIC-grid − plain GD test loss, vs 0", [
        from_summary(f"H={p['H']:g}", p["differences"]["stic - gd"], 0.0, math.nan) for p in data["points"]])


def _verdict(data: dict[str, Any]) -> tuple[str, str]:
    f, pts = data["findings"], data["points"]
    def mean(p: dict[str, Any], name: str) -> float:
        return p["methods"][name]["test_loss"]["mean"]

    detail = "; ".join(f"H={p['H']:g}: STIC {mean(p, 'stic'):.4g} vs GD {mean(p, 'gd'):.4g} "
                       f"(z={p['z']['stic - gd']:+.1f}), TIC {mean(p, 'tic'):.4g}, oracle {mean(p, 'oracle'):.4g}"
                       for p in pts)
    if 2 * f["stic_beats_gd"] > f["points"]:
        return ("confirmed", f"STIC's choice of λ beats plain GD significantly (z < −{Z_LIMIT:g}) at "
                f"{f['stic_beats_gd']} of {f['points']} curvatures — \"most Hessians\" — and loses at "
                f"{f['stic_loses_to_gd']}; against TIC it wins at {f['stic_beats_tic']} and loses at "
                f"{f['stic_loses_to_tic']}. {detail}.")
    return ("refuted", f"STIC beats plain GD significantly at only {f['stic_beats_gd']} of {f['points']} curvatures "
            f"(loses at {f['stic_loses_to_gd']}), not at most of them. {detail}.")


def _figure(ctx: Context, data: dict[str, Any]) -> str:
    from ._trials import new_figure
    from ._trials import save_report_figure as save_laid_out

    pts = data["points"]
    fig, axes = new_figure(2, width=6.0)
    ax = axes[0]
    names = {"stic": "STIC-grid", "tic": "TIC", "oracle": "oracle"}
    for k, p in enumerate(pts):
        c = p["curve"]
        lam = np.array(c["lambda"][1:])
        color = f"C{k}"
        ax.plot(lam, c["engine_test_loss"][1:], "-", color=color, lw=1.2, label=f"H={p['H']:g}: engine E[test](λ)")
        m, s = np.array(c["simulated_test_loss"][1:]), np.array(c["simulated_sem"][1:])
        ax.fill_between(lam, m - 1.96 * s, m + 1.96 * s, color=color, alpha=0.25)
        for name, marker in (("stic", "v"), ("tic", "^"), ("oracle", "*")):
            lm = p["methods"][name]["lambda_median"]
            if lm > 0:
                ax.plot([lm], [np.interp(lm, lam, c["engine_test_loss"][1:])], marker, color=color, ms=7,
                        mec="k", label=f"{names[name]} (median λ)" if k == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("l2 strength λ")
    ax.set_ylabel("test loss after training")
    ax.set_title("expected test loss vs λ: engine (lines), simulation (95% bands)", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()  # the curves first, then the methods' markers
    order = sorted(range(len(labels)), key=lambda i: (not labels[i].startswith("H="), i))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7)
    ax = axes[1]
    H = np.array([p["H"] for p in pts])
    for k, (name, fmt) in enumerate((("gd", "ko"), ("tic", "^"), ("stic", "v"), ("oracle", "*"))):
        s = [p["methods"][name]["test_loss"] for p in pts]
        m = np.array([x["mean"] for x in s])
        ax.errorbar(H * (1 + 0.05 * (k - 1.5)), m, yerr=1.96 * np.array([x["sem"] for x in s]), fmt=fmt, ms=5,
                    capsize=2, label={"gd": "plain GD (λ = 0)", "tic": "TIC's λ", "stic": "STIC-grid's λ",
                                      "oracle": "oracle λ"}[name])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("curvature H")
    ax.set_ylabel("mean test loss (95% CI)")
    ax.set_title(f"μ = {data['problem']['mu']:g}, C = {data['problem']['C']:g}, N = {data['problem']['N']}, "
                 f"ηT = {data['problem']['eta'] * data['problem']['T']:g}: test loss per method", fontsize=9)
    ax.legend(fontsize=7)
    return save_laid_out(fig, ctx.figure())


def check(data: dict[str, Any]) -> list[str]:
    """The engine's E[test](λ) matches simulation over the grid (|z| ≤ 4 over many points), the oracle λ's
    simulated loss matches the engine's minimum, and the verdict's counts follow from the stored z-scores."""
    problems = []
    f = data["findings"]
    if f["max_abs_z_engine"] > 4.0:
        problems.append(f"engine vs simulated E[test](λ) differ by {f['max_abs_z_engine']:.1f} SE")
    for p in data["points"]:
        o = p["methods"]["oracle"]["test_loss"]
        if abs(z_score(o["mean"], o["sem"], min(p["curve"]["engine_test_loss"]))) > 4.0:
            problems.append(f"H={p['H']:g}: the oracle's simulated loss {o['mean']:.4g} is not the engine's minimum")
        for key in ("stic - gd", "stic - tic"):
            d = p["differences"][key]
            if not np.isclose(p["z"][key], z_score(d["mean"], d["sem"], 0.0)):
                problems.append(f"H={p['H']:g}: stored z for {key} does not follow from its mean and SE")
    if f["stic_beats_gd"] != sum(p["z"]["stic - gd"] < -data["z_limit"] for p in data["points"]):
        problems.append("the count of curvatures where STIC beats GD does not follow from the z-scores")
    return problems


def assess(data: dict[str, Any]) -> Judgement:
    """The verdict by the common rules.  The engine's expected test loss at each fixed λ vs simulation, every H and
    λ together (effect: how much λ changes the expected loss, E[test](λ) − E[test](0)); then the paper's "improves
    on plain GD for most Hessians" for STIC-grid (λ chosen per training set by grid search) by the majority rule
    on STIC − GD per H.  (The mean-estimation reproduction's "STIC-descent" is Fig. 13's procedure, λ descended
    together with θ: a different procedure.)"""
    pts = data["points"]
    engine = Family("the engine's E[test loss](λ) vs simulation", [
        Comparison(f"H={p['H']:g}, λ={lam:.3g}", m, s, e, 0.0, e - p["curve"]["engine_test_loss"][0], x=lam)
        for p in pts for lam, m, s, e in zip(p["curve"]["lambda"], p["curve"]["simulated_test_loss"],
                                             p["curve"]["simulated_sem"], p["curve"]["engine_test_loss"], strict=True)
        if lam > 0])
    beats = _stic_grid_family(data)
    j = decide(engine)
    if j.verdict != "confirmed":
        return Judgement(j.verdict, j.reason, [engine, beats])
    verdict, text = majority_verdict(beats)
    return Judgement(verdict, f"{j.reason} STIC-grid (λ per training set by grid search on STIC) against plain GD: "
                     f"{text}; the paper's \"improves on plain GD for most Hessians\" needs a majority.",
                     [engine, beats])


def redraw(ctx: Context, data: dict[str, Any]) -> list[str]:
    """The figures again, from the saved numbers (``reproduce --rerender``)."""
    return [_figure(ctx, data)]
