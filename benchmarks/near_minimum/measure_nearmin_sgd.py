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
N, E = int(sys.argv[2]), int(sys.argv[3])
t = time.time()
sim = sd.simulate(near, sd.sgd(N=N, B=1, E=E), ["sgd"], eta=[0.02, 0.05, 0.1], trials=300, seed=5)
out = {
    "N": N,
    "E": E,
    "l0": float(near.test_loss(near.init)),
    **{m: {"mean": sim.mean(m).tolist(), "sem": sim.sem(m).tolist()} for m in ("test-loss", "gen-gap", "train-loss")},
    "seconds": time.time() - t,
}
json.dump(out, open(f"out/nearmin_sim_N{N}_E{E}.json", "w"), indent=1)
print(out)
