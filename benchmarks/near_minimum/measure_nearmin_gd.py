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
out = {}
t = time.time()
for T, trials in ((200, 300), (4000, 100)):
    sim = sd.simulate(near, sd.gd(N=20, T=T), ["sgd"], eta=[0.02, 0.05, 0.1], trials=trials, seed=4)
    out[T] = {m: {"mean": sim.mean(m).tolist(), "sem": sim.sem(m).tolist()} for m in ("test-loss", "gen-gap")}
    print(T, out[T], time.time() - t, flush=True)
json.dump(out, open("out/nearmin_gdsim.json", "w"), indent=1)
