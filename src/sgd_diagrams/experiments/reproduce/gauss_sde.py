"""``gauss-sde``: SGD vs SDE on GAUSS at order η³ — skewness plus time discretization (seed 001 Cor 5, Fig 13).

GAUSS (App. C.1) fits N(0, σ²) to standard normal data with h = log σ²; at its test minimum h = 0 the
gradient noise is an affine χ²₁ (skew S = −1, jerk J = −½).  We run T steps of E = B = 1 SGD from h = 0
and the SDE (Euler–Maruyama with k substeps of η/k, Gaussian noise of covariance C(θ) scaled as a Wiener
process) and split SGD − SDE in final test loss into

* ``skew``: SGD on GAUSS − SGD on its Gaussian counterpart GAUSS-NORMAL (same means and covariances of
  every derivative, no higher cumulants): Cor 5's term;
* ``discretization``: SGD on GAUSS-NORMAL − the SDE: what time discretization alone does.

Paired trials: one standard normal per SDE substep; their normalised sum x_t feeds SGD on GAUSS (its
datum is x_t, loss in x_t²); z_t = Φ⁻¹(2Φ(|x_t|) − 1) (the normal that is a monotone function of x_t², so
exactly N(0, 1)) feeds GAUSS-NORMAL's SGD, and the substep normals, shifted to sum to √k·z_t (a Brownian
bridge: still i.i.d. N(0, 1)), drive the SDE written as k-fold refined SGD on GAUSS-NORMAL with noise
scaled by √k — equal in law to the library's ``sde`` optimizer, which is also run (unpaired) as a check.
Theory: the engine's Taylor coefficients of each of the three (the SDE's at the simulated k, and k → ∞
by exact extrapolation in 1/k), and the closed form
:func:`~sgd_diagrams.theory.corollaries.sgd_minus_sde_at_minimum`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._trials import chunked_moments, eta_t_axis, new_figure, save, training_rows, trajectories, z_score
from .base import Context, Outcome
from .verdicts import Comparison, Family, Judgement, decide

__all__ = ["assess", "check", "run", "sde_coefficients", "split_coefficients"]

CLAIM = (
    "Seed 001, §\"Jerk distinguishes SDE and SGD\", Corollary 5: \"For E = B = 1 SGD and up to error o(η³) + "
    "o(1/k): the skewness of gradient noise contributes −(η³/3!) Σ S_{μνλ} (1 − exp(−Tη(H_{μμ}+H_{νν}+H_{λλ})))"
    "/(η(H_{μμ}+H_{νν}+H_{λλ})) J_{μνλ} to the excess final testing loss over SDE.\" Figure 13 (center): "
    "\"SGD's difference from SDE after ηT ≈ 10⁻¹ with maximal coarseness on GAUSS. Two effects not modeled by "
    "SDE — time-discretization and non-Gaussian noise oppose on this landscape but do not completely cancel.\" "
    "App. C.3: \"We ran 2·10⁵ trials of GAUSS with SDE and SGD, initialized at the test minimum with T = 1 and η "
    "ranging from 5·10⁻² to 2.5·10⁻¹.\""
)
ORDER = 4  # Taylor order of the engine's curves (GAUSS' Gauss–Hermite form is exact through order 6)


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"etas": [0.1, 0.15, 0.2, 0.25], "Ts": [1], "k": 8, "trials": 100_000, "chunk": 50_000,
                "library_sde_trials": 20_000}
    return {"etas": [0.05, 0.1, 0.15, 0.2, 0.25], "Ts": [1], "k": 16, "trials": 1_000_000, "chunk": 100_000,
            "library_sde_trials": 200_000}


def _taylor(landscape: Any, schedule: Any, order: int = ORDER) -> np.ndarray:
    import sgd_diagrams as sd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.array(sd.taylor_series(landscape.to_exact(), schedule, order).coefficients, dtype=np.float64)


def sde_coefficients(T: int, k: int, order: int = ORDER) -> np.ndarray:
    """Taylor coefficients (in η) of the test loss after the k-substep SDE on GAUSS: k-fold refined SGD on
    GAUSS-NORMAL with noise scaled by √k (T·k steps of η/k)."""
    import sgd_diagrams as sd

    from ...landscapes.artificial import GaussNormal

    c = _taylor(GaussNormal(scale=math.sqrt(k)), sd.sgd(N=T * k, B=1, E=1), order)
    return c / float(k) ** np.arange(len(c))


def sde_limit_coefficients(T: int, order: int = ORDER, ks: tuple[int, ...] = (8, 16, 32, 64, 128)) -> np.ndarray:
    """k → ∞ of :func:`sde_coefficients`: each coefficient is a polynomial in 1/k of degree < order, so the
    polynomial through ``ks`` evaluated at 1/k = 0 is exact (up to rounding)."""
    rows = np.array([sde_coefficients(T, k, order) for k in ks])
    inv = 1.0 / np.array(ks, dtype=np.float64)
    out = np.empty(rows.shape[1])
    for d in range(rows.shape[1]):
        fit = np.polyfit(inv, rows[:, d], len(ks) - 1)
        out[d] = fit[-1]
    return out


def split_coefficients(T: int, k: int, order: int = ORDER) -> dict[str, list[float]]:
    """The engine's coefficients of SGD on GAUSS, on GAUSS-NORMAL, of the k-substep SDE and of the SDE (k → ∞)."""
    import sgd_diagrams as sd

    from ...landscapes.artificial import Gauss, GaussNormal

    sched = sd.sgd(N=T, B=1, E=1)
    return {"sgd": _taylor(Gauss(), sched, order).tolist(),
            "sgd_gaussian": _taylor(GaussNormal(), sched, order).tolist(),
            "sde_k": sde_coefficients(T, k, order).tolist(), "sde_limit": sde_limit_coefficients(T, order).tolist()}


def _poly(coefs: list[float], eta: float, upto: int) -> float:
    return float(sum(c * eta**d for d, c in enumerate(coefs[: upto + 1])))


def coupled_rows(w: Any, k: int) -> tuple[Any, Any, Any]:
    """From i.i.d. normals w (trials, T, k): GAUSS' data x, GAUSS-NORMAL's z (a monotone function of x²) and the
    SDE's substep normals (trials, T·k) summing to √k·z per step — each exactly i.i.d. N(0, 1)."""
    import torch

    x = w.sum(dim=2) / math.sqrt(k)
    u = (2.0 * torch.special.ndtr(x.abs()) - 1.0).clamp(1e-15, 1.0 - 1e-15)
    z = torch.special.ndtri(u)
    bridge = w - w.mean(dim=2, keepdim=True)
    sub = z.unsqueeze(2) / math.sqrt(k) + bridge
    return x, z, sub.reshape(w.shape[0], -1)


def run(ctx: Context) -> Outcome:
    import sgd_diagrams as sd

    from ...landscapes.artificial import Gauss, GaussNormal
    from ...theory.corollaries import corollary5_skew_term, named_statistics, sgd_minus_sde_at_minimum

    cfg = _settings(ctx.quick)
    k = cfg["k"]
    gauss, normal, sde_land = Gauss(), GaussNormal(), GaussNormal(scale=math.sqrt(k))
    st = named_statistics(gauss.to_exact())
    # the engine's coefficients first (once per T, before the priced loop), then the trials: paired ones and
    # the library SDE's priced from their own chunks by trials × T, each kind's first chunk (first-call
    # set-up, 6x a later one) left out of its rate
    all_coefs = {T: ctx.cached(f"gauss-sde coefficients T={T} k={k} order={ORDER}",
                               lambda T=T: split_coefficients(T, k)) for T in cfg["Ts"]}
    segments = [(n, kind, float(T)) for T in cfg["Ts"] for _ in cfg["etas"]
                for kind, n in (("paired", cfg["trials"]), ("library", cfg["library_sde_trials"]))]
    bar = ctx.progress(sum(n for n, _, _ in segments), "simulating GAUSS", "trial", segments=segments,
                       warmup=True)
    tick = bar.update if bar is not None else None
    blocks = []
    for T in cfg["Ts"]:
        coefs = all_coefs[T]
        rows = []
        for eta in cfg["etas"]:
            def compute(c: int, size: int, T: int = T, eta: float = eta) -> dict[str, np.ndarray]:
                w = training_rows(gauss, size, T * k, ctx.seed, c).reshape(size, T, k)
                x, z, sub = coupled_rows(w, k)
                h_sgd = trajectories(gauss, sd.sgd(N=T, B=1, E=1), "sgd", eta, x, ctx.seed, c, [T])[T]
                h_nrm = trajectories(normal, sd.sgd(N=T, B=1, E=1), "sgd", eta, z, ctx.seed, c, [T])[T]
                h_sde = trajectories(sde_land, sd.sgd(N=T * k, B=1, E=1), "sgd", eta / k, sub, ctx.seed, c,
                                     [T * k])[T * k]
                loss = [0.5 * (h[:, 0] + np.exp(-h[:, 0])) for h in (h_sgd, h_nrm, h_sde)]
                return {"sgd": loss[0], "sgd_gaussian": loss[1], "sde": loss[2], "total": loss[0] - loss[2],
                        "skew": loss[0] - loss[1], "discretization": loss[1] - loss[2]}

            sim = chunked_moments(ctx, f"gauss-sde paired T={T} eta={eta} k={k}", cfg["trials"], cfg["chunk"],
                                  compute, tick)

            def library(c: int, size: int, T: int = T, eta: float = eta) -> dict[str, np.ndarray]:
                rows_ = training_rows(gauss, size, T, ctx.seed, c)
                h = trajectories(gauss, sd.sgd(N=T, B=1, E=1), "sde", eta, rows_, ctx.seed, c, [T], substeps=k)[T]
                return {"sde": 0.5 * (h[:, 0] + np.exp(-h[:, 0]))}

            lib = chunked_moments(ctx, f"gauss-sde library sde T={T} eta={eta} k={k}", cfg["library_sde_trials"],
                                  cfg["chunk"], library, tick)["sde"]
            closed = sgd_minus_sde_at_minimum(st.C, st.H, st.J, st.S, eta, T)
            theory = {
                "leading_closed_form": closed,
                "cor5_skew_resummed": corollary5_skew_term(st.S, st.H, st.J, eta, T),
                "engine_order3": {"skew": _poly(coefs["sgd"], eta, 3) - _poly(coefs["sgd_gaussian"], eta, 3),
                                  "discretization_k": _poly(coefs["sgd_gaussian"], eta, 3)
                                  - _poly(coefs["sde_k"], eta, 3),
                                  "total_k": _poly(coefs["sgd"], eta, 3) - _poly(coefs["sde_k"], eta, 3),
                                  "total_limit": _poly(coefs["sgd"], eta, 3) - _poly(coefs["sde_limit"], eta, 3)},
                f"engine_order{ORDER}": {
                    "skew": _poly(coefs["sgd"], eta, ORDER) - _poly(coefs["sgd_gaussian"], eta, ORDER),
                    "discretization_k": _poly(coefs["sgd_gaussian"], eta, ORDER) - _poly(coefs["sde_k"], eta, ORDER),
                    "total_k": _poly(coefs["sgd"], eta, ORDER) - _poly(coefs["sde_k"], eta, ORDER),
                    "total_limit": _poly(coefs["sgd"], eta, ORDER) - _poly(coefs["sde_limit"], eta, ORDER)},
            }
            rows.append({"eta": eta, "sim": sim, "library_sde": lib, "theory": theory})
        blocks.append({"T": T, "coefficients": coefs, "rows": rows})
    if bar is not None:
        bar.close()
    return _outcome(ctx, cfg, blocks, st)


def _fit_intercept(etas: np.ndarray, values: np.ndarray, sems: np.ndarray) -> tuple[float, float]:
    """Weighted fit of values/η³ = a + bη; returns (a, SE of a): the η³ coefficient measured."""
    y, s = values / etas**3, sems / etas**3
    A = np.stack([np.ones_like(etas), etas], axis=1) / s[:, None]
    coef, *_ = np.linalg.lstsq(A, y / s, rcond=None)
    return float(coef[0]), float(math.sqrt(np.linalg.inv(A.T @ A)[0, 0]))


def _judge(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"per_T": []}
    for b in blocks:
        T, rows = b["T"], b["rows"]
        etas = np.array([r["eta"] for r in rows])
        per: dict[str, Any] = {"T": T}
        for part in ("skew", "discretization", "total"):
            vals = np.array([r["sim"][part]["mean"] for r in rows])
            sems = np.array([r["sim"][part]["sem"] for r in rows])
            a, se = _fit_intercept(etas, vals, sems)
            closed = rows[0]["theory"]["leading_closed_form"][part] / rows[0]["eta"] ** 3
            if part == "discretization":  # the simulated SDE has k substeps: compare with the engine at that k
                closed_k = b["coefficients"]["sgd_gaussian"][3] - b["coefficients"]["sde_k"][3]
            elif part == "total":
                closed_k = b["coefficients"]["sgd"][3] - b["coefficients"]["sde_k"][3]
            else:
                closed_k = closed
            key = "discretization_k" if part == "discretization" else ("total_k" if part == "total" else "skew")
            engine = np.array([r["theory"][f"engine_order{ORDER}"][key] for r in rows])
            per[part] = {"eta3_coefficient_measured": a, "sem": se, "eta3_coefficient_k": closed_k,
                         "eta3_coefficient_limit": closed, "z_leading": z_score(a, closed_k, se),
                         "z_engine": [z_score(v, e, s) for v, e, s in zip(vals, engine, sems, strict=True)]}
        lib = [z_score(r["sim"]["sde"]["mean"], r["library_sde"]["mean"],
                       math.hypot(r["sim"]["sde"]["sem"], r["library_sde"]["sem"])) for r in rows]
        per["z_coupled_sde_vs_library_sde"] = lib
        per["z_skew_only_vs_total"] = z_score(per["total"]["eta3_coefficient_measured"],
                                              per["skew"]["eta3_coefficient_limit"], per["total"]["sem"])
        out["per_T"].append(per)
    ok = [p for p in out["per_T"]]
    out["skew_matches_cor5"] = all(p["skew"]["z_leading"] < 3 for p in ok)
    out["discretization_matches"] = all(p["discretization"]["z_leading"] < 3 for p in ok)
    out["total_matches"] = all(p["total"]["z_leading"] < 3 for p in ok)
    out["engine_matches"] = all(max(p[q]["z_engine"]) < 3 for p in ok for q in ("skew", "discretization", "total"))
    out["skew_alone_misses_total"] = all(p["z_skew_only_vs_total"] > 3 for p in ok)
    out["library_sde_agrees"] = all(max(p["z_coupled_sde_vs_library_sde"]) < 3 for p in ok)
    return out


def _outcome(ctx: Context, cfg: dict[str, Any], blocks: list[dict[str, Any]], st: Any) -> Outcome:
    j = _judge(blocks)
    k = cfg["k"]
    if not j["skew_matches_cor5"]:
        verdict = "refuted"
    elif j["total_matches"] and j["skew_alone_misses_total"]:
        verdict = "confirmed with a correction"
    elif j["total_matches"]:
        verdict = "confirmed"
    else:
        verdict = "refuted"
    parts = []
    for p in j["per_T"]:
        sk, di, to = p["skew"], p["discretization"], p["total"]
        parts.append(f"T = {p['T']}: η³-coefficients measured (fit of diff/η³ = a + bη) skew "
                     f"{sk['eta3_coefficient_measured']:+.4f} ± {sk['sem']:.4f} "
                     f"(Cor 5: {sk['eta3_coefficient_limit']:+.4f}), "
                     f"discretization {di['eta3_coefficient_measured']:+.4f} ± {di['sem']:.4f} (theory at k = {k}: "
                     f"{di['eta3_coefficient_k']:+.4f}; k → ∞: {di['eta3_coefficient_limit']:+.4f}), total "
                     f"{to['eta3_coefficient_measured']:+.4f} ± {to['sem']:.4f} (theory at k = {k}: "
                     f"{to['eta3_coefficient_k']:+.4f}; k → ∞: {to['eta3_coefficient_limit']:+.4f}; skew alone is "
                     f"{p['z_skew_only_vs_total']:.1f} SE away)")
    reason = {
        "confirmed with a correction": "Cor 5's skewness term is there with its printed size and sign, but it is not "
        "the whole order-η³ difference: time discretization adds +(T/2)·tr(ηC·ηH·ηH) = +Tη³/16 on GAUSS, "
        "opposite in sign, "
        "so SGD − SDE = −Tη³/48 + o(η³) (a quarter of the skew term alone). ",
        "confirmed": "The skew term explains SGD − SDE at order η³. ",
        "refuted": "The measured difference does not follow Cor 5. "}[verdict] + " ".join(parts) + "."
    lines = ["| T | η | skew (sim) | skew (engine o4) | discretization (sim) | (engine o4, k) | "
             "total SGD − SDE (sim) | (engine o4, k) | (k → ∞) | Cor 5 resummed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for b in blocks:
        for r in b["rows"]:
            s, t = r["sim"], r["theory"][f"engine_order{ORDER}"]
            lines.append(f"| {b['T']} | {r['eta']} | {s['skew']['mean']:+.3e} ± {1.96 * s['skew']['sem']:.1e} | "
                         f"{t['skew']:+.3e} | "
                         f"{s['discretization']['mean']:+.3e} ± {1.96 * s['discretization']['sem']:.1e} | "
                         f"{t['discretization_k']:+.3e} | {s['total']['mean']:+.3e} ± {1.96 * s['total']['sem']:.1e} | "
                         f"{t['total_k']:+.3e} | {t['total_limit']:+.3e} | {r['theory']['cor5_skew_resummed']:+.3e} |")
    measured = (
        f"GAUSS at its test minimum h = 0 (S = {st.S.item():g}, J = {st.J.item():g}, C = {st.C.item():g}, "
        f"H = {st.H.item():g}). "
        f"Final test loss differences after T steps, mean ± 95% CI over {cfg['trials']:,} paired trials per point "
        f"(seed {ctx.seed}); SDE with k = {k} Euler substeps. Engine: Taylor order {ORDER} of each piece (the SDE's at "
        f"k = {k} and extrapolated to k → ∞).\n\n" + "\n".join(lines)
        + "\n\nLeading order (engine, at a minimum): SGD − SDE = −(T/6)·η³S·J + (T/2)·tr(ηC·ηH·ηH) = "
        "−Tη³/12 + Tη³/16 = −Tη³/48 on GAUSS. Rules: a piece agrees when its fitted η³ coefficient is within 3 SE of "
        "theory; every point is compared with the order-4 engine (z < 3). The library's `sde` optimizer (independent "
        f"noise, {cfg['library_sde_trials']:,} trials) checks the coupled SDE: max z = "
        f"{max(max(p['z_coupled_sde_vs_library_sde']) for p in j['per_T']):.1f}.")
    fig, axes = new_figure(len(blocks))
    for ax, b in zip(axes, blocks, strict=True):
        T = b["T"]
        etas = np.array([r["eta"] for r in b["rows"]])
        grid = np.linspace(0, etas.max() * 1.05, 60)
        c = b["coefficients"]
        colors = {"skew": "C0", "discretization": "C1", "total": "C3"}
        pairs = {"skew": ("sgd", "sgd_gaussian"), "discretization": ("sgd_gaussian", "sde_k"),
                 "total": ("sgd", "sde_k")}
        for part, (a_, b_) in pairs.items():
            diff = [ca - cb for ca, cb in zip(c[a_], c[b_], strict=True)]
            ax.plot(grid, [_poly(diff, e, ORDER) / e**3 if e > 0 else diff[3] for e in grid], color=colors[part],
                    label=f"{part}: engine order {ORDER}")
            ax.axhline(diff[3], color=colors[part], ls=":", lw=1)
            m = np.array([r["sim"][part]["mean"] for r in b["rows"]]) / etas**3
            h = 1.96 * np.array([r["sim"][part]["sem"] for r in b["rows"]]) / etas**3
            ax.errorbar(etas, m, yerr=h, fmt="o", color=colors[part], capsize=3, label=f"{part}: simulation")
        fit = next((q for q in j["per_T"] if q["T"] == T), None)  # what the verdict tests: fitted η³ coefficients
        for n, part in enumerate(("skew", "discretization", "total") if fit else ()):
            f = fit[part]
            ax.errorbar([(n - 1) * 0.012 * etas.max()], [f["eta3_coefficient_measured"]], yerr=[1.96 * f["sem"]],
                        fmt="s", ms=6, mec="k", color=colors[part], capsize=4, zorder=6,
                        label=f"{part}: fitted η³ coefficient at η → 0 (95% CI)")
        ax.axhline(b["rows"][0]["theory"]["leading_closed_form"]["skew"] / b["rows"][0]["eta"] ** 3, color="k", ls="--",
                   lw=1, label="Cor 5 alone (−T·SJ/6)")
        ax.set_xlabel("η")
        ax.set_ylabel("(test-loss difference) / η³")
        ax.set_title(f"GAUSS, T = {T}: SGD − SDE (k = {k}) and its two parts")
        eta_t_axis(ax, T)
        ax.legend(fontsize=7)
    figures = [save(fig, ctx.figure())]
    data = {"settings": cfg, "blocks": blocks, "rules": j, "statistics": {"S": st.S.item(), "J": st.J.item(),
                                                                         "C": st.C.item(), "H": st.H.item()}}
    notes = ["Dotted lines: each piece's exact η³ coefficient at k substeps; the SDE's k → ∞ coefficients come from "
             "exact polynomial extrapolation in 1/k of the engine's coefficients at k = 8…128.",
             "Cor 4's (T/2)·CηηH is SGD's excess over the noiseless ODE; over the SDE the order-η² difference vanishes "
             "at a minimum (docs/discrepancies.md #6)."]
    for p in j["per_T"]:
        zs = ", ".join(f"{q} {max(p[q]['z_engine']):.1f}" for q in ("skew", "discretization", "total"))
        notes.append(f"T = {p['T']}: largest pointwise z of the simulation against the order-{ORDER} engine: {zs} "
                     "(the η³ coefficients above are the verdict's test; at the largest η the discretization piece "
                     "also has visible orders ≥ 5).")
    return Outcome("GAUSS: SGD − SDE at order η³ is skew plus time discretization", CLAIM, measured, verdict, reason,
                   data, figures, notes)


def check(data: dict[str, Any]) -> list[str]:
    """Each piece's measured η³ coefficient within 4 SE of theory; the coupled SDE agrees with the library's."""
    problems = []
    for p in data["rules"]["per_T"]:
        for part in ("skew", "discretization", "total"):
            q = p[part]
            if abs(q["eta3_coefficient_measured"] - q["eta3_coefficient_k"]) > 4 * q["sem"] + 1e-3:
                problems.append(f"T={p['T']}: {part} η³ coefficient {q['eta3_coefficient_measured']:.4f} ± "
                                f"{q['sem']:.4f} is not {q['eta3_coefficient_k']:.4f}")
        if max(p["z_coupled_sde_vs_library_sde"]) > 4:
            problems.append(f"T={p['T']}: the coupled SDE disagrees with the library's sde optimizer")
    skew = data["blocks"][0]["rows"][0]["theory"]["leading_closed_form"]
    if not skew["skew"] < 0 < skew["discretization"]:
        problems.append("on GAUSS the skew and discretization terms should oppose (skew < 0 < discretization)")
    return problems


def assess(data: dict[str, Any]) -> Judgement:
    """The verdict by the common rules, on the fitted η³ coefficients (fit diff/η³ = a + bη, dof = #η − 2) per T:
    the skew piece vs Cor 5 and the total SGD − SDE vs the engine at the simulated substeps k (effect: Cor 5's
    skew coefficient against 0).  The printed reading "SGD − SDE is the skew term" is tested on the total."""
    claim, printed, notes = [], [], []
    for p, b in zip(data["rules"]["per_T"], data["blocks"], strict=True):
        dof = len(b["rows"]) - 2
        sk, to, di = p["skew"], p["total"], p["discretization"]
        claim.append(Comparison(f"T={p['T']}: skew η³ coefficient", sk["eta3_coefficient_measured"], sk["sem"],
                                sk["eta3_coefficient_limit"], 0.0, sk["eta3_coefficient_limit"], dof=dof))
        claim.append(Comparison(f"T={p['T']}: total η³ coefficient", to["eta3_coefficient_measured"], to["sem"],
                                to["eta3_coefficient_k"], 0.0, sk["eta3_coefficient_limit"], dof=dof))
        printed.append(Comparison(f"T={p['T']}: total vs skew alone", to["eta3_coefficient_measured"], to["sem"],
                                  sk["eta3_coefficient_limit"], 0.0,
                                  to["eta3_coefficient_k"] - sk["eta3_coefficient_limit"], dof=dof))
        notes.append(f"T={p['T']}: the discretization piece's η³ coefficient is {di['z_leading']:.1f} SE from the "
                     "engine at k substeps (a diagnostic of the split, not part of the claim)")
    j = decide(Family("SGD − SDE at order η³ vs Cor 5 and the engine", claim),
               Family("Cor 5's skew term as the whole difference", printed))
    extra = {"confirmed with a correction": " Cor 5's skew term is there with its printed size and sign, but time "
             "discretization adds +Tη³/16 on GAUSS, so SGD − SDE = −Tη³/48 + o(η³)."}.get(j.verdict, "")
    return Judgement(j.verdict, j.reason + extra + " " + "; ".join(notes) + ".", j.families)


def redraw(ctx: Context, data: dict[str, Any]) -> list[str]:
    """The figures again, from the saved numbers (``reproduce --rerender``)."""
    from types import SimpleNamespace

    st = SimpleNamespace(**{k: np.asarray(v) for k, v in data["statistics"].items()})
    return _outcome(ctx, data["settings"], data["blocks"], st).figures
