"""``helix-loop``: HELIX wrapped in a loop — SGD circulates; and multi-epoch HELIX (seed 001 §Cor 1, App. C.1).

Two measurements.

1. **The loop.**  HELIX-RING (:class:`~sgd_diagrams.landscapes.artificial.HelixRing`) bends HELIX' valley
   into a circle of radius R in R³ with m screw turns per loop (R = m, so that the ring is locally HELIX).
   The valley is a closed curve of global minima, so a gradient field has zero circulation around it; we
   measure SGD's *circulation*: the polar angle φ of (X, Y) is unwrapped along each trajectory (recorded
   every few steps), and the mean arc length travelled along the loop per step is R·E[φ_T − φ_0]/T, with
   the mean number of loops E[φ_T − φ_0]/2π.  Theory: the engine's resummed order-3 velocity of the ring
   at θ0 (slope of its tangential displacement between T₁ and 2T₁ once the transient has died) and Cor 1's
   η²/6.
2. **Multi-epoch HELIX.**  E epochs over N = T/E points (the same T): the velocity along z over the second
   half of the run, against the engine's resummed order-3 value for that schedule.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._trials import chunked_moments, new_figure, save, training_rows, trajectories, z_score
from .base import Context, Outcome
from .verdicts import Family, Judgement, decide, from_summary

__all__ = ["assess", "check", "ring_engine_velocity", "run"]

CLAIM = (
    "Seed 001, §\"SGD descends on a C-smoothed landscape\": \"Wrapping HELIX in a loop makes SGD circulate. This is "
    "possible because C∇H, unlike ∇(CH), is not a total derivative. In avoiding (Wei and Schwab 2019)'s constant-C "
    "assumption, we find that SGD's velocity field can have curl.\" App. C.1: \"By topologically quotienting the "
    "weight space, say by identifying points related by a translation by Δz = 200π, we may turn the line-shaped "
    "valley into a circle-shaped valley. Then SGD eternally travels, say, counterclockwise.\""
)


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"ring": {"turns": 4, "etas": [0.2], "T": 4000, "trials": 24, "record_every": 20},
                "epochs": {"eta": 0.2, "T": 800, "Es": [1, 4], "trials": 64}, "chunk": 64}
    return {"ring": {"turns": 6, "etas": [0.15, 0.2, 0.25], "T": 12000, "trials": 32, "record_every": 25},
            "epochs": {"eta": 0.1, "T": 4000, "Es": [1, 2, 4, 8], "trials": 128}, "chunk": 128}


def ring_engine_velocity(turns: int, eta: float) -> dict[str, float]:
    """The engine's resummed order-3 velocity along the ring at θ0 = (R, 0, 0): the tangential (Y) slope."""
    import sgd_diagrams as sd

    from ...landscapes.artificial import HelixRing

    exact = HelixRing(turns).to_finite(n_nodes=3)  # the loss is affine in x: 3 nodes are exact through order 5
    T1 = int(math.ceil(40 / eta))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d = [np.asarray(sd.predict(exact, sd.sgd(N=t, B=1, E=1), 3, [eta], "displacement", method="resummed")
                        .value[0]) for t in (T1, 2 * T1)]
    slope = (d[1] - d[0]) / T1
    return {"velocity": float(slope[1]), "radial": float(slope[0]), "vertical": float(slope[2]), "T1": T1}


def epoch_engine_velocity(eta: float, T: int, E: int) -> float:
    """The engine's z-velocity over (T/2, T] for E epochs of N = T/E points on HELIX (E = 1 or even)."""
    import sgd_diagrams as sd

    from ...landscapes.artificial import Helix

    exact = Helix().to_exact()
    N = T // E
    first = sd.sgd(N=T // 2, B=1, E=1) if E == 1 else sd.sgd(N=N, B=1, E=E // 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        z = [float(sd.predict(exact, s, 3, [eta], "displacement", method="resummed").value[0][2])
             for s in (first, sd.sgd(N=N, B=1, E=E))]
    return (z[1] - z[0]) / (T - T // 2)


def run(ctx: Context) -> Outcome:
    import sgd_diagrams as sd

    from ...landscapes.artificial import Helix, HelixRing

    cfg = _settings(ctx.quick)
    rc, ec = cfg["ring"], cfg["epochs"]
    ring = HelixRing(rc["turns"])
    R, T = ring.radius, rc["T"]
    total = len(rc["etas"]) * rc["trials"] * T + len(ec["Es"]) * ec["trials"] * ec["T"]
    bar = ctx.progress(total, "simulating", "trial-step")
    steps = list(range(0, T + 1, rc["record_every"]))
    ring_rows = []
    for eta in rc["etas"]:
        def compute(c: int, size: int, eta: float = eta) -> dict[str, np.ndarray]:
            rows = training_rows(ring, size, T, ctx.seed, c)
            th = trajectories(ring, sd.sgd(N=T, B=1, E=1), "sgd", eta, rows, ctx.seed, c, steps)
            phi = np.stack([np.arctan2(th[s][:, 1], th[s][:, 0]) for s in steps], axis=1)
            turn = np.unwrap(phi, axis=1)[:, -1] - phi[:, 0]
            half = np.unwrap(phi, axis=1)[:, len(steps) // 2] - phi[:, 0]
            radius = np.hypot(th[T][:, 0], th[T][:, 1])
            late = R * (turn - half) / (T - steps[len(steps) // 2])
            return {"arc_per_step": R * turn / T, "late_arc_per_step": late,
                    "loops": turn / (2 * math.pi), "radius_T": radius, "height_T": th[T][:, 2]}

        tick = (lambda n: bar.update(n * T)) if bar is not None else None
        sim = chunked_moments(ctx, f"helix-ring m={rc['turns']} eta={eta} T={T} every={rc['record_every']}",
                              rc["trials"], cfg["chunk"], compute, tick)
        theory = ctx.cached(f"ring engine m={rc['turns']} eta={eta}",
                            lambda eta=eta: ring_engine_velocity(rc["turns"], eta))
        ring_rows.append({"eta": eta, "sim": sim, "engine": theory, "eta2_over_6": eta**2 / 6})
    helix = Helix()
    epoch_rows = []
    for E in ec["Es"]:
        N, Te = ec["T"] // E, ec["T"]

        def compute_e(c: int, size: int, E: int = E, N: int = N, Te: int = Te) -> dict[str, np.ndarray]:
            rows = training_rows(helix, size, N, ctx.seed, c)
            th = trajectories(helix, sd.sgd(N=N, B=1, E=E), "sgd", ec["eta"], rows, ctx.seed, c, [Te // 2, Te])
            return {"velocity": (th[Te][:, 2] - th[Te // 2][:, 2]) / (Te - Te // 2)}

        tick = (lambda n: bar.update(n * ec["T"])) if bar is not None else None
        sim = chunked_moments(ctx, f"helix epochs E={E} N={N} eta={ec['eta']}", ec["trials"], cfg["chunk"],
                              compute_e, tick)
        theory = ctx.cached(f"helix epochs engine E={E} T={Te} eta={ec['eta']}",
                            lambda E=E, Te=Te: epoch_engine_velocity(ec["eta"], Te, E))
        epoch_rows.append({"E": E, "N": N, "sim": sim, "engine": theory})
    if bar is not None:
        bar.close()
    return _outcome(ctx, cfg, R, ring_rows, epoch_rows)


def _judge(ring_rows: list[dict[str, Any]], epoch_rows: list[dict[str, Any]]) -> dict[str, Any]:
    arc = [r["sim"]["arc_per_step"] for r in ring_rows]
    z_zero = [z_score(a["mean"], 0.0, a["sem"]) for a in arc]
    z_engine = [z_score(a["mean"], r["engine"]["velocity"], a["sem"]) for a, r in zip(arc, ring_rows, strict=True)]
    rel = [a["mean"] / r["engine"]["velocity"] - 1 for a, r in zip(arc, ring_rows, strict=True)]
    loops = [r["sim"]["loops"]["mean"] for r in ring_rows]
    z_epochs = [z_score(r["sim"]["velocity"]["mean"], r["engine"], r["sim"]["velocity"]["sem"]) for r in epoch_rows]
    return {"z_circulation_vs_zero": z_zero, "circulates": all(z > 3 for z in z_zero) and max(loops) >= 1,
            "mean_loops": loops, "z_ring_vs_engine": z_engine, "ring_relative_to_engine": rel,
            "ring_matches_engine": all(z < 3 for z in z_engine), "z_epochs_vs_engine": z_epochs,
            "epochs_match_engine": all(z < 3 for z in z_epochs)}


def _outcome(ctx: Context, cfg: dict[str, Any], R: float, ring_rows: list[dict[str, Any]],
             epoch_rows: list[dict[str, Any]]) -> Outcome:
    rc, ec = cfg["ring"], cfg["epochs"]
    j = _judge(ring_rows, epoch_rows)
    rel = ", ".join(f"{100 * x:+.1f}%" for x in j["ring_relative_to_engine"])
    if j["circulates"] and j["ring_matches_engine"] and j["epochs_match_engine"]:
        verdict = "confirmed"
        reason = (f"SGD circulates around the ring: {max(j['mean_loops']):.2f} loops on average at "
                  f"η = {rc['etas'][-1]} (circulation ≥ {min(j['z_circulation_vs_zero']):.0f} SE from 0, which no "
                  "gradient field allows), at "
                  f"the engine's local HELIX velocity ({rel}; z ≤ {max(j['z_ring_vs_engine']):.1f}); multi-epoch HELIX "
                  f"drifts at the engine's velocity for every E (z ≤ {max(j['z_epochs_vs_engine']):.1f}).")
    elif j["circulates"]:
        verdict = "confirmed with a correction"
        reason = (f"SGD circulates ({max(j['mean_loops']):.2f} loops at η = {rc['etas'][-1]}, ≥ "
                  f"{min(j['z_circulation_vs_zero']):.0f} SE from 0), but not at the engine's velocity at θ0 "
                  "everywhere: "
                  f"ring vs engine {rel} (z up to {max(j['z_ring_vs_engine']):.1f}); multi-epoch z up to "
                  f"{max(j['z_epochs_vs_engine']):.1f}. The loop's curvature (1/R = {1 / R:.3f}) changes the speed at "
                  "orders the order-3 engine at θ0 does not see.")
    else:
        verdict = "refuted"
        reason = f"No circulation resolved (z vs 0: {', '.join(f'{z:.1f}' for z in j['z_circulation_vs_zero'])})."

    def fmt(s: dict[str, Any], scale: float = 1.0) -> str:
        return f"{scale * s['mean']:.4e} ± {scale * 1.96 * s['sem']:.1e}"

    lines = ["| η | loops in T steps | arc per step (sim) | late half | engine at θ0 | η²/6 | radius at T |",
             "|---|---|---|---|---|---|---|"]
    for r in ring_rows:
        s = r["sim"]
        lines.append(f"| {r['eta']} | {s['loops']['mean']:.2f} ± {1.96 * s['loops']['sem']:.2f} | "
                     f"{fmt(s['arc_per_step'])} | "
                     f"{fmt(s['late_arc_per_step'])} | {r['engine']['velocity']:.4e} | {r['eta2_over_6']:.4e} | "
                     f"{s['radius_T']['mean']:.3f} |")
    lines2 = ["| E | N | z-velocity over (T/2, T] (sim) | engine |", "|---|---|---|---|"]
    for r in epoch_rows:
        lines2.append(f"| {r['E']} | {r['N']} | {fmt(r['sim']['velocity'])} | {r['engine']:.4e} |")
    measured = (
        f"**Loop.** HELIX-RING with m = {rc['turns']} turns, R = {R:g}, from θ0 = (R, 0, 0); T = {rc['T']} steps of "
        f"one-epoch batch-1 SGD; φ unwrapped from positions every {rc['record_every']} steps; mean ± 95% CI over "
        f"{rc['trials']} trials (seed {ctx.seed}).\n\n" + "\n".join(lines)
        + f"\n\n**Multi-epoch HELIX.** η = {ec['eta']}, T = {ec['T']} steps, E epochs over N = T/E points (reused "
        f"in the same order), {ec['trials']} trials.\n\n" + "\n".join(lines2)
        + "\n\nRules: circulation is resolved when the mean arc per step is > 3 SE from 0 and SGD completes ≥ 1 loop "
        "on average; a simulation matches the engine when within 3 SE.")
    fig, (ax, ax2) = new_figure(2)
    etas = np.array([r["eta"] for r in ring_rows])
    grid = np.linspace(etas.min() * 0.8, etas.max() * 1.1, 30)
    ax.plot(grid, grid**2 / 6, "k--", label="Cor 1: η²/6")
    ax.plot(etas, [r["engine"]["velocity"] for r in ring_rows], "ks-", label="engine at θ0 (resummed order 3)")
    for key, label, off in (("arc_per_step", "SGD: arc per step, whole run", -0.01),
                            ("late_arc_per_step", "SGD: second half", 0.01)):
        m = np.array([r["sim"][key]["mean"] for r in ring_rows])
        h = 1.96 * np.array([r["sim"][key]["sem"] for r in ring_rows])
        ax.errorbar(etas * (1 + off), m, yerr=h, fmt="o", capsize=3, label=label)
    ax.set_xlabel("η")
    ax.set_ylabel("distance along the loop per step")
    ax.set_title(f"HELIX-RING (m = R = {rc['turns']}): SGD circulates")
    ax.legend(fontsize=8)
    Es = [r["E"] for r in epoch_rows]
    ax2.errorbar(Es, [r["sim"]["velocity"]["mean"] for r in epoch_rows],
                 yerr=[1.96 * r["sim"]["velocity"]["sem"] for r in epoch_rows], fmt="o", capsize=3, label="SGD")
    ax2.plot(Es, [r["engine"] for r in epoch_rows], "ks-", label="engine (resummed order 3)")
    ax2.axhline(ec["eta"] ** 2 / 6, color="k", ls="--", lw=1, label="η²/6")
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel(f"epochs E (N = {ec['T']}/E, same T)")
    ax2.set_ylabel("z-velocity per step, second half")
    ax2.set_title(f"multi-epoch HELIX, η = {ec['eta']}")
    ax2.legend(fontsize=8)
    figures = [save(fig, ctx.figure())]
    data = {"settings": cfg, "radius": R, "ring": ring_rows, "epochs": epoch_rows, "rules": j, "seed": ctx.seed}
    notes = ["HELIX itself is 2π-periodic in z, so the paper's quotient by Δz = 200π is a circle of 100 turns; "
             "HELIX-RING realises the loop in Euclidean R³ instead (the valley is a geometric circle), so the "
             "circulation is a property of the velocity field in R³, not of a quotient.",
             "The ring's loss uses cos(mφ), sin(mφ) as polynomials in X/r, Y/r (no atan2), so the engine "
             "differentiates it exactly; its derivatives are tested against finite differences."]
    return Outcome("HELIX in a loop: SGD circulates; multi-epoch HELIX", CLAIM, measured, verdict, reason, data,
                   figures, notes)


def check(data: dict[str, Any]) -> list[str]:
    """SGD's circulation is > 3 SE from 0 and ≥ 1 loop; multi-epoch velocities within 4 SE of the engine."""
    problems = []
    j = data["rules"]
    if not j["circulates"]:
        problems.append(f"no circulation: z vs 0 {j['z_circulation_vs_zero']}, loops {j['mean_loops']}")
    for r in data["ring"]:
        if not 0.5 < r["sim"]["arc_per_step"]["mean"] / r["engine"]["velocity"] < 1.5:
            problems.append(f"η={r['eta']}: ring speed is not within 50% of the engine's local velocity")
    for r, z in zip(data["epochs"], j["z_epochs_vs_engine"], strict=True):
        if z > 4:
            problems.append(f"E={r['E']}: velocity {r['sim']['velocity']['mean']:.3e} is {z:.1f} SE from the engine")
    return problems


def assess(data: dict[str, Any]) -> Judgement:
    """The verdict by the common rules, in two parts.  Circulation (the paper's claim): SGD's arc per step around
    HELIX-RING is tested against 0 at each η (Holm); it is seen when some η rejects 0, and the test has power when
    the engine's velocity would be resolved.  Drift: multi-epoch HELIX's velocity at each E vs the engine (exact
    on HELIX; effect: that velocity against 0).  The ring's speed against the straight-HELIX velocity is shown as a
    diagnostic only: the engine's velocity is HELIX's, and the ring's curvature is not in it."""
    ring = data["ring"]
    circulation = Family("circulation: SGD's arc per step around the ring vs 0", [
        from_summary(f"η={r['eta']:g}", r["sim"]["arc_per_step"], 0.0, r["engine"]["velocity"], x=r["eta"])
        for r in ring])
    drift = Family("multi-epoch HELIX drift vs the engine", [
        from_summary(f"E={r['E']}", r["sim"]["velocity"], r["engine"], r["engine"]) for r in data["epochs"]])
    speed = Family("diagnostic, not part of the verdict: the ring's arc per step vs the straight-HELIX velocity", [
        from_summary(f"η={r['eta']:g}", r["sim"]["arc_per_step"], r["engine"]["velocity"], r["engine"]["velocity"],
                     x=r["eta"]) for r in ring])
    j = decide(drift)
    fams = [circulation, drift, speed]
    if not circulation.rejects:
        verdict = "refuted" if circulation.powered else "inconclusive"
        return Judgement(verdict, f"SGD's circulation around the ring is not distinguishable from 0 "
                         f"({'with' if circulation.powered else 'without'} power). {j.reason}", fams)
    rel = ", ".join(f"{(r['sim']['arc_per_step']['mean'] / r['engine']['velocity'] - 1) * 100:+.1f} %" for r in ring)
    return Judgement(j.verdict, f"SGD circulates around the loop (arc per step ≠ 0 at "
                     f"{sum(circulation.rejected)} of {len(ring)} η, Holm; a curl no "
                     f"gradient field allows). {j.reason} On the ring, the speed is the straight-HELIX velocity to "
                     f"{rel} (the ring's curvature is not in that prediction).", fams)


def redraw(ctx: Context, data: dict[str, Any]) -> list[str]:
    """The figures again, from the saved numbers (``reproduce --rerender``)."""
    return _outcome(ctx, data["settings"], data["radius"], data["ring"], data["epochs"]).figures
