"""Measurement A: digits convnet at θ0, resummed (matrix-free) vs Taylor vs simulated SGD."""

import json
import sys
import time
import warnings

import torch

import sgd_diagrams as sd

torch.set_num_threads(1)  # one thread: many threads on a busy 2-core machine cost more than they give


warnings.simplefilter("ignore")
land = sd.landscape("convnet-digits")
sched = sd.sgd(N=10, B=1, E=1)
etas = [0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3]
out = {"eta": etas, "T": 10, "l0": float(land.test_loss(land.init))}
which = sys.argv[1]
if which == "sim":
    t = time.time()
    sim = sd.simulate(land, sched, ["sgd"], eta=[0.15, 0.2, 0.3], trials=1000, seed=0)
    out["sim"] = {
        "eta": [0.15, 0.2, 0.3],
        "mean": sim.mean("test-loss").tolist(),
        "sem": sim.sem("test-loss").tolist(),
        "seconds": time.time() - t,
    }
else:
    k, order, samples = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    t = time.time()
    p = sd.predict(
        land,
        sched,
        order,
        etas,
        "test-loss",
        "resummed",
        sampling=sd.Sampling(samples=samples, replications=8, krylov_dim=k, seed=1),
        execution=sd.Execution(force=True),
    )
    out.update(
        {
            "k": k,
            "order": order,
            "samples": samples,
            "value": p.value.tolist(),
            "stderr": p.stderr.tolist(),
            "details": p.details,
            "seconds": time.time() - t,
        }
    )
json.dump(out, open(f"out/theta0_{which}_{'_'.join(sys.argv[2:])}.json", "w"), indent=1)
print(json.dumps(out)[:1500])
