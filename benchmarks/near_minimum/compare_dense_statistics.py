"""Dense path: standard errors of the old statistic (blocks of single samples) vs the group statistic."""

import warnings

import numpy as np

import sgd_diagrams as sd
from sgd_diagrams.estimation.evaluators import plan_groups, plan_samples, replication_evaluators
from sgd_diagrams.estimation.group_statistic import dense_group_evaluators
from sgd_diagrams.theory.series import taylor_series

warnings.simplefilter("ignore")
land = sd.landscape("example")
sched = sd.sgd(N=10, B=1, E=2)
for q in ("test-loss", "gen-gap"):
    res = {}
    for name, plan, evs in (
        ("blocks of single samples (old)", plan_samples(4000, 3, 20), None),
        ("group means + per-sample (new)", plan_groups(4000, 3, 20), None),
    ):
        if "old" in name:
            evs = replication_evaluators(land, plan, 2, seed=0, method="dense")
        else:
            evs = dense_group_evaluators(land, plan, 2, seed=0)
        vals = np.array([taylor_series(land, sched, 2, q, evaluator=ev)(np.array([0.1]))[0] for ev in evs])
        res[name] = (vals.mean(), vals.std(ddof=1) / np.sqrt(len(vals)))
    exact = sd.predict(land, sched, 2, 0.1, q).value[0]
    print(q, "exact", round(exact, 6), {k: (round(v[0], 6), round(v[1], 6)) for k, v in res.items()})
