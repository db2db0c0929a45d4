import sys
import time

import torch

import sgd_diagrams as sd
from sgd_diagrams.landscapes.checkpoints import load_parameter_vector, save_parameter_vector

torch.set_num_threads(1)  # one thread: many threads on a busy 2-core machine cost more than they give


land = sd.landscape("convnet-digits")
src, steps, eta, dst = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if src != "-":
    land = land.with_init(load_parameter_vector(src, land))
t = time.time()
for i in range(steps // 100):
    land = land.pretrained(100, eta)
    print(i, land.pretraining["train_loss_after"], land.pretraining["grad_norm_after"], time.time() - t, flush=True)
    save_parameter_vector(dst, land.init.double().numpy())
