"""Near-minimum measurement B (predictions): one pipeline per replication, shared by every quantity and form."""

import json
import sys
import time
import warnings

import numpy as np
import torch

import sgd_diagrams as sd
from sgd_diagrams.estimation.evaluators import draw_rows, plan_groups
from sgd_diagrams.estimation.group_statistic import GroupStatisticEvaluator
from sgd_diagrams.estimation.krylov import CURVATURE_FLOOR, _Dim, _factory, _keep_positive, _limit, _sample_torch
from sgd_diagrams.theory.resummation import resummed_prediction

torch.set_num_threads(1)  # one thread: many threads on a busy 2-core machine cost more than they give

warnings.simplefilter("ignore")
base = sd.landscape("convnet-digits")
near = base.with_init(sd.load_parameter_vector(sys.argv[1], base))
k, order, samples, R = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
N, E = int(sys.argv[6]), int(sys.argv[7])
sched = sd.sgd(N=N, B=1, E=E)
etas = np.array([0.02, 0.05, 0.1])
plan = plan_groups(samples, max(order, 2) + 1, R)
rows = draw_rows(near, plan.used, 3).reshape((R, plan.groups, plan.per_group))

out = {"k": k, "order": order, "samples": samples, "R": R, "eta": etas.tolist(), "T": sched.T}
gd_sched = sd.gd(N=N, T=N * E)
keys = [(q, f) for q in ("test-loss", "gen-gap") for f in ("resummed", "gd", "gd-limit")]
vals = {key: [] for key in keys}
info = {"negative": [], "excluded": [], "top": [], "horizon": [], "captured": []}
t0 = time.time()
for r in range(R):
    source, rb = _sample_torch(near, rows[r], plan, k, False, r)
    fac = _factory(near, None, rows[r])
    ev = GroupStatisticEvaluator(source)
    pos_source, Zp, dropped = _keep_positive(fac, rb, CURVATURE_FLOOR)
    # the positive-curvature source reuses nothing; build it from the kept Ritz vectors
    ev_pos = GroupStatisticEvaluator(pos_source)
    info["negative"].append(rb.values[rb.values < 0].tolist())
    info["excluded"].append(len(dropped))
    info["top"].append(float(rb.values.max()))
    full = fac(None).samples(0, 1)
    proj = source.samples(0, 1)
    info["captured"].append(float(((proj - proj.mean(0)) ** 2).sum() / ((full - full.mean(0)) ** 2).sum()))
    for q in ("test-loss", "gen-gap"):
        for f, sch in (("resummed", sched), ("gd", gd_sched)):
            v = resummed_prediction(_Dim(k), sch, order, etas, q, evaluator=ev, force=True).value
            v0 = resummed_prediction(_Dim(k), sch, 0, etas, q, evaluator=ev, force=True).value
            vals[(q, f)].append((v, v - v0))
        lv, T = _limit(Zp.shape[1], gd_sched, order, etas, q, ev_pos, "epochs", True)
        l0 = resummed_prediction(_Dim(Zp.shape[1]), gd_sched, 0, etas, q, evaluator=ev_pos, force=True).value
        vals[(q, "gd-limit")].append((lv, lv - l0))
        info["horizon"].append(T)
    print(r, time.time() - t0, flush=True)
for (q, f), lst in vals.items():
    a = np.array([x[0] for x in lst])
    c = np.array([x[1] for x in lst])
    out[f"{q}/{f}"] = {
        "value": a.mean(0).tolist(),
        "stderr": (a.std(0, ddof=1) / np.sqrt(R)).tolist(),
        "change": c.mean(0).tolist(),
        "change_stderr": (c.std(0, ddof=1) / np.sqrt(R)).tolist(),
    }
out["info"] = {
    "negative_count_mean": float(np.mean([len(n) for n in info["negative"]])),
    "most_negative": float(min([min(n) for n in info["negative"] if n] or [0.0])),
    "excluded_mean": float(np.mean(info["excluded"])),
    "largest_ritz": float(np.mean(info["top"])),
    "horizon_max": int(max(info["horizon"])),
    "captured_gradient_noise": float(np.mean(info["captured"])),
}
out["seconds"] = time.time() - t0
json.dump(out, open(f"out/nearmin_pred_N{N}_E{E}.json", "w"), indent=1)
print(json.dumps(out))
