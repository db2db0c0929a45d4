"""Independent trials of optimizers, vectorized with ``torch.func.vmap``, in seeded chunks.

A *trial* draws a fresh training set of N i.i.d. points from the landscape and
runs an optimizer over the schedule (batch t = rows ``schedule.batches[t]`` of
that training set).  Trials are processed in chunks of at most ``chunk`` (which
bounds memory); within a chunk every optimizer step is one ``vmap``-ped call of
the optimizer's per-trial step, so there is no Python loop over trials
(``vectorize=False`` runs the same per-trial code in a loop, for benchmarks and
tests: both see identical data and noise).

Seeds.  Chunk c of a run with ``seed`` draws its training sets from
``SeedSequence([seed, c])``, shared by all optimizers (paired comparisons,
seed 001 App. C.3); an optimizer's noise (SDE) comes from
``SeedSequence([seed, c, crc32(name)])``.  Chunks are independent of each other,
so a run can be resumed chunk by chunk.

Metrics at each recorded step (number of completed updates): ``test-loss``,
``train-loss`` (objective-free loss on the trial's training set), ``gen-gap`` =
test − train, ``accuracy`` (classifiers), ``displacement`` θ − θ0 per coordinate
(when dim ≤ ``max_displacement_dim``).  A trial whose θ becomes non-finite has
all its metrics counted as non-finite and excluded from the means.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.func import vmap

from ..backends import check_backend, check_workers, run_chunks
from ..errors import SgdDiagramsError
from ..io import progress_bar
from ..landscapes.conversions import as_sampled
from ..landscapes.protocol import Landscape
from ..limits import MAX_CHUNK_BYTES, MAX_TRIALS, check_work
from ..schedules import Schedule
from ..schedules.grid import is_shuffle_average
from .base import Optimizer, Stepper, check_eta
from .statistics import Moments

__all__ = [
    "ChunkStats",
    "chunk_sizes",
    "run_trials",
    "trial_metrics",
    "simulate_chunk",
    "check_simulation_cost",
    "simulate",
    "summarize",
]

PLAIN_EVAL_MIN_ROWS = 128  # evaluation points per trial from which plain forwards beat vmap (bench_simulate.py)
_EVAL_STREAM = 0xE7A1  # the seed stream of per-trial test subsamples

ChunkStats = dict[str, dict[str, dict[str, dict[str, Moments]]]]
"""{"optimizers"|"differences": {name: {step: {metric: Moments}}}}"""


def _seed(*entropy: int) -> int:
    return int(
        np.random.SeedSequence(list(entropy)).generate_state(1, dtype=np.uint64)[0] % (2**63 - 1)
    )


def chunk_sizes(trials: int, chunk: int) -> list[int]:
    """Trials in each chunk: ``chunk`` each, the last one possibly smaller."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise SgdDiagramsError(f"trials must be a positive integer, got {trials!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise SgdDiagramsError(f"chunk must be a positive integer, got {chunk!r}")
    n = math.ceil(trials / chunk)
    return [min(chunk, trials - i * chunk) for i in range(n)]


def run_trials(
    stepper: Stepper,
    train_rows: torch.Tensor,
    record_steps: Sequence[int],
    noise_generator: torch.Generator,
    vectorize: bool = True,
    on_step: Callable[[], None] | None = None,
    batch_positions: torch.Tensor | None = None,
    on_record: Callable[[int, torch.Tensor], None] | None = None,
) -> dict[int, torch.Tensor]:
    """Run ``stepper`` on every trial's training set; θ (trials, dim) at each recorded step.

    ``batch_positions`` (trials, T, B): each trial's own batch at every step (reshuffled epochs);
    otherwise every trial uses the schedule's batches.  ``on_record(step, θ)``: called at each recorded
    step instead of keeping θ (the returned dict is then empty) — memory independent of the number of
    recorded steps (curves).
    """
    landscape, schedule = stepper.landscape, stepper.schedule
    trials = train_rows.shape[0]
    theta0 = landscape.init.expand(trials, landscape.dim).clone()
    record = set(record_steps)
    out: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        state = (
            vmap(stepper.init_state)(theta0)
            if vectorize
            else _stack([stepper.init_state(theta0[i]) for i in range(trials)])
        )
        def keep(step: int) -> None:
            if on_record is not None:
                on_record(step, state[0])
            else:
                out[step] = state[0].clone()

        if 0 in record:
            keep(0)
        for t, batch in enumerate(schedule.batches):
            if batch_positions is None:
                batch_rows = train_rows[:, torch.tensor(batch, device=train_rows.device)]
            else:
                batch_rows = torch.gather(train_rows, 1, batch_positions[:, t])
            shape = stepper.noise_shape(t)
            noise = (
                None
                if shape is None
                else torch.randn((trials, *shape), generator=noise_generator, dtype=landscape.dtype).to(
                    landscape.device)
            )

            def one(st, rows, train, nz, t=t):
                return stepper.step(st, t, rows, train, nz)

            batched = stepper.step_trials(state, t, batch_rows, train_rows, noise) if vectorize else None
            if batched is not None:
                state = batched
            elif vectorize:
                state = vmap(one, in_dims=(0, 0, 0, None if noise is None else 0))(
                    state, batch_rows, train_rows, noise
                )
            else:
                state = _stack(
                    [
                        one(
                            tuple(s[i] for s in state),
                            batch_rows[i],
                            train_rows[i],
                            None if noise is None else noise[i],
                        )
                        for i in range(trials)
                    ]
                )
            if t + 1 in record:
                keep(t + 1)
            if on_step is not None:
                on_step()
    return out


def _stack(states: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.stack(parts) for parts in zip(*states, strict=True))


def trial_metrics(
    landscape: Landscape,
    theta: torch.Tensor,
    train_rows: torch.Tensor,
    eval_chunk: int = 64,
    max_displacement_dim: int = 64,
    vectorize: bool = True,
    eval_rows: torch.Tensor | None = None,
    plain_eval: bool | None = None,
) -> dict[str, np.ndarray]:
    """Per-trial metrics of θ (trials, dim); NaN for trials whose θ is not finite.

    The built-in models (``trial_metrics_batched``) evaluate all trials at once with an explicit trial
    dimension (:mod:`~sgd_diagrams.landscapes.batched_models`) unless ``plain_eval`` or ``vectorize=False``
    asks for another path.  Other landscapes of neural networks (``trial_metrics_plain``) are evaluated with
    one plain batched forward per trial giving test loss, accuracy and train loss together, when each trial
    evaluates at least :data:`PLAIN_EVAL_MIN_ROWS` points (below that the per-trial call costs more than
    ``vmap``'s grouped convolutions; ``plain_eval=True``/``False`` forces either path); the others with
    ``vmap`` in chunks of ``eval_chunk`` trials (or a per-trial loop).  With ``eval_rows``
    (trials, k) each trial's test loss (and accuracy) is the mean over its own k test points — unbiased for
    the full test mean — and ``test-loss-subsample-variance`` is the estimated variance that subsampling
    adds to that trial, s²/k·(1 − k/n) (finite-population correction), for the variance split.
    """

    def over_trials(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        if vectorize:
            return vmap(fn, chunk_size=eval_chunk)
        return lambda *xs: torch.stack([fn(*(x[i] for x in xs)) for i in range(xs[0].shape[0])])

    batched = getattr(landscape, "trial_metrics_batched", None) if plain_eval is None and vectorize else None
    plain = getattr(landscape, "trial_metrics_plain", None)
    if plain_eval is None:
        points = (landscape.n_test_points or 0) if eval_rows is None else eval_rows.shape[1]
        plain_eval = points + train_rows.shape[1] >= PLAIN_EVAL_MIN_ROWS
    plain = plain if plain_eval else None
    with torch.no_grad():
        ok = torch.isfinite(theta).all(dim=1)
        safe = torch.where(ok.unsqueeze(1), theta, landscape.init.expand_as(theta))
        metrics = None if batched is None else batched(safe, train_rows, eval_rows)
        if metrics is None and plain is not None:
            metrics = plain(safe, train_rows, eval_rows)
        if metrics is not None:
            metrics["gen-gap"] = metrics["test-loss"] - metrics["train-loss"]
        else:
            metrics = _vmapped_metrics(landscape, safe, train_rows, eval_rows, over_trials)
        if landscape.dim <= max_displacement_dim:
            metrics["displacement"] = safe - landscape.init
    out = {}
    mask = ok.cpu().numpy()
    for key, value in metrics.items():
        arr = value.detach().to(torch.float64).cpu().numpy().copy()
        arr[~mask] = np.nan
        out[key] = arr
    return out


def _vmapped_metrics(landscape: Landscape, safe: torch.Tensor, train_rows: torch.Tensor,
                     eval_rows: torch.Tensor | None, over_trials: Callable) -> dict[str, torch.Tensor]:
    """The generic evaluation: the landscape's loss functions mapped over trials."""
    train = over_trials(landscape.eval_batch_loss)(safe, train_rows)
    if eval_rows is None:
        test = over_trials(landscape.test_loss)(safe)
        metrics = {"test-loss": test, "train-loss": train, "gen-gap": test - train}
    else:
        k, n = eval_rows.shape[1], int(landscape.n_test_points)

        def subsample(th: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            losses = landscape.test_losses(th, rows)
            return torch.stack([losses.mean(), losses.var() / k * (1.0 - k / n)])

        both = over_trials(subsample)(safe, eval_rows)
        test = both[:, 0]
        metrics = {"test-loss": test, "train-loss": train, "gen-gap": test - train,
                   "test-loss-subsample-variance": both[:, 1]}
    if landscape.has_accuracy:
        if eval_rows is None:
            metrics["accuracy"] = over_trials(landscape.test_accuracy)(safe)
        else:
            metrics["accuracy"] = over_trials(lambda th, r: landscape.test_correct(th, r).mean())(safe, eval_rows)
    return metrics


def simulate_chunk(
    landscape: Landscape,
    schedule: Schedule,
    optimizers: Sequence[Optimizer],
    eta: float,
    trials: int,
    seed: int,
    chunk_index: int,
    record_steps: Sequence[int],
    vectorize: bool = True,
    eval_chunk: int = 64,
    on_step: Callable[[], None] | None = None,
    eval_size: int | None = None,
) -> ChunkStats:
    """One chunk: shared training sets, every optimizer, per-trial metrics reduced to moments.

    ``eval_size``: evaluate each trial's test loss on its own random ``eval_size`` test points (the same
    points for every optimizer: paired), drawn from the chunk's seed.
    """
    data_gen = torch.Generator().manual_seed(_seed(seed, chunk_index))
    train_rows = landscape.sample_training_sets(data_gen, trials, schedule.N).to(landscape.device)
    positions = None
    if is_shuffle_average(schedule):  # a fresh shuffle of every epoch for every trial (paired across optimizers)
        desc = schedule.description
        per_epoch = torch.rand(trials, desc["E"], schedule.N, generator=data_gen).argsort(dim=-1)
        positions = per_epoch.reshape(trials, schedule.T, desc["B"]).to(landscape.device)
    eval_rows = None
    if eval_size is not None and eval_size < int(landscape.n_test_points or 0):
        eval_gen = torch.Generator().manual_seed(_seed(seed, chunk_index, _EVAL_STREAM))
        eval_rows = torch.rand(trials, int(landscape.n_test_points), generator=eval_gen).argsort(dim=1)[:, :eval_size]
        eval_rows = eval_rows.to(landscape.device)
    per_opt: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for opt in optimizers:
        noise_gen = torch.Generator().manual_seed(
            _seed(seed, chunk_index, zlib.crc32(opt.name.encode()))
        )
        stepper = opt.bind(landscape, schedule, eta)
        parts: dict[int, list[dict[str, np.ndarray]]] = {}
        blocks = _trial_blocks(landscape, stepper, schedule, trials, vectorize)
        for i, (a, b) in enumerate(blocks):
            rows_ab = train_rows[a:b]
            evals_ab = None if eval_rows is None else eval_rows[a:b]

            def evaluate(step: int, theta: torch.Tensor, rows=rows_ab, evals=evals_ab, into=parts) -> None:
                # per-trial scalars only (θ is not kept): chunk × recorded steps × metrics floats
                into.setdefault(step, []).append(trial_metrics(landscape, theta, rows, eval_chunk,
                                                               vectorize=vectorize, eval_rows=evals))

            run_trials(stepper, rows_ab, record_steps, noise_gen, vectorize,
                       on_step if i == len(blocks) - 1 else None, None if positions is None else positions[a:b],
                       evaluate)
        per_opt[opt.name] = {step: {m: np.concatenate([p[m] for p in ps]) for m in ps[0]}
                             for step, ps in sorted(parts.items())}
    stats: ChunkStats = {"optimizers": {}, "differences": {}}
    names = [o.name for o in optimizers]
    for name in names:
        stats["optimizers"][name] = {
            str(step): {m: Moments.from_values(v) for m, v in metrics.items()}
            for step, metrics in per_opt[name].items()
        }
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            stats["differences"][f"{b} - {a}"] = {
                str(step): {
                    m: Moments.from_values(per_opt[b][step][m] - per_opt[a][step][m])
                    for m in per_opt[a][step]
                }
                for step in per_opt[a]
            }
    return stats


TRIAL_BLOCK = 256
"""Trials a built-in model trains together inside a chunk (a multiple of the evaluation's 32-trial groups)."""


def _trial_blocks(landscape: Landscape, stepper: Stepper, schedule: Schedule, trials: int,
                  vectorize: bool) -> list[tuple[int, int]]:
    """The chunk's trials in blocks of :data:`TRIAL_BLOCK` for the built-in models' trial-batched steps, whose
    working set (weights, gradients, activations of every trial) then stays in cache: 20 % less CPU at
    N = T = 100 (``benchmarks/bench_simulate.py``).  Only where nothing random is drawn during training (the
    training sets and shuffles come from the chunk's seed before it), so the numbers are those of one block;
    anything that draws step noise keeps one block (its noise stream is per chunk)."""
    whole = [(0, trials)]
    batched_model = getattr(landscape, "batched_model", None)
    if not vectorize or trials <= TRIAL_BLOCK or batched_model is None or batched_model() is None:
        return whole  # user models keep vmap over the whole chunk
    if any(stepper.noise_shape(t) is not None for t in range(schedule.T)):
        return whole
    return [(a, min(a + TRIAL_BLOCK, trials)) for a in range(0, trials, TRIAL_BLOCK)]


def merge_stats(a: ChunkStats | None, b: ChunkStats) -> ChunkStats:
    """Combine two chunks' statistics."""
    if a is None:
        return b
    return {
        kind: {
            name: {
                step: {m: a[kind][name][step][m].merge(mom) for m, mom in metrics.items()}
                for step, metrics in steps.items()
            }
            for name, steps in b[kind].items()
        }
        for kind in ("optimizers", "differences")
    }


def stats_to_json(stats: ChunkStats) -> dict[str, Any]:
    """Serialise chunk statistics exactly."""
    return {
        kind: {
            name: {
                step: {m: mom.to_json() for m, mom in metrics.items()}
                for step, metrics in steps.items()
            }
            for name, steps in stats[kind].items()
        }
        for kind in ("optimizers", "differences")
    }


def stats_from_json(obj: dict[str, Any]) -> ChunkStats:
    """Inverse of :func:`stats_to_json`."""
    return {
        kind: {
            name: {
                step: {m: Moments.from_json(mom) for m, mom in metrics.items()}
                for step, metrics in steps.items()
            }
            for name, steps in obj[kind].items()
        }
        for kind in ("optimizers", "differences")
    }


def _variance_split(block: dict[str, Any]) -> None:
    """Split the test loss's variance over trials into training sets and test subsampling (in place)."""
    sub = block.pop("test-loss-subsample-variance", None)
    test = block.get("test-loss")
    if sub is None or test is None or test["sem"] is None or sub["mean"] is None:
        return
    total = test["sem"] ** 2 * test["n"]
    test["variance_split"] = {"total": total, "test_subsample": sub["mean"],
                              "training_sets": max(total - sub["mean"], 0.0)}


def summarize(stats: ChunkStats, last_step: int) -> dict[str, Any]:
    """Per optimizer (and per pair): metric summaries at the last step, plus ``at_steps``."""

    def block(steps: dict[str, dict[str, Moments]]) -> dict[str, Any]:
        out: dict[str, Any] = {m: mom.summary() for m, mom in steps[str(last_step)].items()}
        _variance_split(out)
        out["at_steps"] = {
            step: {m: mom.summary() for m, mom in metrics.items()}
            for step, metrics in steps.items()
        }
        return out

    return {
        "optimizers": {name: block(steps) for name, steps in stats["optimizers"].items()},
        "differences": {name: block(steps) for name, steps in stats["differences"].items()},
    }


_PILOT_SECONDS: dict[tuple, tuple[float, float, int]] = {}
_NO_PILOT_BELOW = 5e7  # trials × steps × gradient rows × dim under which no pilot is run (about a second at most)


def _rows_per_step(optimizer: Optimizer, schedule: Schedule) -> float:
    """Rough per-sample gradients one step of ``optimizer`` costs (decides whether a pilot is worth it)."""
    batch = float(np.mean(schedule.batch_sizes))
    name = optimizer.name
    if name in ("gd", "gdc", "stic"):
        return 3.0 * schedule.N
    if name in ("sde", "ode"):
        return float(getattr(optimizer, "substeps", 16)) * (batch + 256.0)
    return batch


def _pilot(landscape: Landscape, schedule: Schedule, optimizers: Sequence[Optimizer], size: int,
           eval_chunk: int, eval_size: int | None = None) -> tuple[float, float]:
    """(CPU seconds per step, per evaluation) of one chunk of ``size`` trials, timed on 1 and 5 steps."""
    from ..schedules import from_batches

    key = (id(landscape), hash(schedule), tuple(repr(o.describe()) for o in optimizers), size, eval_size)
    if key not in _PILOT_SECONDS:

        def run(steps: int) -> float:
            short = from_batches(schedule.N, schedule.batches[:steps])
            best = math.inf
            for _ in range(2):  # the best of two: the first call also pays one-time set-up
                start = time.process_time()  # CPU time: load from other jobs does not inflate it
                simulate_chunk(landscape, short, optimizers, 1e-12, size, 0, 0, [steps], True, eval_chunk,
                               eval_size=eval_size)
                best = min(best, time.process_time() - start)
            return best

        first, fifth = run(1), run(min(5, schedule.T))
        step = max(fifth - first, 0.0) / 4 if schedule.T >= 5 else first
        if schedule.T > 5 and fifth < _SHORT_PILOT_SECONDS:
            # cheap steps: the first few cost more than the rest (allocations, cold caches), which a
            # difference of 4 steps mistakes for the step cost (a 1000-trial logistic chunk: 3.5 ms per
            # step from steps 1..5, 0.9 ms from 5..25); time 20 more steps
            longer = min(25, schedule.T)
            step = max(run(longer) - fifth, 0.0) / (longer - 5)
        _PILOT_SECONDS[key] = (step, max(first - step, 0.0), size)
    return _PILOT_SECONDS[key][:2]


_SHORT_PILOT_SECONDS = 0.05  # a 5-step pilot below this also times 20 more steps (cheap per step)


def _chunk_seconds(landscape, schedule, optimizers, chunk: int, eval_chunk: int, records: int,
                   eval_size: int | None = None) -> float:
    """Seconds of one chunk of ``chunk`` trials: pilots at 8 and 32 trials, linear in the chunk size
    (a fixed cost per vectorized call plus a cost per trial), scaled to T steps."""
    small, large = min(8, chunk), min(32, chunk)
    s1, e1 = _pilot(landscape, schedule, optimizers, small, eval_chunk, eval_size)
    if large == small:
        return schedule.T * s1 + records * e1
    s2, e2 = _pilot(landscape, schedule, optimizers, large, eval_chunk, eval_size)

    def at(a: float, b: float) -> float:
        slope = max((b - a) / (large - small), 0.0)
        return max(a + slope * (chunk - small), b)

    return schedule.T * at(s1, s2) + records * at(e1, e2)


def _record_bytes(landscape: Landscape, optimizers: Sequence[Optimizer], record_steps: int) -> int:
    """Bytes per trial of the recorded per-trial metrics (float64 scalars, displacement per coordinate)."""
    per_step = 6 + (landscape.dim if landscape.dim <= 64 else 0)
    return 8 * per_step * max(record_steps, 1) * max(len(optimizers), 1)


def check_simulation_cost(landscape: Landscape, schedule: Schedule, optimizers: Sequence[Optimizer], trials: int,
                          chunk: int, force: bool = False, done_chunks: int = 0, record_steps: int = 1,
                          eval_chunk: int = 64, eval_size: int | None = None) -> float:
    """Refuse a simulation that would exhaust memory (hard) or run past the time budget (soft); returns the
    estimated CPU seconds (0.0 for a job clearly too small to need a pilot).

    Memory of one chunk ≈ chunk × (θ, gradients and temporaries ≈ 8 copies of dim, plus N training rows, plus
    the per-trial metrics at every recorded step of every optimizer, kept until the chunk's paired differences
    are reduced: :func:`_record_bytes`).  Evaluating at ``record_steps`` steps is in the time estimate too.
    Time comes from pilots (only for jobs that are not clearly small): chunks of 8 and 32 trials run for
    1 and 5 steps, extrapolated linearly to the chunk size, T steps and all chunks.
    """
    if isinstance(trials, (int, np.integer)) and not isinstance(trials, bool) and trials > MAX_TRIALS:
        raise SgdDiagramsError(f"trials={trials:.3g} exceeds the limit {MAX_TRIALS:.0e}; run fewer trials")
    chunk_sizes(trials, chunk)  # validates both
    itemsize = torch.empty((), dtype=landscape.dtype).element_size()
    per_trial = 8 * landscape.dim * itemsize + 8 * schedule.N + _record_bytes(landscape, optimizers, record_steps)
    size = min(chunk, trials) * per_trial
    if size > MAX_CHUNK_BYTES:
        fit = max(1, MAX_CHUNK_BYTES // per_trial)
        raise SgdDiagramsError(
            f"a chunk of {min(chunk, trials)} trials needs about {size / 2**30:.1f} GiB "
            f"(limit {MAX_CHUNK_BYTES / 2**30:.0f} GiB); use --chunk {fit} or smaller"
        )
    remaining = max(trials - done_chunks * chunk, 0)
    rows_per_step = sum(_rows_per_step(o, schedule) for o in optimizers)
    if remaining * schedule.T * rows_per_step * max(landscape.dim, 10) < _NO_PILOT_BELOW:
        return 0.0  # clearly small: no pilot needed
    full, last = divmod(remaining, chunk)
    seconds = full * _chunk_seconds(landscape, schedule, optimizers, chunk, eval_chunk, record_steps, eval_size)
    if last:
        seconds += _chunk_seconds(landscape, schedule, optimizers, last, eval_chunk, record_steps, eval_size)
    check_work(seconds, f"simulating {remaining} trials x {len(optimizers)} optimizer(s) x T={schedule.T}",
               "use fewer trials or steps", force)
    return seconds


@dataclass
class SimulationResult:
    """Merged statistics of a run and its summary."""

    stats: ChunkStats
    last_step: int
    chunks_done: list[int] = field(default_factory=list)
    estimated_seconds: float | None = None  # CPU seconds the pilot predicted (None: too small for one)
    cpu_seconds: float | None = None  # CPU seconds spent computing chunks: this process plus local workers/Ray tasks

    def summary(self) -> dict[str, Any]:
        """See :func:`summarize`."""
        return summarize(self.stats, self.last_step)


def simulate(
    landscape: Landscape,
    schedule: Schedule,
    optimizers: Sequence[Optimizer],
    eta: float,
    trials: int,
    seed: int = 0,
    chunk: int = 1000,
    record_steps: Sequence[int] | None = None,
    vectorize: bool = True,
    eval_chunk: int = 64,
    completed: dict[int, ChunkStats] | None = None,
    on_chunk: Callable[[int, ChunkStats], None] | None = None,
    progress: bool = False,
    force: bool = False,
    backend: str = "local",
    address: str | None = None,
    eval_size: int | None = None,
    workers: int = 1,
) -> SimulationResult:
    """Run ``trials`` paired trials of every optimizer; resumable chunk by chunk.

    ``completed`` maps chunk index → statistics already computed (skipped);
    ``on_chunk(c, stats)`` is called after each newly computed chunk.  A finite (exact) landscape is
    converted to its torch form (:func:`~sgd_diagrams.landscapes.as_sampled`).  ``backend="ray"`` runs
    the chunks as Ray tasks and ``workers=N`` in N local processes (:mod:`.backends`), with results identical
    to one process.  ``eval_size`` evaluates
    each trial on its own random subset of that many test points (landscapes with a finite test set),
    cheaper and still unbiased; the reported SEM includes the added variance, and ``variance_split``
    says how much of it comes from the subsample.
    """
    landscape = as_sampled(landscape)
    eta = check_eta(eta)
    check_backend(backend, address)
    check_workers(workers, backend)
    serial = backend == "local" and workers == 1
    if eval_size is not None:
        if isinstance(eval_size, bool) or not isinstance(eval_size, (int, np.integer)) or eval_size < 2:
            raise SgdDiagramsError(f"eval_size must be an integer >= 2, got {eval_size!r}")
        if not landscape.n_test_points:
            raise SgdDiagramsError(f"landscape {landscape.name!r} computes its test loss exactly; drop eval_size")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SgdDiagramsError(f"seed must be a non-negative integer, got {seed!r}")
    if not optimizers:
        raise SgdDiagramsError("give at least one optimizer")
    names = [o.name for o in optimizers]
    if len(set(names)) != len(names):
        raise SgdDiagramsError(f"optimizer names must be distinct, got {names}")
    estimated = check_simulation_cost(landscape, schedule, optimizers, trials, chunk, force, len(completed or {}),
                                      len(set(record_steps or []) | {schedule.T}), eval_chunk, eval_size)
    cpu_start = time.process_time()
    steps = sorted(set(record_steps or []) | {schedule.T})
    bad = [s for s in steps if s < 0 or s > schedule.T]
    if bad:
        raise SgdDiagramsError(
            f"step {bad[0]} is outside 0..T={schedule.T}; choose steps in that range"
        )
    sizes = chunk_sizes(trials, chunk)
    completed = dict(completed or {})
    todo = [c for c in range(len(sizes)) if c not in completed]
    total_steps = sum(sizes[c] for c in todo) * len(optimizers) * schedule.T
    bar = progress_bar(total_steps, f"simulating (eta={eta:g})", "trial-steps", enabled=progress and bool(todo))
    results = dict(completed)

    def finished(c: int, stats: ChunkStats) -> None:
        results[c] = stats
        if bar is not None and not serial:
            bar.update(sizes[c] * len(optimizers) * schedule.T)
        if on_chunk is not None:
            on_chunk(c, stats)

    def per_chunk(c: int) -> tuple:
        tick = partial(bar.update, sizes[c]) if bar is not None and serial else None
        return (eta, sizes[c], seed, c, steps, vectorize, eval_chunk, tick, eval_size)

    elsewhere = run_chunks(todo, simulate_chunk, (landscape, schedule, optimizers), per_chunk, finished, backend,
                           address, workers)
    if bar is not None:
        bar.close()
    merged: ChunkStats | None = None
    for c in range(len(sizes)):  # merge in chunk order: the same result for every backend
        merged = merge_stats(merged, results[c])
    assert merged is not None
    return SimulationResult(merged, schedule.T, list(range(len(sizes))), estimated or None,
                            time.process_time() - cpu_start + elsewhere)
