import json
import time
import warnings

import torch

import sgd_diagrams as sd

torch.set_num_threads(1)  # one thread: many threads on a busy 2-core machine cost more than they give


warnings.simplefilter("ignore")
land = sd.landscape("convnet-digits")
sched = sd.sgd(N=10, B=1, E=1)
res = {}
for k in (8, 24, 48):
    t = time.time()
    p = sd.predict(
        land,
        sched,
        2,
        [0.01, 0.05, 0.1],
        "test-loss",
        "resummed",
        sampling=sd.Sampling(samples=3000, replications=6, krylov_dim=k, seed=1),
        execution=sd.Execution(force=True),
    )
    res[k] = {
        "change": p.details["change"],
        "captured": p.details["captured_gradient_noise"],
        "gepsample": p.details["gradient_equivalents_per_sample"],
        "s": time.time() - t,
    }
    print(k, res[k], flush=True)
json.dump(res, open("out/diag_k.json", "w"), indent=1)
