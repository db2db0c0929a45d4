import json
import sys
import time
import warnings

import torch

import sgd_diagrams as sd

torch.set_num_threads(1)  # one thread: many threads on a busy 2-core machine cost more than they give


warnings.simplefilter("ignore")
base = sd.landscape("convnet-digits")
near = base.with_init(sd.load_parameter_vector(sys.argv[1], base))
t = time.time()
sim = sd.simulate(near, sd.gd(N=20, T=1000), ["sgd"], eta=[0.1], trials=60, seed=4, execution=sd.Execution(force=True))
out = {
    "T": 1000,
    "eta": [0.1],
    **{m: {"mean": sim.mean(m).tolist(), "sem": sim.sem(m).tolist()} for m in ("test-loss", "gen-gap")},
    "seconds": time.time() - t,
}
json.dump(out, open("out/nearmin_gdsim_T1000.json", "w"), indent=1)
print(out)
