"""Calibration of the ``trusted`` flag (issue #23): confusion tables of trusted/untrusted × right/wrong.

**Exact part** (default ≥ 500 cases): random finite landscapes (1–2 weights, 2–3 data points, polynomial and
smooth losses) and the bundled ``example`` × random schedules (in-order SGD, GD, batch sizes, epochs; lr
schedules cosine / linear / warm-up / step decay; heavy-ball momentum 0, 0.5, 0.9) × Taylor orders 1–4 × η
from 1 % of the curvature radius 1/(λ_max·Σm_t/(1−β)) to 10× beyond it, for test loss, train loss and gen
gap.  The truth is the exact expectation of SGD over every training sequence (enumeration,
:func:`sgd_diagrams.optimizers.exact_expectation.exact_expectation`); a prediction is **right** when
|P − truth| ≤ rtol·|truth − l(θ0)| (rtol = the flag's own default tolerance), **wrong** otherwise (also
when SGD itself diverges).

**Network part** (``--nets``, default on; ≥ 30 cases): a tanh MLP with elementwise MSE (plain SGD and
momentum 0.5) and a ReLU classifier with cross-entropy, orders 1–3 predicted from one ``sd.measure`` each,
against ``sd.simulate``.  There the judgement allows for noise: wrong when
|P − sim| − rtol·|sim − l(θ0)| > 3·√(SE_sim² + se_P²).  Trial and sample counts are small enough for a
loaded 2-core machine; the SEs carry that choice.

Both the new rule (``Prediction.trusted``, :func:`sgd_diagrams.theory.trust.assess_trust`) and the rule
before issue #23 (:func:`sgd_diagrams.theory.trust.legacy_trust_region`: last order ≤ half the one before,
η·λ_max < 2) are scored on the same cases.  Goals: trusted-but-wrong ≤ 5 % of trusted cases,
untrusted-but-right ≤ 30 % of untrusted cases, order 1 not trusted where it is wrong.

Run: ``python benchmarks/bench_trust.py [--cases 520] [--seed 0] [--no-nets] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import defaultdict

import numpy as np

import sgd_diagrams as sd
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes import as_exact
from sgd_diagrams.landscapes.finite import landscape_from_json
from sgd_diagrams.optimizers.exact_expectation import exact_expectation
from sgd_diagrams.theory.trust import DEFAULT_RTOL, legacy_trust_region

ORDERS = (1, 2, 3, 4)
ETA_FACTORS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
LR_SPECS = (None, None, "cosine", "linear", "warmup:2", "step:0.5@2")
MOMENTA = (0.0, 0.0, 0.5, 0.9)
QUANTITIES = ("test-loss", "test-loss", "train-loss", "gen-gap")
MAX_SEQUENCES = 20_000


def random_landscape(rng: np.random.Generator, index: int):
    """A random finite landscape: quadratic wells, cubic/quartic terms, a smooth non-polynomial coupling."""
    dim, k = int(rng.integers(1, 3)), int(rng.integers(2, 4))
    probs = rng.dirichlet(np.ones(k))
    points = []
    for j in range(k):
        terms = []
        for i in range(dim):
            terms.append(f"{rng.uniform(0.3, 2.0):.3f}*(t{i} - ({rng.normal():.3f}))**2/2")
        terms.append(f"({rng.normal(0, 0.5):.3f})*t0**3/6")
        terms.append(f"{rng.uniform(0, 0.5):.3f}*t0**4/24")
        if dim == 2:
            terms.append(f"({rng.normal(0, 0.5):.3f})*t0*t1")
            terms.append(f"({rng.normal(0, 0.3):.3f})*tanh(t0 - t1)")
        else:
            terms.append(f"({rng.normal(0, 0.3):.3f})*log(1 + exp(t0))")
        points.append({"prob": float(probs[j]), "loss": " + ".join(terms)})
    obj = {"kind": "finite", "dim": dim, "init": [round(float(x), 3) for x in rng.normal(0, 0.7, dim)],
           "points": points}
    return landscape_from_json(obj, name=f"random{index}")


def random_schedule(rng: np.random.Generator, k: int):
    """A random small schedule (K^N ≤ MAX_SEQUENCES) with an lr schedule and momentum drawn at random."""
    n_max = max(2, min(6, int(np.log(MAX_SEQUENCES) / np.log(k))))
    n = int(rng.integers(2, n_max + 1))
    if rng.random() < 0.25:
        sched = sd.gd(N=n, T=int(rng.integers(2, 7)))
    else:
        b = int(rng.choice([d for d in (1, 2, 3) if n % d == 0]))
        sched = sd.sgd(N=n, B=b, E=int(rng.integers(1, 4)))
    spec = LR_SPECS[int(rng.integers(len(LR_SPECS)))]
    if spec is not None and sched.T >= 3:
        sched = sched.with_lr(spec)
    beta = float(MOMENTA[int(rng.integers(len(MOMENTA)))])
    if beta:
        sched = sched.with_momentum(beta)
    return sched


def _lambda_max(exact) -> float:
    lam = np.linalg.eigvalsh(np.atleast_2d(exact.mean_derivative(2)))
    return float(np.max(np.abs(lam))) if lam.size else 0.0


def _truth(exact, schedule, etas, quantity) -> np.ndarray:
    """Exact E[quantity] per η (NaN where SGD diverges for some training sequence)."""
    out = np.full(etas.size, np.nan)
    try:
        return exact_expectation(exact, schedule, etas)[quantity]
    except SgdDiagramsError:
        for i, e in enumerate(etas):
            try:
                out[i] = exact_expectation(exact, schedule, [e])[quantity][0]
            except SgdDiagramsError:
                pass
    return out


def exact_cases(n_cases: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    index = 0
    while len(rows) < n_cases:
        land = sd.landscape("example") if index % 5 == 0 else random_landscape(rng, index)
        exact = as_exact(land)
        schedule = random_schedule(rng, exact.n_points)
        quantity = QUANTITIES[int(rng.integers(len(QUANTITIES)))]
        index += 1
        lam = _lambda_max(exact)
        steps = float(np.sum(schedule.lr_multipliers())) / (1.0 - schedule.momentum)
        radius = 1.0 / max(lam * steps, 1e-12)
        etas = radius * np.array(ETA_FACTORS)
        truth = _truth(exact, schedule, etas, quantity)
        for order in ORDERS:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    p = sd.predict(exact, schedule, order, etas, quantity)
                    series = sd.taylor_series(exact, schedule, order, quantity)
            except SgdDiagramsError:
                continue  # a prediction refused (not finite): nothing shown, nothing to judge
            c0 = float(np.asarray(series.coefficients[0]))
            old = legacy_trust_region(series.coefficients, etas, lam)
            for i, eta in enumerate(etas):
                right = bool(np.isfinite(truth[i]) and abs(p.value[i] - truth[i]) <= DEFAULT_RTOL * abs(truth[i] - c0))
                rows.append({"part": "exact", "landscape": land.name, "schedule": repr(schedule), "quantity": quantity,
                             "order": order, "eta_over_radius": float(ETA_FACTORS[i]), "eta": float(eta),
                             "value": float(p.value[i]), "truth": float(truth[i]), "right": right,
                             "trusted": bool(p.trusted[i]), "trusted_old": bool(old[i]),
                             "error_estimate": float(p.error_estimate[i])})
    return rows


def _nets():
    import torch
    from torch import nn

    torch.manual_seed(0)
    x = torch.randn(400, 3, dtype=torch.float64)
    y = torch.tanh(x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)).unsqueeze(1)
    mlp = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    mlp_land = sd.TorchLandscape(mlp, lambda out, t: ((out - t) ** 2).mean(), x, y, name="tanh-mlp")
    xc = torch.randn(400, 4, dtype=torch.float64)
    yc = (xc[:, 0] + 0.5 * xc[:, 1] > 0).long() + (xc[:, 2] > 0.8).long()
    relu = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    relu_land = sd.TorchLandscape(relu, nn.CrossEntropyLoss(), xc, yc, name="relu-classifier")
    return [(mlp_land, sd.sgd(N=10), "test-loss"), (mlp_land, sd.sgd(N=10).with_momentum(0.5), "test-loss"),
            (relu_land, sd.sgd(N=10), "test-loss"), (relu_land, sd.sgd(N=10), "gen-gap")]


def net_cases(samples: int, trials: int, seed: int) -> list[dict]:
    rows: list[dict] = []
    etas = np.array([0.003, 0.01, 0.03, 0.1])
    stats_of: dict[str, object] = {}
    for land, schedule, quantity in _nets():
        if land.name not in stats_of:
            stats_of[land.name] = sd.measure(land, 3, sd.Sampling(samples=samples, seed=seed), kinds=["test", "train"])
        stats = stats_of[land.name]
        sim = sd.simulate(land, schedule, eta=etas, trials=trials, seed=seed)
        mean, sem = sim.mean(quantity), sim.sem(quantity)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c0 = float(sd.predict(stats, schedule, 0, etas[:1], quantity).value[0])
            for order in (1, 2, 3):
                p = sd.predict(stats, schedule, order, etas, quantity)
                series_coefficients = _stats_coefficients(stats, schedule, order, quantity, etas)
                old = legacy_trust_region(series_coefficients, etas, 0.0)
                for i, eta in enumerate(etas):
                    noise = 3.0 * float(np.hypot(sem[i], p.stderr[i]))
                    off = abs(p.value[i] - mean[i]) - DEFAULT_RTOL * abs(mean[i] - c0)
                    rows.append({"part": "nets", "landscape": land.name, "schedule": repr(schedule),
                                 "quantity": quantity, "order": order, "eta": float(eta),
                                 "value": float(p.value[i]), "stderr": float(p.stderr[i]), "sim": float(mean[i]),
                                 "sim_sem": float(sem[i]), "right": bool(off <= noise),
                                 "trusted": bool(p.trusted[i]), "trusted_old": bool(old[i]),
                                 "error_estimate": float(p.error_estimate[i])})
    return rows


def _stats_coefficients(stats, schedule, order, quantity, etas) -> list:
    """c_0..c_order of the estimated series, recovered from predictions at order−1 and order (exact algebra)."""
    coeffs = []
    prev = np.zeros(etas.size)
    for k in range(order + 1):
        v = sd.predict(stats, schedule, k, etas, quantity).value
        coeffs.append(float(np.mean((v - prev) / etas**k)))
        prev = v
    return coeffs


def confusion(rows: list[dict], key: str) -> dict:
    t = [r for r in rows if r[key]]
    u = [r for r in rows if not r[key]]
    tw = sum(not r["right"] for r in t)
    ur = sum(r["right"] for r in u)
    return {"cases": len(rows), "trusted_right": len(t) - tw, "trusted_wrong": tw, "untrusted_right": ur,
            "untrusted_wrong": len(u) - ur, "trusted_but_wrong": tw / max(len(t), 1),
            "untrusted_but_right": ur / max(len(u), 1)}


def table(rows: list[dict], title: str) -> list[str]:
    lines = [f"### {title}", "", "| rule | cases | trusted & right | trusted & wrong | untrusted & right | "
             "untrusted & wrong | trusted-but-wrong | untrusted-but-right |", "|---|---|---|---|---|---|---|---|"]
    for key, name in (("trusted_old", "before (#23)"), ("trusted", "after")):
        c = confusion(rows, key)
        lines.append(f"| {name} | {c['cases']} | {c['trusted_right']} | {c['trusted_wrong']} | {c['untrusted_right']} "
                     f"| {c['untrusted_wrong']} | {100 * c['trusted_but_wrong']:.1f} % | "
                     f"{100 * c['untrusted_but_right']:.1f} % |")
    by_order = defaultdict(list)
    for r in rows:
        by_order[r["order"]].append(r)
    lines += ["", "| order | cases | trusted-but-wrong before → after | untrusted-but-right before → after |",
              "|---|---|---|---|"]
    for order in sorted(by_order):
        a, b = confusion(by_order[order], "trusted_old"), confusion(by_order[order], "trusted")
        lines.append(f"| {order} | {a['cases']} | {a['trusted_wrong']}/{a['trusted_wrong'] + a['trusted_right']} → "
                     f"{b['trusted_wrong']}/{b['trusted_wrong'] + b['trusted_right']} | "
                     f"{a['untrusted_right']}/{a['untrusted_right'] + a['untrusted_wrong']} → "
                     f"{b['untrusted_right']}/{b['untrusted_right'] + b['untrusted_wrong']} |")
    return lines + [""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=520, help="exact cases (landscape × schedule × order × eta)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-nets", action="store_true", help="skip the network part")
    p.add_argument("--samples", type=int, default=3000, help="samples of each net's measurement")
    p.add_argument("--trials", type=int, default=1000, help="simulated trials per eta on the nets")
    p.add_argument("--json", help="write every case here")
    args = p.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    t0 = time.perf_counter()
    rows = exact_cases(args.cases, args.seed)
    t1 = time.perf_counter()
    out = table(rows, f"exact cases (enumeration), rtol = {DEFAULT_RTOL:g}  [{t1 - t0:.0f} s]")
    nets: list[dict] = []
    if not args.no_nets:
        nets = net_cases(args.samples, args.trials, args.seed)
        out += table(nets, f"networks vs simulation ({args.samples} samples, {args.trials} trials per eta)  "
                           f"[{time.perf_counter() - t1:.0f} s]")
    print("\n".join(out))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"exact": rows, "nets": nets}, fh, indent=1)


if __name__ == "__main__":
    main()
