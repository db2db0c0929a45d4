"""``sde-ode``: seed 001 Cor. 3 / Cor. 4 — SGD vs its continuous-time surrogates (ODE, SDE) at order η².

On the logistic model (digits, zero init) one-epoch SGD (N = 10, B = 1) is simulated beside

* the ODE optimizer — every SGD step refined into k Euler substeps of η/k on the *same* batch (paired with
  SGD trial by trial); the engine predicts SGD − ODE exactly at order η² as the difference of the Taylor series
  of the SGD schedule and of its k-fold refinement (each step repeated k times at η/k).  This is Cor. 3's time
  discretization, −(T/2)·GηHηG on a noiseless landscape, plus −(T/4)·G·η∇tr(ηC) from the noise;
* the SDE optimizer — dθ = −G dt + sqrt(ηC) dW with population G and C, k Euler–Maruyama substeps per step.
  Its order-η² difference is the chain's alone: SGD − SDE = −(T/2)(1 − 1/k)·η²·GHG (docs/discrepancies.md #6);
  Cor. 4's printed (T/2)·tr(CηHη) is SGD's excess over the *noiseless* ODE, not over this SDE.

Rule: SGD − ODE's fitted η² coefficient within 3 combined SEs of the engine's; SGD − SDE at every η within
3 SEs of −(T/2)(1 − 1/k)η²GHG.  Both and the printed Cor. 4 term rejected (|z| > 3 at some η): confirmed with a
correction; both and the printed term not rejected: confirmed; otherwise refuted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schedules import parse_schedule_spec
from ._trials import coefficient_panel
from .base import Context, Outcome
from .estimated_series import (
    chain_value,
    ci_errorbars,
    exact_gradient_statistics,
    finish_eta_axis,
    fit_eta2_eta3,
    fit_powers,
    landscape_for,
    mean_stderr,
    pyplot,
    refined_schedule,
    save_pyplot_figure,
    series_replicas,
    simulate_point,
    summary_of,
    uvalue_replicas,
    z_score,
)
from .verdicts import Comparison, Family, Judgement, decide

SCHEDULE = "sgd:N=10,B=1,E=1"
SUBSTEPS = 8
Z_MAX = 3.0


def settings(quick: bool) -> dict[str, Any]:
    """Samples, η sweeps and trials of the quick and the default run."""
    if quick:
        return {"samples": 2000, "eta": [0.025, 0.05], "trials": 400, "sde_eta": [0.1], "sde_trials": 30}
    return {"samples": 20000, "eta": [0.0125, 0.025, 0.05, 0.1], "trials": 2000, "sde_eta": [0.05, 0.1],
            "sde_trials": 120}


def verdict_of(z_ode: float, z_sde: list[float], z_printed: list[float]) -> tuple[str, str]:
    """Verdict from the z-scores (see the module docstring)."""
    ode_ok = abs(z_ode) <= Z_MAX
    sde_ok = all(abs(z) <= Z_MAX for z in z_sde)
    printed_rejected = any(abs(z) > Z_MAX for z in z_printed)
    if ode_ok and sde_ok and printed_rejected:
        return ("confirmed with a correction",
                "Cor. 3's time-discretization term holds (SGD − ODE matches the engine), but Cor. 4's printed "
                "(T/2)·tr(CηHη) is not SGD's excess over the SDE: SGD − SDE matches −(T/2)·GηHηG (the printed term "
                "is the excess over the noiseless ODE)")
    if ode_ok and sde_ok:
        return "confirmed", "SGD − ODE and SGD − SDE match the engine and the printed Cor. 4 term is not rejected"
    failed = [w for w, ok in (("SGD − ODE", ode_ok), ("SGD − SDE", sde_ok)) if not ok]
    return "refuted", f"{' and '.join(failed)} disagree(s) with the engine's order-η² prediction beyond 3 SE"


def run(ctx: Context) -> Outcome:
    cfg = settings(ctx.quick)
    name, land = landscape_for(ctx, "logistic", "fashion", None)
    sgd = parse_schedule_spec(SCHEDULE)
    T, k = sgd.T, SUBSTEPS
    etas = np.asarray(cfg["eta"], dtype=np.float64)
    sde_etas = np.asarray(cfg["sde_eta"], dtype=np.float64)
    reps = uvalue_replicas(ctx, name, land, "test", 2, cfg["samples"], ctx.seed)
    refined = refined_schedule(sgd, k)
    ode_reps = (series_replicas(land, sgd, 2, "test-loss", reps, etas)
                - series_replicas(land, refined, 2, "test-loss", reps, etas / k))
    ode_a, ode_a_se = (float(v[0]) for v in mean_stderr(ode_reps / etas**2))
    ghg = chain_value(reps)
    trch = np.asarray(reps["r(aa)"], dtype=np.float64) - np.asarray(reps["r(ab)"], dtype=np.float64)  # tr(HC)
    sde_a, sde_a_se = (float(v) for v in mean_stderr(-(T / 2) * (1 - 1 / k) * ghg))
    printed_a, printed_a_se = (float(v) for v in mean_stderr(-(T / 2) * (1 - 1 / k) * ghg + (T / 2) * trch))

    exact = None
    if not ctx.quick:
        stats = exact_gradient_statistics(ctx, name, name)
        factor = -(T / 2) * (1 - 1 / k)
        exact = {**stats, "ode_a": factor * (stats["GHG"] + stats["G_dot_grad_trC"] / 2),
                 "sde_a": factor * stats["GHG"]}
    # SDE points first, then SGD + ODE points (each point has its own seed: the order changes no number);
    # the two kinds are priced from their own first points (an SDE point costs 10x an SGD + ODE point)
    bar = ctx.progress(len(etas) + len(sde_etas), "SGD / ODE / SDE simulations", "η points",
                       segments=[(len(sde_etas), "sde", 1.0), (len(etas), "sgd+ode", 1.0)])
    sde = []
    for eta in sde_etas:
        sde.append(simulate_point(ctx, name, land, sgd, ["sde"], float(eta), cfg["sde_trials"], ctx.seed + 1,
                                  substeps=k))
        if bar is not None:
            bar.update(1)
    sgd_ode = []
    for eta in etas:
        sgd_ode.append(simulate_point(ctx, name, land, sgd, ["sgd", "ode"], float(eta), cfg["trials"], ctx.seed,
                                      substeps=k))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    sgd_minus_ode = []
    for p in sgd_ode:
        d = summary_of(p, "ode - sgd")
        sgd_minus_ode.append({"mean": -d["mean"], "sem": d["sem"]})
    sgd_minus_sde = []
    for eta, p in zip(sde_etas, sde, strict=True):
        # SGD at this η from the paired SGD/ODE run when it has it, else its own simulation
        idx = [i for i, e in enumerate(etas) if np.isclose(e, eta)]
        sp = sgd_ode[idx[0]] if idx else simulate_point(ctx, name, land, sgd, ["sgd", "ode"], float(eta),
                                                        cfg["trials"], ctx.seed, substeps=k)
        s, q = summary_of(sp, "sgd"), summary_of(p, "sde")
        diff = {"mean": s["mean"] - q["mean"], "sem": float(np.hypot(s["sem"], q["sem"])), "sgd": s, "sde": q,
                "sde_seconds": p["seconds"]}
        sgd_minus_sde.append(diff)
    data = {"landscape": name, "schedule": SCHEDULE, "T": T, "N": sgd.N, "substeps": k, "seed": ctx.seed,
            "samples": cfg["samples"], "trials": cfg["trials"], "sde_trials": cfg["sde_trials"], "z_max": Z_MAX,
            "eta": cfg["eta"], "sde_eta": cfg["sde_eta"],
            "uvalues": {"GHG": list(mean_stderr(ghg)), "trHC": list(mean_stderr(trch)),
                        "GG": list(mean_stderr(np.asarray(reps["r(a)"], dtype=np.float64)))},
            "sgd_minus_ode": {"simulated": sgd_minus_ode, "predicted_a": ode_a, "predicted_a_stderr": ode_a_se,
                              "seconds": [p["seconds"] for p in sgd_ode]},
            "sgd_minus_sde": {"simulated": sgd_minus_sde, "predicted_a": sde_a, "predicted_a_stderr": sde_a_se,
                              "printed_cor4_a": printed_a, "printed_cor4_a_stderr": printed_a_se},
            "exact": exact}
    figures = [_figure(ctx, data)]
    return outcome_of(data, figures)


def outcome_of(data: dict[str, Any], figures: list[str]) -> Outcome:
    """Fits, z-scores, verdict and report from the recorded numbers alone (also re-renders a saved JSON)."""
    name, T, k, exact = data["landscape"], data["T"], data["substeps"], data["exact"]
    cfg = {key: data[key] for key in ("samples", "trials", "sde_trials")}
    etas, sde_etas = np.asarray(data["eta"]), np.asarray(data["sde_eta"])
    o, s_ = data["sgd_minus_ode"], data["sgd_minus_sde"]
    sgd_minus_ode, sgd_minus_sde = o["simulated"], s_["simulated"]
    ode_a, ode_a_se = o["predicted_a"], o["predicted_a_stderr"]
    sde_a, sde_a_se, printed_a, printed_a_se = (s_["predicted_a"], s_["predicted_a_stderr"], s_["printed_cor4_a"],
                                                s_["printed_cor4_a_stderr"])
    fit_ode = fit_eta2_eta3(etas, [s["mean"] for s in sgd_minus_ode], [s["sem"] for s in sgd_minus_ode],
                            fit_powers(len(etas)))
    z_ode_engine = z_score(fit_ode["a"], fit_ode["a_se"], ode_a, ode_a_se)
    z_ode = z_score(fit_ode["a"], fit_ode["a_se"], exact["ode_a"], 0.0) if exact else z_ode_engine
    z_sde = [z_score(d["mean"], d["sem"], sde_a * e**2, sde_a_se * e**2) for e, d in zip(sde_etas, sgd_minus_sde,
                                                                                         strict=True)]
    z_printed = [z_score(d["mean"], d["sem"], printed_a * e**2, printed_a_se * e**2)
                 for e, d in zip(sde_etas, sgd_minus_sde, strict=True)]
    verdict, why = verdict_of(z_ode, z_sde, z_printed)
    o.update({"fit": fit_ode, "z_a": z_ode, "z_a_engine": z_ode_engine})
    s_.update({"z": z_sde, "z_printed": z_printed})
    data["verdict_rule"] = verdict
    rows_ode = "\n".join(f"| {e:g} | {e * T:g} | {ode_a * e**2:+.3g} ± {ode_a_se * e**2:.2g} | {s['mean']:+.3g} ± "
                         f"{1.96 * s['sem']:.2g} |" for e, s in zip(etas, sgd_minus_ode, strict=True))
    rows_sde = "\n".join(f"| {e:g} | {e * T:g} | {sde_a * e**2:+.3g} ± {sde_a_se * e**2:.2g} | "
                         f"{printed_a * e**2:+.3g} | {d['mean']:+.3g} ± {1.96 * d['sem']:.2g} | {zs:+.1f} | {zp:+.1f} |"
                         for e, d, zs, zp in zip(sde_etas, sgd_minus_sde, z_sde, z_printed, strict=True))
    measured = (
        f"Data: **digits** ({name}, all weights zero at θ0). One-epoch SGD {SCHEDULE} (T = {T}); ODE and SDE with "
        f"k = {k} Euler substeps per step. SGD and ODE: {cfg['trials']} paired trials per η; SDE: "
        f"{cfg['sde_trials']} trials per η (independent noise, so SGD − SDE is unpaired). Predictions from "
        f"K = {cfg['samples']} sampled points at θ0: GHG = {data['uvalues']['GHG'][0]:.3g} ± "
        f"{data['uvalues']['GHG'][1]:.2g}, tr(HC) = {data['uvalues']['trHC'][0]:.4g} ± "
        f"{data['uvalues']['trHC'][1]:.2g}."
        "\n\n**SGD − ODE** (test loss; engine: SGD schedule minus its k-fold refinement, order η²). Fitted "
        f"({' + '.join(f'η^{p}' for p in fit_ode['powers'])}, χ² = {fit_ode['chi2']:.2f} on {fit_ode['dof']} dof) η² "
        f"coefficient {fit_ode['a']:+.4g} ± {fit_ode['a_se']:.2g} vs predicted {ode_a:+.4g} ± {ode_a_se:.2g} "
        f"(z = {z_ode_engine:+.2f})"
        + (f"; exact over the data set, −(T/2)(1 − 1/k)(GHG + ½G·∇tr C) = {exact['ode_a']:+.4g} with GHG = "
           f"{exact['GHG']:.3g}, G·∇tr C = {exact['G_dot_grad_trC']:.4g} (z = {z_ode:+.2f}; the verdict uses this "
           "one)" if exact else "") + ".\n\n| η | ηT | predicted | simulated (95% CI) |\n|---|---|---|---|\n" + rows_ode
        + "\n\n**SGD − SDE** (test loss). Engine: −(T/2)(1 − 1/k)·η²·GHG; printed Cor. 4 reading: that plus "
        "(T/2)·η²·tr(HC).\n\n| η | ηT | engine | printed Cor. 4 | simulated (95% CI) | z (engine) | z (printed) |\n"
        "|---|---|---|---|---|---|---|\n" + rows_sde)
    reason = (f"{why}. SGD − ODE: z = {z_ode:+.1f}; SGD − SDE vs engine: z = "
              f"{', '.join(f'{z:+.1f}' for z in z_sde)}; vs the printed Cor. 4 term: z = "
              f"{', '.join(f'{z:+.1f}' for z in z_printed)} (rule: |z| ≤ {Z_MAX}).")
    claim = ("Seed 001 Cor. 3: \"On a noiseless landscape, SGD prefers small-G² regions more than ODE: "
             "E[θ_SGD − θ_ODE] = −(T/4)·η^{ξρ}η^{μν}∇_ξ(G_μG_ν) + o(η²) + o(1/k).\" Cor. 4: \"The covariance of "
             "gradient noise contributes (T/2)·C_{μν}η^{μξ}η^{νδ}H_{ξδ} + o(η²) + o(1/k) to E = B = 1 SGD's final "
             "testing loss excess over SDE's.\"")
    notes = ["The ODE here follows each SGD batch's gradient (k substeps), so it keeps SGD's sampling noise; on a "
             "noisy landscape its order-η² gap to SGD adds −(T/4)·G·η∇tr(ηC) to Cor. 3's −(T/2)·GηHηG, and the "
             "engine's refined-schedule prediction contains both.",
             "The SDE uses the landscape's population G and C (a fixed subsample of the data); its k-substep "
             "Euler–Maruyama discretization is the factor (1 − 1/k).",
             "Predictions are order η²; higher orders of SGD − ODE can show already at moderate ηT (see the "
             "figure), so the fit a·η² + b·η³ (+ c·η⁴ with four or more η) separates them and its "
             "χ² says whether the polynomial suffices."]
    return Outcome("SGD vs ODE vs SDE at order η²", claim, measured, verdict, reason, data, figures, notes)


def _figure(ctx: Context, data: dict[str, Any]) -> str:
    plt = pyplot()
    fig, grid_axes = plt.subplots(2, 2, figsize=(11.2, 8.8))
    axes = grid_axes.ravel()
    T = data["T"]
    etas = np.asarray(data["eta"])
    grid = np.linspace(0, etas.max() * 1.05, 60)
    o = data["sgd_minus_ode"]
    ax = axes[0]
    ax.plot(grid, o["predicted_a"] * grid**2, "C0-", label="engine, order η² ± 2 stderr")
    if data.get("exact"):
        ax.plot(grid, data["exact"]["ode_a"] * grid**2, "C2--", label="exact over the data set, order η²")
    ax.fill_between(grid, (o["predicted_a"] - 2 * o["predicted_a_stderr"]) * grid**2,
                    (o["predicted_a"] + 2 * o["predicted_a_stderr"]) * grid**2, color="C0", alpha=0.2)
    ci_errorbars(ax, etas, o["simulated"], fmt="ko", label=f"simulated, {data['trials']} paired trials (95% CI)")
    ax.set_title(f"SGD − ODE (k = {data['substeps']}), {data['landscape']}", fontsize=9)
    s = data["sgd_minus_sde"]
    ax2 = axes[1]
    sde_etas = np.asarray(data["sde_eta"])
    grid2 = np.linspace(0, max(etas.max(), sde_etas.max()) * 1.05, 60)
    ax2.plot(grid2, s["predicted_a"] * grid2**2, "C0-", label="engine: −(T/2)(1−1/k)·η²GHG")
    ax2.plot(grid2, s["printed_cor4_a"] * grid2**2, "C3--", label="printed Cor. 4: + (T/2)·η² tr(HC)")
    ci_errorbars(ax2, sde_etas, s["simulated"], fmt="ko",
                 label=f"simulated SGD − SDE ({data['sde_trials']} SDE trials, 95% CI)")
    ax2.set_title("SGD − SDE", fontsize=9)
    for a in (ax, ax2):
        finish_eta_axis(a, T, "test-loss difference", zero_color="0.6")
        a.legend(fontsize=7)
    _coefficient_panels(axes[2], axes[3], data)
    return save_pyplot_figure(ctx, plt, fig)


def _coefficient_panels(ax: Any, ax2: Any, data: dict[str, Any]) -> None:
    """What the SGD − ODE verdict rests on: d(η)/η² per η with the weighted fit a + bη, its intercept a (95% CI)
    beside the exact and the engine's predicted coefficient."""
    o = data["sgd_minus_ode"]
    etas = np.asarray(data["eta"], dtype=float)
    means = np.array([s["mean"] for s in o["simulated"]]) / etas**2
    half = 1.96 * np.array([s["sem"] for s in o["simulated"]]) / etas**2
    f = o.get("fit") or fit_eta2_eta3(etas, [s["mean"] for s in o["simulated"]], [s["sem"] for s in o["simulated"]],
                                      fit_powers(len(etas)))  # the fit outcome_of records
    grid = np.linspace(0, etas.max() * 1.05, 50)
    ax.errorbar(etas, means, yerr=half, fmt="ko", capsize=3, label="simulated (SGD − ODE)/η², 95% CI")
    powers, coefs = f.get("powers", [2, 3]), f.get("coefficients", [f["a"], f.get("b", 0.0)])
    curve = sum(c * grid ** (p - 2) for p, c in zip(powers, coefs, strict=True))
    terms = " + ".join(["a"] + [f"c{p}·η^{p - 2}" if p > 3 else "bη" for p in powers[1:]])
    ax.plot(grid, curve, "k:", label=f"weighted fit {terms}")
    ax.errorbar([0.0], [f["a"]], yerr=[1.96 * f["a_se"]], fmt="s", color="C1", capsize=4,
                label="fitted η² coefficient a (95% CI)")
    if data.get("exact"):
        ax.axhline(data["exact"]["ode_a"], color="C2", ls="--", label="exact Cor. 3 coefficient")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("(SGD − ODE) / η²")
    ax.set_title(f"SGD − ODE: the η² coefficient the verdict tests ({f.get('dof', '?')} dof)", fontsize=9)
    ax.legend(fontsize=7)
    entries = [(f"fitted a\n({f.get('dof', '?')} dof)", f["a"], 1.96 * f["a_se"]),
               ("engine\n(± 95%)", o["predicted_a"], 1.96 * o["predicted_a_stderr"])]
    if data.get("exact"):
        entries.append(("exact over\nthe data set", data["exact"]["ode_a"], 0.0))
    coefficient_panel(ax2, entries, "η² coefficient of SGD − ODE (95% CI)", "measured vs predicted coefficient")


def redraw(ctx: Context, data: dict[str, Any]) -> list[str]:
    """The figures again, from the saved numbers."""
    return [_figure(ctx, data)]


def check(data: dict[str, Any]) -> list[str]:
    """SGD − ODE's η² coefficient and SGD − SDE within 3 SE of the engine; the verdict follows the rule."""
    problems = []
    o = data["sgd_minus_ode"]
    z = z_score(o["fit"]["a"], o["fit"]["a_se"], o["predicted_a"], o["predicted_a_stderr"])
    if not np.isfinite(z) or abs(z) > data["z_max"]:
        problems.append(f"SGD − ODE η² coefficient {o['fit']['a']:+.3g} is {z:+.1f} SE from the engine's "
                        f"{o['predicted_a']:+.3g}")
    s = data["sgd_minus_sde"]
    for eta, d in zip(data["sde_eta"], s["simulated"], strict=True):
        zz = z_score(d["mean"], d["sem"], s["predicted_a"] * eta**2, s["predicted_a_stderr"] * eta**2)
        if abs(zz) > data["z_max"]:
            problems.append(f"SGD − SDE at η = {eta:g} is {zz:+.1f} SE from the engine's −(T/2)(1−1/k)η²GHG")
    if verdict_of(o["z_a"], s["z"], s["z_printed"])[0] != data["verdict_rule"]:
        problems.append("verdict does not follow from the recorded z-scores")
    return problems


def assess(data: dict[str, Any]) -> Judgement:
    """The verdict by the common rules, in two parts that each need power: SGD − ODE's fitted η² coefficient vs the
    exact −(T/2)(1 − 1/k)(GHG + ½G·∇tr C) over the data set (dof of the fit; effect: that coefficient against 0),
    and SGD − SDE at each η vs the engine (effect: the printed Cor 4 term against the engine's).  Cor 4's printed
    (T/2)·tr(CηHη) as SGD's excess over the SDE is tested on the same SGD − SDE points."""
    o, s_, exact = data["sgd_minus_ode"], data["sgd_minus_sde"], data.get("exact")
    fit = o["fit"]
    pred, pred_se = (exact["ode_a"], 0.0) if exact else (o["predicted_a"], o["predicted_a_stderr"])
    claim = [Comparison("η² coefficient", fit["a"], fit["a_se"], pred, pred_se, pred, dof=int(fit["dof"]),
                        part="SGD − ODE")]
    printed = []
    for e, d in zip(data["sde_eta"], s_["simulated"], strict=True):
        engine, printed_term = s_["predicted_a"] * e**2, s_["printed_cor4_a"] * e**2
        claim.append(Comparison(f"η={e:g}", d["mean"], d["sem"], engine, s_["predicted_a_stderr"] * e**2,
                                printed_term - engine, x=e * data["T"], part="SGD − SDE"))
        printed.append(Comparison(f"η={e:g}", d["mean"], d["sem"], printed_term, s_["printed_cor4_a_stderr"] * e**2,
                                  printed_term - engine, x=e * data["T"]))
    j = decide(Family("SGD vs ODE and SDE at order η² vs the engine", claim),
               Family("Cor 4's printed (T/2)·tr(CηHη) as SGD − SDE", printed))
    extra = {"confirmed with a correction": " Cor 3's time-discretization term holds (SGD − ODE); Cor 4's printed "
             "term is SGD's excess over the noiseless ODE, not over the SDE: SGD − SDE matches −(T/2)·GηHηG."}
    return Judgement(j.verdict, j.reason + extra.get(j.verdict, ""), j.families)
