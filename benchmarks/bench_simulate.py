"""End to end: ``sgd_diagrams.simulate`` on convnet-digits vs a plain PyTorch loop a user would write.

Run by hand (one thread each, both in this process, paired back to back)::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulate.py [--trials 1000,200] [--loop-trials 40,8] [--repeats 2]

For each of the papers' N = T = 10 and N = T = 100 (SGD, B = 1, E = 1, η = 0.01) it times

* **project** — ``sgd_diagrams.simulate(land, schedule, ["sgd"], eta, trials)``: the whole public call
  (training sets, vectorized training, evaluation of test loss, accuracy and train loss, statistics);
* **plain loop** — the ~50-line loop below: per trial a fresh copy of the same model at the same θ0,
  ``torch.optim.SGD`` over the trial's training set, then one fused forward over the evaluation set for
  test loss and accuracy and one over the training set for the train loss.

Both see the same model (the Glorot pull-back parametrization of App. C.2), θ0, data and evaluation set.
Times are *CPU seconds of this process* (``time.process_time``), so load from other jobs on a shared machine
inflates neither side; the ratio is per trial.  Rounds alternate loop and project ``--repeats`` times and the
best per-trial time of each is kept.  Both means (± SE) are printed to show the two compute the same thing.

FLOP bound: the useful FLOPs of a trial (T training steps = forward + backward on B images, one forward over
the evaluation set and the training set) are counted with ``torch.utils.flop_counter`` on the plain model
(nominal: a convolution counts 2·C_out·C_in·k² per output position, padded taps included; elementwise ops
count nothing); the bound is this CPU's single-thread float32 GEMM rate measured here (a 1024³
``torch.mm``), an upper limit for any dense layer.  Achieved GFLOP/s = useful FLOPs / CPU seconds.  The
FLOPs the project actually executes (its batched forms, counted by the same counter) are printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import sgd_diagrams as sd
from sgd_diagrams.landscapes.registry import resolve_landscape
from sgd_diagrams.schedules import sgd


# ---------------------------------------------------------------- the plain loop, as a user would write it
class UserConvNet(nn.Module):
    """tanh conv(5, stride 2, pad 2) ×2 → dense 10 → dense 10; W = sqrt(2/(fan_in+fan_out)) θ_W (App. C.2)."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 10, 5, 2, 2), nn.Conv2d(10, 10, 5, 2, 2)
        self.d1, self.d2 = nn.Linear(40, 10), nn.Linear(10, 10)
        self.scales = [math.sqrt(2 / (m.weight[0].numel() + m.weight.shape[0] * m.weight[0, 0].numel()))
                       if isinstance(m, nn.Conv2d) else math.sqrt(2 / sum(m.weight.shape))
                       for m in (self.c1, self.c2, self.d1, self.d2)]

    def forward(self, x):
        s = self.scales
        x = torch.tanh(F.conv2d(x, s[0] * self.c1.weight, self.c1.bias, 2, 2))
        x = torch.tanh(F.conv2d(x, s[1] * self.c2.weight, self.c2.bias, 2, 2))
        x = torch.tanh(F.linear(x.flatten(1), s[2] * self.d1.weight, self.d1.bias))
        return F.linear(x, s[3] * self.d2.weight, self.d2.bias)


def plain_loop(theta0, x, y, x_eval, y_eval, train_sets, T, eta):
    """Per trial: copy the model, SGD over its training set (batch = row t mod N), evaluate once."""
    template = UserConvNet()
    torch.nn.utils.vector_to_parameters(theta0, template.parameters())
    test, acc, train = [], [], []
    for rows in train_sets:
        model = UserConvNet()
        model.load_state_dict(template.state_dict())
        opt = torch.optim.SGD(model.parameters(), lr=eta)
        for t in range(T):
            batch = rows[t % len(rows)].unsqueeze(0)
            loss = F.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out = model(x_eval)
            test.append(F.cross_entropy(out, y_eval).item())
            acc.append((out.argmax(1) == y_eval).float().mean().item())
            train.append(F.cross_entropy(model(x[rows]), y[rows]).item())
    return test, acc, train


# ---------------------------------------------------------------- measurement
def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def useful_flops(N: int, T: int, x, y, n_eval: int) -> float:
    """FLOPs of one trial: T SGD steps (forward + backward on one image) and forwards on n_eval + N images."""
    model = UserConvNet()
    step = _flops(lambda: F.cross_entropy(model(x[:1]), y[:1]).backward())
    with torch.no_grad():
        per_image = _flops(lambda: model(x[:64])) / 64
    return T * step + (n_eval + N) * per_image


def executed_flops(land, N: int, T: int) -> float | None:
    """FLOPs the project actually executes per trial (same counter): one batched evaluation of one trial over
    the evaluation set and its N training rows, plus T batched training steps on one row.  The batched
    forms (``landscapes/batched_models.py``) differ from the nominal count: conv1 carries its bias as a 26th
    patch row, the evaluation's conv2 is a dense 160→40 map (6400 multiply-adds per image instead of the
    padded convolution's 10 000)."""
    if getattr(land, "batched_model", lambda: None)() is None:
        return None
    theta = land.init.unsqueeze(0)
    rows = torch.zeros(1, N, dtype=torch.long)
    evaluation = _flops(lambda: land.trial_metrics_batched(theta, rows))
    step = _flops(lambda: land.trial_gradients(theta, rows[:, :1]))
    return evaluation + T * step


def gemm_gflops() -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    best = math.inf
    for _ in range(5):
        start = time.process_time()
        for _ in range(4):
            torch.mm(a, b)
        best = min(best, (time.process_time() - start) / 4)
    return 2 * 1024**3 / best / 1e9


def _mean_se(values):
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std() / math.sqrt(len(values)))


def run_case(land, N: int, trials: int, loop_trials: int, repeats: int, eta: float = 0.01) -> dict:
    schedule = sgd(N, 1, 1)
    T = schedule.T
    x, y = land.inputs, land.targets
    x_eval, y_eval = land._eval_data()
    gen = torch.Generator().manual_seed(N)
    sd.simulate(land, schedule, ["sgd"], eta, 8, seed=99)  # warm-up (first-call set-up of both paths)
    plain_loop(land.init, x, y, x_eval, y_eval, land.sample_training_sets(gen, 2, N), T, eta)
    loop_best = project_best = math.inf
    for r in range(repeats):
        sets = land.sample_training_sets(gen, loop_trials, N)
        start = time.process_time()
        test, acc, _ = plain_loop(land.init, x, y, x_eval, y_eval, sets, T, eta)
        loop_best = min(loop_best, (time.process_time() - start) / loop_trials)
        start = time.process_time()
        result = sd.simulate(land, schedule, ["sgd"], eta, trials, seed=r, chunk=min(trials, 1000))
        project_best = min(project_best, (time.process_time() - start) / trials)
    summary = {m: (float(result.mean(m)[0]), float(result.sem(m)[0])) for m in ("test-loss", "accuracy")}
    flops = useful_flops(N, T, x, y, int(x_eval.shape[0]))
    executed = executed_flops(land, N, T)
    return {
        "N=T": N, "project_trials": trials, "loop_trials": loop_trials,
        "loop_ms_per_trial": 1e3 * loop_best, "project_ms_per_trial": 1e3 * project_best,
        "speedup_end_to_end": loop_best / project_best,
        "useful_mflop_per_trial": flops / 1e6,
        "executed_mflop_per_trial": None if executed is None else executed / 1e6,
        "gflops_project_executed": None if executed is None else executed / project_best / 1e9,
        "gflops_project": flops / project_best / 1e9, "gflops_loop": flops / loop_best / 1e9,
        "loop_test_loss_mean_se": _mean_se(test), "loop_accuracy_mean_se": _mean_se(acc),
        "project_test_loss_accuracy_mean_se": summary,
    }


def papers_sweep(land, trials: int, eta: float = 0.05) -> dict:
    """CPU hours of the papers' sweep (4·10⁴ trials × 6 inits × 8 η, T = 10, SGD + GD + GDC) at today's speed.

    Each optimizer is timed alone at η = ``eta`` (CPU per trial, whole evaluation set and ``eval_size=32``);
    with the subsample, equal confidence needs (variance of a trial's test loss with 32 points / with the whole
    set) times the trials, both measured here on the same training sets.
    """
    schedule = sgd(10, 1, 1)
    per_trial, variance = {}, {}
    for eval_size in (None, 32):
        for opt in ("sgd", "gd", "gdc"):
            sim = sd.simulate(land, schedule, [opt], eta, trials, seed=1, eval_size=eval_size)
            per_trial[(opt, eval_size)] = sim.seconds["measured"] / trials
            if opt == "sgd":  # variance of one trial's test loss, with the whole evaluation set or 32 points
                variance[eval_size] = float(sim.sem("test-loss")[0]) ** 2 * trials
    factor = variance[32] / variance[None]
    runs = 4e4 * 6 * 8
    full = runs * sum(per_trial[(o, None)] for o in ("sgd", "gd", "gdc")) / 3600
    small = runs * sum(per_trial[(o, 32)] for o in ("sgd", "gd", "gdc")) / 3600
    return {"ms_per_trial": {f"{o}{'' if e is None else f' eval-size {e}'}": 1e3 * v
                             for (o, e), v in per_trial.items()},
            "eta": eta, "eval_size_32_variance_factor": factor,
            "sweep_cpu_hours_full_eval": full, "sweep_cpu_hours_eval_size_32_same_confidence": small * (factor or 1),
            "sweep_cpu_hours_eval_size_32_same_trials": small}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="1000,200", help="project trials at N=T=10,100")
    parser.add_argument("--loop-trials", default="40,8", help="plain-loop trials at N=T=10,100")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sweep-trials", type=int, default=500, help="trials per optimizer for the projection "
                        "of the papers' sweep (0: skip it)")
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep projection")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    land = resolve_landscape("convnet-digits")
    trials = [int(v) for v in args.trials.split(",")]
    loops = [int(v) for v in args.loop_trials.split(",")]
    rows = [] if args.sweep_only else [run_case(land, N, n, m, args.repeats)
                                       for N, n, m in zip((10, 100), trials, loops, strict=True)]
    bound = gemm_gflops()
    sweep = papers_sweep(land, args.sweep_trials) if args.sweep_trials else None
    print(json.dumps({
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), "
                   f"torch {torch.__version__}",
        "cpu_gemm_gflops_bound": bound, "cases": rows,
        "fraction_of_bound_project": [r["gflops_project"] / bound for r in rows],
        "papers_sweep": sweep,
    }, indent=2))
    for r in rows:
        print(f"N=T={r['N=T']}: plain loop {r['loop_ms_per_trial']:.2f} ms/trial, project "
              f"{r['project_ms_per_trial']:.3f} ms/trial -> {r['speedup_end_to_end']:.1f}x end to end; "
              f"{r['gflops_project']:.1f} useful GFLOP/s, {r['gflops_project_executed'] or 0:.1f} executed "
              f"(bound {bound:.0f})")


if __name__ == "__main__":
    main()
