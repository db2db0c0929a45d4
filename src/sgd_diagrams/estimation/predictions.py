"""Predictions from estimated diagram values, with error bars (seed 001 App. C.3, C.6; Theorem 1).

K sampled data points are split into R independent replications (:mod:`sgd_diagrams.values.estimated`);
every replication gives unbiased uvalue estimates and hence a whole prediction.  The reported value
is the mean of the R predictions and its standard error their standard deviation / √R — honest for
any correlation between diagrams, and for the resummed form (nonlinear in H) too.

* Taylor form: any landscape; the matrix-free path for large P.  With ``cache=DIR`` (opt-in; the
  library never writes anywhere unasked) the per-replication uvalues are cached in DIR by landscape,
  θ0, samples, seed, replications, order and kind, written atomically, so other schedules and η reuse
  them.  A cache that cannot be read or written is a warning, never a lost result.
* Resummed form (and its T → ∞ limit): :mod:`.krylov` — per replication, the per-sample + group-mean
  statistic of the derivative tensors, dense (when cheap) or projected on a Lanczos basis of the
  sample-mean Hessian (matrix-free, any P), then the exact resummed engine on those tensors.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..diagrams import DIAGRAM_QUANTITY_NAMES, Diagram, Quantity, enumerate_diagrams
from ..diagrams import quantity as quantity_of
from ..errors import SgdDiagramsError
from ..io import atomic_write_text, progress_bar, read_untrusted_json, terminal_safe
from ..landscapes.conversions import is_exact
from ..limits import MAX_INPUT_BYTES, check_work
from ..schedules.grid import Schedule
from ..schedules.histories import history_count
from ..theory.orders import check_order
from ..theory.series import taylor_series
from ..values.uvalue import UvalueTable
from .evaluators import (
    SamplePlan,
    choose_method,
    draw_rows,
    forward_over_reverse_error,
    plan_groups,
    replication_values,
)
from .group_statistic import dense_group_evaluators
from .plan import plan_estimation

__all__ = ["EstimatedPrediction", "UvalueEstimates", "estimate_uvalues", "estimated_prediction", "cache_dir"]


@dataclass
class UvalueEstimates:
    """Per-replication estimated uvalues: ``replicas[notation]`` has shape (R,) or (R, dim)."""

    plan: SamplePlan
    method: str
    replicas: dict[str, np.ndarray]

    def mean(self, d: Diagram) -> np.ndarray:
        return self.replicas[str(d)].mean(axis=0)

    def stderr(self, d: Diagram) -> np.ndarray:
        r = self.replicas[str(d)]
        return r.std(axis=0, ddof=1) / np.sqrt(len(r))


@dataclass
class EstimatedPrediction:
    """Mean prediction over replications at each η, its standard error, and the replications."""

    quantity: str
    order: int
    form: str
    eta: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    replicas: np.ndarray  # (R, len(eta)[, dim])
    plan: SamplePlan
    method: str
    coefficients: list | None = None  # Taylor form: mean c_0..c_order over replications
    details: dict | None = None  # resummed form: Krylov dimension, curvature, cost (see .krylov)


def cache_dir(cache: str | Path) -> Path:
    """The folder inside a user-chosen cache directory where estimates live."""
    if isinstance(cache, bool) or not isinstance(cache, (str, Path)) or not str(cache):
        raise SgdDiagramsError(f"cache must be a folder path, got {type(cache).__name__} {str(cache)[:40]!r}; pass "
                               "a path such as cache='.sgd-cache', or None for no cache")
    return Path(cache) / "estimates"


def _fingerprint(landscape) -> dict:
    if is_exact(landscape):
        desc = landscape.to_json()
        init = np.asarray(landscape.init, dtype=np.float64)
    else:
        desc = landscape.describe()
        init = landscape.init.detach().cpu().double().numpy()
    return {"landscape": desc, "theta0": hashlib.sha256(np.ascontiguousarray(init).tobytes()).hexdigest()}


def _kind_diagrams(kind: str, order: int) -> list[Diagram]:
    start = 1 if kind == "displacement" else 0
    return [d for k in range(start, order + 1) for d in enumerate_diagrams(k, kind)]


_PART_COST = {1: 0.0, 2: 3.0, 3: 13.0}  # per-sample-gradient equivalents of a tied part (benchmarks/)
_SHARED_MESSAGES = 0.35  # calibrated on the four estimation rows of benchmarks/bench_cost_model.py (this release: 0.5
# gave estimate / measured 1.31-2.92 after the estimators got faster; 0.35 centres them: 0.5-1.6)


def estimation_seconds(landscape, diagrams: list[Diagram], samples: int) -> float:
    """Estimated seconds of the matrix-free estimators of ``diagrams`` from ``samples`` data points.

    One per-sample gradient is timed on the landscape (64 rows, vmapped); a diagram costs ~0.2 of it
    per node plus 3 per pair and 13 per triple of tied nodes (``benchmarks/bench_estimators.py``),
    with messages shared across diagrams.
    """
    from ..landscapes.sampled import seconds_per_sample_gradient

    t_grad = seconds_per_sample_gradient(landscape)
    units = 0.0
    for d in diagrams:
        sizes = [sum(1 for p in d.parts if p == part) for part in set(d.parts)]
        units += 0.2 * len(d.parts) + sum(_PART_COST.get(k, 60.0) for k in sizes)
    return samples * units * _SHARED_MESSAGES * t_grad


ESTIMATION_PILOT_ABOVE_SECONDS = 3.0
"""Matrix-free estimates that :func:`estimation_seconds` puts above this are timed by a pilot instead."""


def estimation_cost(landscape, diagrams: list[Diagram], plan: SamplePlan, root: str, seed: int,
                    chunk: int = 64) -> float:
    """The CPU seconds the cost guard uses: :func:`estimation_seconds`, replaced by a pilot above
    :data:`ESTIMATION_PILOT_ABOVE_SECONDS`."""
    seconds = estimation_seconds(landscape, diagrams, plan.used)
    if seconds > ESTIMATION_PILOT_ABOVE_SECONDS:
        seconds = piloted_estimation_seconds(landscape, diagrams, plan, root, seed, chunk)
    return seconds


def piloted_estimation_seconds(landscape, diagrams: list[Diagram], plan: SamplePlan, root: str, seed: int,
                               chunk: int = 64) -> float:
    """CPU seconds of the matrix-free estimators of ``diagrams`` on ``plan``, from a pilot of the real work.

    The job makes ⌈R / b⌉ vectorized passes of b = ⌊256/S⌋ replications (one block each) with the plan's S
    samples per group.  The pilot has that shape: a pass of 1 block (run twice, the first paying one-time
    set-up; the cheaper of the two counts) and one of 2 blocks give a cost per pass and a cost per block (at most
    the one-block pass) — three small passes, so the pilot costs less than the jobs it prices.  CPU time, so
    load from other jobs does not inflate it (``benchmarks/bench_cost_model.py`` checks it within 3x).
    """
    from .evaluators import BLOCK_ROWS_PER_PASS

    G, S, R = plan.groups, plan.per_group, plan.replications

    def timed(blocks: int) -> float:
        start = time.process_time()
        _matrix_free_replicas(landscape, SamplePlan(blocks * G * S, blocks, 1, G, S), diagrams, root, seed, chunk,
                              False)
        return time.process_time() - start

    first = timed(1)  # pays the one-time set-up (vmap tracing, first calls), not part of the job's per-pass cost
    one = min(first, timed(1))  # an outlier (a stall charged as CPU, e.g. kernel reclaim) in either is dropped
    two = timed(2)
    per_block = min(max(two - one, 0.0), one)  # a block never costs more than a whole one-block pass
    per_pass = max(one - per_block, 0.0)
    step = max(1, BLOCK_ROWS_PER_PASS // S)
    return -(-R // step) * per_pass + R * per_block


def estimate_uvalues(landscape, kind: str, order: int, samples: int, seed: int = 0,
                     replications: int | None = None, method: str = "auto", progress: bool = False,
                     cache: str | Path | None = None, chunk: int = 64,
                     schedule: Schedule | None = None, force: bool = False, backend: str = "local",
                     address: str | None = None, workers: int = 1) -> UvalueEstimates:
    """Estimate the uvalue of every ``kind`` diagram with ≤ ``order`` edges, R times independently.

    With ``schedule``, only diagrams with histories in it (nonzero counts) are estimated.  ``cache``: a
    directory to read and write estimates in (opt-in).  ``workers=N`` runs the matrix-free passes in N local
    processes (identical numbers).
    """
    if kind not in ("test", "train", "displacement"):
        raise SgdDiagramsError(f"unknown diagram kind {kind!r}; use test, train or displacement")
    method = choose_method(landscape, method)
    plan = plan_groups(samples, order + 1, replications)
    root = "displacement" if kind == "displacement" else "loss"
    diagrams = _kind_diagrams(kind, order)
    if schedule is not None:
        diagrams = [d for d in diagrams if history_count(d, schedule) != 0]
    key = json.dumps({**_fingerprint(landscape), "samples": samples, "seed": seed, "plan": str(plan),
                      "order": order, "kind": kind, "method": method, "diagrams": [str(d) for d in diagrams]},
                     sort_keys=True, default=str)
    path = cache_dir(cache) / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json") if cache else None
    if path is not None and path.exists():
        cached = _read_cache(path, key, diagrams, plan.replications, getattr(landscape, "dim", 1), root)
        if cached is not None:
            return UvalueEstimates(plan, method, cached)
    if method == "matrix-free":
        seconds = estimation_cost(landscape, diagrams, plan, root, seed, chunk)
        check_work(seconds, f"estimating {len(diagrams)} diagram values "
                   f"from {samples} samples", "use fewer samples or a smaller order", force)
        try:
            replicas = _matrix_free_replicas(landscape, plan, diagrams, root, seed, chunk, progress, backend, address,
                                             workers)
        except (RuntimeError, NotImplementedError) as exc:  # torch losses without forward-over-reverse (F.mse_loss)
            raise forward_over_reverse_error(exc) from None
    else:
        rows: dict[str, list] = {str(d): [] for d in diagrams}
        evaluators = dense_group_evaluators(landscape, plan, max(order, 1), seed=seed)
        bar = progress_bar(plan.replications, "estimating diagram values", "replications", progress)
        for ev in evaluators:
            for d in diagrams:
                rows[str(d)].append(np.asarray(ev(d, root=root), dtype=np.float64))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        replicas = {k: np.stack(v) for k, v in rows.items()}
    if path is not None:
        try:
            lists = {k: v.tolist() for k, v in replicas.items()}
            payload = {"key": key, "request_sha256": _sha256(key), "content_sha256": _content_sha256(lists),
                       "replicas": lists}
            atomic_write_text(path, json.dumps(payload))
        except (OSError, SgdDiagramsError) as exc:
            warnings.warn(f"could not write the estimate cache {path} ({exc}); the result is not affected",
                          RuntimeWarning, stacklevel=2)
    return UvalueEstimates(plan, method, replicas)


def _read_cache(path: Path, key: str, diagrams: list[Diagram], R: int, dim: int,
                root: str) -> dict[str, np.ndarray] | None:
    """Cached replicas if the entry is ours, intact and well-formed, else None after a warning (recompute).

    An entry carries the SHA-256 of the request that made it (``request_sha256``, over the key: landscape,
    θ0, samples, seed, plan, diagrams) and of its content (``content_sha256``, over the replicas as written);
    a mismatch — a hand-edited value, a truncated or foreign file — is reported and the values recomputed.
    The checksums catch corruption and edits, not a forger who recomputes them: the cache folder is trusted
    only as far as its owner's file permissions.
    """
    def ignore(why: str) -> None:
        warnings.warn(f"ignoring estimate cache file {terminal_safe(str(path))} ({why}); recomputing",
                      RuntimeWarning, stacklevel=4)

    try:
        stored = read_untrusted_json(path, what="estimate cache", max_bytes=MAX_INPUT_BYTES)
    except SgdDiagramsError as exc:
        ignore(str(exc))
        return None
    if not isinstance(stored, dict) or not isinstance(stored.get("replicas"), dict):
        ignore("not an estimate cache entry")
        return None
    if stored.get("key") != key or stored.get("request_sha256") != _sha256(key):
        ignore("made for another request")
        return None
    lists = stored["replicas"]
    if stored.get("content_sha256") != _content_sha256(lists):
        ignore("its checksum does not match its content")
        return None
    shape = (R,) if root == "loss" else (R, dim)
    out = {}
    for d in diagrams:
        value = _finite_array(lists.get(str(d)), shape)
        if value is None:
            ignore(f"malformed values for {d}")
            return None
        out[str(d)] = value
    return out


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content_sha256(replicas: dict) -> str:
    """Checksum of cached replicas: SHA-256 of their canonical JSON (floats round-trip exactly through repr)."""
    try:
        return _sha256(json.dumps(replicas, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError):
        return ""


def _finite_array(rows, shape: tuple[int, ...]) -> np.ndarray | None:
    """``rows`` as a float64 array of ``shape`` if every leaf is a finite int or float (no bools or strings)."""
    def leaves_are_numbers(x, depth: int) -> bool:
        if depth == len(shape):
            return type(x) in (int, float)
        return isinstance(x, list) and len(x) == shape[depth] and all(leaves_are_numbers(v, depth + 1) for v in x)

    if not leaves_are_numbers(rows, 0):
        return None
    value = np.asarray(rows, dtype=np.float64)
    return value if np.all(np.isfinite(value)) else None


def _matrix_free_replicas(landscape, plan: SamplePlan, diagrams: list[Diagram], root: str, seed: int, chunk: int,
                          progress: bool, backend: str = "local", address: str | None = None,
                          workers: int = 1) -> dict[str, np.ndarray]:
    """Per-replication matrix-free estimates on the seed's rows (:func:`~.evaluators.replication_values`)."""
    rows = draw_rows(landscape, plan.used, seed)
    rows = rows.reshape((plan.replications, plan.groups, plan.per_group) + tuple(rows.shape[1:]))
    return replication_values(landscape, rows, diagrams, root, chunk, progress, backend, address, workers)


def replication_tables(estimates: UvalueEstimates):
    """One :class:`~sgd_diagrams.values.uvalue.UvalueTable` per replication of the estimates (the theory's input)."""
    for r in range(estimates.plan.replications):
        yield UvalueTable({notation: values[r] for notation, values in estimates.replicas.items()})


def taylor_estimate(source, schedule: Schedule, order: int, q: Quantity, etas: np.ndarray, evaluators, plan,
                    method: str, metric: np.ndarray | None = None, bar=None) -> EstimatedPrediction:
    """The Taylor form (Theorem 1) per replication, one evaluator each: mean, stderr, mean coefficients.

    Shared by :func:`estimated_prediction` and :func:`~.statistics.statistics_prediction`, so predictions
    from saved statistics and from samples are the same computation.
    """
    preds, coefficient_rows = [], []
    for ev in evaluators:
        if bar is not None:
            bar.update(1)
        series = taylor_series(source, schedule, order, q.name, metric=metric, evaluator=ev)
        coefficient_rows.append(series.coefficients)
        preds.append(series(etas))
    if bar is not None:
        bar.close()
    replicas = np.stack([np.asarray(p, dtype=np.float64) for p in preds])
    R = len(replicas)
    coefficients = None
    if coefficient_rows:
        coefficients = [np.mean([np.asarray(row[k], dtype=np.float64) for row in coefficient_rows], axis=0)
                        for k in range(order + 1)]
    return EstimatedPrediction(q.name, order, "Taylor", etas, replicas.mean(axis=0),
                               replicas.std(axis=0, ddof=1) / np.sqrt(R), replicas, plan, method, coefficients)


def estimated_prediction(landscape, schedule: Schedule, order: int, etas, quantity: str | Quantity = "test-loss", *,
                         samples: int, seed: int = 0, resum: bool = False, replications: int | None = None,
                         method: str = "auto", metric: np.ndarray | None = None, progress: bool = False,
                         cache: str | Path | None = None, force: bool = False, backend: str = "local",
                         address: str | None = None, krylov_dim: int | None = None, resummation: str = "auto",
                         limit: str | None = None, workers: int = 1) -> EstimatedPrediction:
    """Taylor or resummed prediction of E[quantity] from ``samples`` sampled data points.

    :func:`~.plan.plan_estimation` decides the path (per-replication uvalues, the dense statistic through a
    matrix learning rate, dense or Krylov resummation); this function executes it.  Resummed
    (``resum=True``) or T → ∞ (``limit="epochs"|"samples"``): ``resummation`` and ``krylov_dim`` as there.
    """
    q = quantity_of(quantity, DIAGRAM_QUANTITY_NAMES)
    check_order(order, "estimated")
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    plan = plan_estimation(landscape, order, q, samples, resum=resum, limit=limit, metric=metric, method=method,
                           resummation=resummation, krylov_dim=krylov_dim)
    if plan.path in ("dense", "krylov"):
        from .krylov import krylov_resummed_estimate

        kp = krylov_resummed_estimate(landscape, schedule, order, etas, q, samples=samples, seed=seed,
                                      replications=replications, krylov_dim=krylov_dim, basis=plan.path, limit=limit,
                                      metric=metric, progress=progress, force=force)
        kp.details["routing"] = plan.why
        return EstimatedPrediction(q.name, order, plan.form, etas, kp.value, kp.stderr, kp.replicas, kp.plan,
                                   "dense" if plan.path == "dense" else "matrix-free", None, kp.details)
    if plan.path == "dense-metric":
        groups = plan_groups(samples, max(order, 2) + 1, replications)
        diagrams = [d for k in range(order + 1) for d in q.diagrams(k)]
        evaluators = (ev.table(diagrams, q.root)
                      for ev in dense_group_evaluators(landscape, groups, max(order, 2), seed=seed, metric=metric))
        bar = progress_bar(groups.replications, "estimating", "replications", progress)
        return taylor_estimate(landscape, schedule, order, q, etas, evaluators, groups, plan.evaluator, metric, bar)
    est = estimate_uvalues(landscape, q.kind, order, samples, seed, replications, plan.evaluator, progress,
                           cache, schedule=schedule, force=force, backend=backend, address=address,
                           workers=workers)
    return taylor_estimate(landscape, schedule, order, q, etas, replication_tables(est), est.plan, plan.evaluator)
