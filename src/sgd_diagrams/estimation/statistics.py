"""Measure once, predict everywhere: saved estimates of every diagram value a prediction needs.

Diagram values (uvalues, seed 001 Def. 3) depend on the landscape at θ0 only; the schedule enters
through history counts alone (Theorem 1).  So the per-replication estimates of every test, train and
displacement diagram with ≤ D edges (App. C.6, :func:`~.predictions.estimate_uvalues`) determine the
estimated Taylor prediction of test loss, train loss, generalization gap and displacement for *every*
schedule and η, with the same error bars: each replication's prediction is rebuilt from that
replication's saved values, and the reported stderr is their std/√R as when estimating directly.

The estimates are those of :func:`~.predictions.estimate_uvalues`: K samples as R replications of one
block of G groups (:func:`~.evaluators.plan_groups`), the per-sample + group-mean statistic on the dense
path (:mod:`.group_statistic`), the matrix-free one above.  On the dense path (small dim, or a finite
landscape) the file may also hold each replication's part cumulant tensors (the statistic's estimated
joint cumulants, keyed by node labels and degrees) and its sample-mean Hessian Ĥ (the mean over *all*
groups, which the propagators read), so the resummed form and its T → ∞ limit (propagators from Ĥ,
§"Re-summation", Theorem 2; :func:`~.krylov.krylov_resummed_estimate` with ``basis="dense"``) and matrix
learning rates (``metric``) are replayed exactly too.

**Identity.** With the same samples, seed and replications, a prediction of order D from a file
measured at order D equals :func:`~.predictions.estimated_prediction` to the last bit (the same
per-replication numbers enter the same theory).  A lower order d < D reuses the order-D estimates
(D+1 sample groups instead of d+1): equally unbiased, but not the same draws as a direct order-d
estimate.  The resummed form's direct estimate uses max(d, 2)+1 groups, so it matches when
max(d, 2) = max(D, 2).

**Format** (JSON, ``"format": "sgd-diagrams-statistics"``, ``"schema": 2``): landscape identity (name,
description, dim, SHA-256 of θ0), samples, seed, order, estimator, the sample plan, ``uvalues[kind]
[notation]`` (R numbers, or R × dim for displacement), optional ``tensors`` (plan, max degree, per-replication
``hessian`` R × dim × dim and ``parts``) and ``lambda_max``.  Schema 1 (the earlier per-sample blocks
estimator, no Ĥ) is refused: its numbers are not what direct estimation now computes; measure again.  Files
are untrusted input: every field is type- and shape-checked on load and anything else is a one-line
:class:`SgdDiagramsError`.
"""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..diagrams import DIAGRAM_QUANTITY_NAMES, KINDS, Quantity
from ..diagrams import quantity as quantity_of
from ..errors import SgdDiagramsError
from ..io import atomic_write_text, dumps, progress_bar, read_untrusted_json, terminal_safe
from ..limits import MAX_SAMPLES, MAX_STATISTICS_BYTES, MAX_STATISTICS_TENSOR_FLOATS
from ..schedules.grid import Schedule
from ..theory.limits import LIMIT_FAMILIES
from ..theory.orders import ORDER_LIMITS, check_order
from ..values.uvalue import PartTable
from .evaluators import SamplePlan, choose_method, draw_rows, plan_groups
from .group_statistic import dense_group_evaluators
from .predictions import (
    EstimatedPrediction,
    UvalueEstimates,
    _fingerprint,
    _kind_diagrams,
    estimate_uvalues,
    replication_tables,
    taylor_estimate,
)

__all__ = [
    "replication_evaluators",
    "FORMAT",
    "SCHEMA",
    "PartTensors",
    "Statistics",
    "load_statistics",
    "measure_statistics",
    "same_landscape",
    "statistics_prediction",
    "top_hessian_eigenvalue",
]

FORMAT = "sgd-diagrams-statistics"
SCHEMA = 2
_METHODS = ("dense", "matrix-free")
_MAX_REPLICATIONS = 10**5
_MAX_DIM = 10**9
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("sgd-diagrams")
    except Exception:  # noqa: BLE001 - not installed as a distribution: informational field only
        return "unknown"


@dataclass(frozen=True, eq=False)
class PartTensors:
    """Per-replication estimated part cumulants: ``parts[(members, degrees)]`` has shape (R,) + (dim,)*Σdegrees.

    ``plan`` is the sample plan they were drawn with (max(D, 2)+1 groups), ``max_degree`` the highest
    derivative prepared, ``hessian`` (R, dim, dim) each replication's sample-mean Hessian over all its
    groups (the propagators' Ĥ, :class:`~.group_statistic.GroupStatisticEvaluator` ``part_cumulant((2,))``).
    """

    plan: SamplePlan
    max_degree: int
    parts: dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray]
    hessian: np.ndarray

    def replication(self, r: int) -> dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray]:
        return {k: v[r] for k, v in self.parts.items()}


@dataclass(frozen=True, eq=False)
class Statistics:
    """Every diagram value a prediction up to ``order`` needs, per replication (see the module docstring).

    Stands in for the landscape in :func:`sgd_diagrams.predict` (``sd.predict(stats, schedule, ...)``):
    predictions for any schedule and η without touching the model.  ``save(path)`` writes the JSON file,
    :func:`load_statistics` reads it back (validated).
    """

    landscape: dict[str, Any]  # name, description, dim, theta0_sha256, spec (or None)
    samples: int
    seed: int
    order: int
    method: str
    plan: SamplePlan
    uvalues: dict[str, dict[str, np.ndarray]]
    tensors: PartTensors | None = None
    lambda_max: float | None = None
    version: str = field(default_factory=_version)

    def measured_values(self) -> Statistics:
        """Itself: the protocol :func:`sgd_diagrams.api.measured_values` dispatches on (values, not a model)."""
        return self

    # -- what a landscape offers the theory ------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.landscape["dim"])

    @property
    def name(self) -> str:
        return str(self.landscape["name"])

    @property
    def replications(self) -> int:
        return self.plan.replications

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in KINDS if k in self.uvalues)

    def __repr__(self) -> str:
        extra = ", tensors" if self.tensors is not None else ""
        return (f"Statistics({self.name}, order={self.order}, samples={self.samples}, seed={self.seed}, "
                f"replications={self.replications}, kinds={'/'.join(self.kinds)}, {self.method}{extra})")

    def estimates(self, kind: str) -> UvalueEstimates:
        """The saved uvalue replicas of one diagram kind, as the estimator returns them."""
        if kind not in self.uvalues:
            raise SgdDiagramsError(f"the statistics hold no {kind} diagrams (they have {', '.join(self.kinds)}); "
                                   f"measure them again with kind {kind} (stats --kind all)")
        return UvalueEstimates(self.plan, self.method, self.uvalues[kind])

    def require(self, quantity: str | Quantity, order: int, resummed: bool = False,
                metric: bool = False) -> Quantity:
        """The quantity if these statistics can predict it at ``order`` (and form), else a one-line error."""
        q = quantity_of(quantity, DIAGRAM_QUANTITY_NAMES)
        check_order(order, "estimated")
        if order > self.order:
            raise SgdDiagramsError(f"order {order} needs diagrams with {order} edges, but the statistics were "
                                   f"measured to order {self.order}; use --order <= {self.order} or measure again")
        if q.kind not in self.uvalues:
            raise SgdDiagramsError(f"{q.name} needs {q.kind} diagrams, which the statistics lack (they hold "
                                   f"{', '.join(self.kinds)}); measure again with stats --kind all")
        if (resummed or metric) and self.tensors is None:
            what = "the resummed form" if resummed else "a matrix learning rate (metric)"
            raise SgdDiagramsError(f"{what} needs the estimated part cumulants, which these statistics lack "
                                   "(only the dense path with small dim saves them); use the Taylor form")
        return q

    def evaluators(self, metric: np.ndarray | None = None) -> Iterator[PartTable]:
        """One replaying evaluator per replication of the saved part cumulants."""
        if self.tensors is None:
            raise SgdDiagramsError("these statistics hold no part cumulants; use the Taylor form")
        for r in range(self.tensors.plan.replications):
            yield PartTable(self.tensors.replication(r), self.dim, metric, self.tensors.hessian[r])

    def summary(self) -> list[dict[str, Any]]:
        """Mean ± stderr of every saved diagram value (rows: kind, notation, edges, value, stderr)."""
        rows = []
        for kind in self.kinds:
            est = self.estimates(kind)
            for d in _kind_diagrams(kind, self.order):
                rows.append({"kind": kind, "notation": str(d), "edges": d.n_edges,
                             "value": np.asarray(est.mean(d)).tolist(), "stderr": np.asarray(est.stderr(d)).tolist()})
        return rows

    # -- the file --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT, "schema": SCHEMA, "version": self.version,
            "landscape": dict(self.landscape), "samples": self.samples, "seed": self.seed, "order": self.order,
            "method": self.method, "plan": _plan_json(self.plan),
            "uvalues": {k: {n: v.tolist() for n, v in self.uvalues[k].items()} for k in self.kinds},
            "tensors": None, "lambda_max": self.lambda_max,
        }
        if self.tensors is not None:
            out["tensors"] = {"plan": _plan_json(self.tensors.plan), "max_degree": self.tensors.max_degree,
                              "hessian": self.tensors.hessian.tolist(),
                              "parts": [{"members": list(m), "degrees": list(g), "replicas": v.tolist()}
                                        for (m, g), v in self.tensors.parts.items()]}
        return out

    def save(self, path: str | Path) -> None:
        """Write the statistics file atomically (compact JSON; floats round-trip exactly)."""
        atomic_write_text(path, dumps(self.to_json(), indent=None) + "\n")


def _plan_json(plan: SamplePlan) -> dict[str, int]:
    return {"samples": plan.samples, "replications": plan.replications, "blocks": plan.blocks,
            "groups": plan.groups, "per_group": plan.per_group}


# -- measuring --------------------------------------------------------------------------------------
def _part_keys(kinds: Sequence[str], order: int) -> set[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every (node labels, degrees) part the uvalues of these kinds read, plus H's."""
    keys = {((0,), (2,))}
    for kind in kinds:
        for d in _kind_diagrams(kind, order):
            for members in d.part_members:
                if kind == "displacement" and 0 in members:
                    continue
                keys.add((tuple(members), tuple(d.degree(v) for v in members)))
    return keys


def measure_statistics(landscape, order: int, samples: int, seed: int = 0, replications: int | None = None,
                       kinds: Sequence[str] = KINDS, method: str = "auto", tensors: bool | str = "auto",
                       progress: bool = False, force: bool = False, backend: str = "local",
                       address: str | None = None, chunk: int = 64, spec: str | None = None,
                       workers: int = 1) -> Statistics:
    """Estimate every ``kinds`` diagram value with ≤ ``order`` edges per replication (App. C.6) and θ0's identity.

    ``landscape`` is what the estimators take (an exact landscape, or a sampled one on its device).
    ``tensors``: save the dense path's part cumulants (resummed form, metric) — ``"auto"`` when they fit
    in :data:`~sgd_diagrams.limits.MAX_STATISTICS_TENSOR_FLOATS`, ``True`` (an error when they cannot be
    saved) or ``False``.
    """
    check_order(order, "estimated")
    kinds = tuple(dict.fromkeys(kinds))
    if not kinds or any(k not in KINDS for k in kinds):
        raise SgdDiagramsError(f"kinds must be some of {', '.join(KINDS)}, got {list(kinds)}")
    if tensors not in (True, False, "auto"):
        raise SgdDiagramsError(f"tensors must be True, False or 'auto', got {tensors!r}")
    method = choose_method(landscape, method)
    fp = _fingerprint(landscape)
    identity = {"name": str(getattr(landscape, "name", "landscape")), "spec": spec,
                "description": json.loads(dumps(fp["landscape"], indent=None)), "dim": int(landscape.dim),
                "theta0_sha256": fp["theta0"]}
    uvalues: dict[str, dict[str, np.ndarray]] = {}
    part_tensors = None
    lambda_max = None
    if method == "matrix-free":
        if tensors is True:
            raise SgdDiagramsError("part cumulants are saved on the dense path only (small dim); use tensors='auto'")
        plan = None
        for kind in kinds:
            est = estimate_uvalues(landscape, kind, order, samples, seed, replications, method, progress, None,
                                   chunk, None, force, backend, address, workers)
            uvalues[kind], plan = est.replicas, est.plan
        lambda_max = top_hessian_eigenvalue(landscape, draw_rows(landscape, plan.used, seed), seed)
    else:
        # the plans, rows and evaluators of estimate_uvalues (Taylor) and of the dense resummed path and the
        # metric (max(D, 2)+1 groups); equal plans (D >= 2) share one pass
        plan = plan_groups(samples, order + 1, replications)
        big = max(order, 2)
        tensor_plan = plan_groups(samples, big + 1, replications)
        keys = _part_keys(kinds, order)
        floats = tensor_plan.replications * (sum(landscape.dim ** sum(g) for _, g in keys) + landscape.dim ** 2)
        keep = tensors is True or (tensors == "auto" and floats <= MAX_STATISTICS_TENSOR_FLOATS)
        if tensors is True and floats > MAX_STATISTICS_TENSOR_FLOATS:
            raise SgdDiagramsError(f"the part cumulants would take {floats:.3g} numbers (limit "
                                   f"{MAX_STATISTICS_TENSOR_FLOATS:.0e}); use a smaller order or tensors='auto'")
        if tensors == "auto" and not keep:
            warnings.warn(f"not saving part cumulants ({floats:.3g} numbers): predictions from these statistics "
                          "offer the Taylor form only", RuntimeWarning, stacklevel=2)
        shared = keep and tensor_plan == plan
        uvalues, recorded, hessians = _dense_pass(landscape, plan, big, seed, kinds, order, progress,
                                                  record=keys if shared else None)
        if keep and not shared:
            _, recorded, hessians = _dense_pass(landscape, tensor_plan, big, seed, (), order, progress, record=keys)
        if keep:
            part_tensors = PartTensors(tensor_plan, big, recorded, hessians)
        H = hessians.mean(axis=0)  # the sample-mean Hessian of every replication's samples
        lambda_max = float(np.max(np.abs(np.linalg.eigvalsh((H + H.T) / 2)))) if H.size else 0.0
    return Statistics(identity, int(samples), int(seed), order, method, plan, uvalues, part_tensors, lambda_max)


def top_hessian_eigenvalue(landscape, rows, seed: int = 0, iterations: int = 30, chunk: int = 4096) -> float:
    """max |λ| of the mean Hessian over ``rows`` at θ0, by power iteration on Hessian-vector products.

    For the matrix-free path (large models), where no Hessian is formed: forward-over-reverse HVPs of the
    mean loss, ``chunk`` rows at a time; the start vector is drawn from ``seed``.  The Rayleigh quotient
    after at most ``iterations`` steps (fewer once it changes by < 1e-6 relative), a lower bound of max |λ|
    that converges geometrically in |λ_2/λ_1|.
    """
    import torch
    from torch.func import grad, jvp

    theta = landscape.init.detach()
    n = int(rows.shape[0])

    def hvp(v):
        total = torch.zeros_like(theta)
        for lo in range(0, n, chunk):
            part = rows[lo:lo + chunk]
            g = grad(lambda th, r=part: landscape.batch_loss(th, r))
            total = total + jvp(g, (theta,), (v,))[1] * (len(part) / n)
        return total

    gen = torch.Generator().manual_seed(int(seed))
    v = torch.randn(theta.shape, generator=gen, dtype=theta.dtype).to(theta.device)
    v = v / torch.linalg.vector_norm(v)
    value = 0.0
    for _ in range(iterations):
        w = hvp(v)
        previous, value = value, float(torch.dot(v.reshape(-1), w.reshape(-1)))
        norm = float(torch.linalg.vector_norm(w))
        if norm == 0.0 or not math.isfinite(norm) or abs(value - previous) <= 1e-6 * abs(value):
            break
        v = w / norm
    return abs(value)


def _dense_pass(landscape, plan: SamplePlan, max_degree: int, seed: int, kinds: Sequence[str], order: int,
                progress: bool, record: set | None = None) -> tuple[dict[str, dict[str, np.ndarray]], dict, np.ndarray]:
    """One pass over the replications' dense group-statistic evaluators (those of
    :func:`~.predictions.estimate_uvalues`: same plan, rows and seed): uvalues of ``kinds``, the ``record``
    part cumulants and each replication's sample-mean Hessian (``max_degree`` >= 2; higher degrees only add
    tensors, the lower ones are the same numbers).
    """
    rows: dict[str, dict[str, list]] = {k: {str(d): [] for d in _kind_diagrams(k, order)} for k in kinds}
    parts: dict = {k: [] for k in (record or ())}
    hessians = []
    bar = progress_bar(plan.replications, "estimating diagram values", "replications", progress)
    for ev in dense_group_evaluators(landscape, plan, max_degree, seed=seed):
        for kind in kinds:
            root = "displacement" if kind == "displacement" else "loss"
            for d in _kind_diagrams(kind, order):
                rows[kind][str(d)].append(np.asarray(ev(d, root=root), dtype=np.float64))
        for members, degrees in parts:
            parts[(members, degrees)].append(np.asarray(ev._estimate(members, degrees), dtype=np.float64))
        hessians.append(np.asarray(ev.part_cumulant((2,)), dtype=np.float64))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    uvalues = {k: {n: np.stack(v) for n, v in rows[k].items()} for k in kinds}
    return uvalues, {k: np.stack(v) for k, v in sorted(parts.items())}, np.stack(hessians)


# -- predicting -------------------------------------------------------------------------------------
def statistics_prediction(stats: Statistics, schedule: Schedule, order: int, etas, quantity: str | Quantity,
                          resum: bool = False, metric: np.ndarray | None = None, limit: str | None = None,
                          force: bool = False, steps: np.ndarray | None = None) -> EstimatedPrediction:
    """:func:`~.predictions.estimated_prediction` from saved statistics: the same per-replication theory.

    ``schedule`` goes to the theory untouched, so whatever it carries (batches, shuffles, per-step
    learning rates, momentum) shapes the counts exactly as for exact or directly estimated values.
    ``resum`` or ``limit`` (``"epochs"``/``"samples"``, T → ∞) replay the dense resummed path
    (:func:`~.krylov.krylov_resummed_estimate` with ``basis="dense"``) on the saved tensors.  ``steps`` (resummed
    only): a training curve, the value on ``schedule.prefix(t)`` for every recorded t (value [step][η]), every
    step's history sums from one sweep per replication.
    """
    q = stats.require(quantity, order, resummed=resum or limit is not None, metric=metric is not None)
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if steps is not None and (not resum or limit is not None):
        raise SgdDiagramsError("a curve from statistics (steps=) is read here for the resummed form only; the T -> "
                               "infinity limit has no curve")
    if resum or limit is not None:
        return _resummed_replay(stats, schedule, order, etas, q, metric, limit, force, steps)
    plan = stats.tensors.plan if metric is not None else stats.estimates(q.kind).plan
    return taylor_estimate(stats, schedule, order, q, etas, replication_evaluators(stats, q, metric), plan,
                           stats.method, metric)


def replication_evaluators(stats: Statistics, q: Quantity, metric: np.ndarray | None = None):
    """One diagram-value evaluator per replication (the saved values, or the part cumulants with a metric)."""
    if metric is not None:
        assert stats.tensors is not None  # checked by require
        return stats.evaluators(metric)
    return replication_tables(stats.estimates(q.kind))

def _resummed_replay(stats: Statistics, schedule: Schedule, order: int, etas: np.ndarray, q: Quantity,
                     metric: np.ndarray | None, limit: str | None, force: bool,
                     steps: np.ndarray | None = None) -> EstimatedPrediction:
    """The dense branch of :func:`~.krylov.krylov_resummed_estimate` (Z = I) on the saved part cumulants and Ĥ.

    Step for step the same per-replication computation (curvature checks, resummed values, the order-0
    ``change``, the T → ∞ doubling) and the same summary (details, warnings), so the numbers are identical.
    """
    from .krylov import CURVATURE_FLOOR, ResummedTally

    if limit is not None and limit not in LIMIT_FAMILIES:
        raise SgdDiagramsError(f"unknown limit family {limit!r}; use epochs or samples")
    assert stats.tensors is not None  # checked by require
    dim = stats.dim
    replicas = []
    tally = ResummedTally()
    start = time.perf_counter()
    for ev in stats.evaluators(metric):
        tally.check_dense_curvature(ev, limit, CURVATURE_FLOOR)
        value = tally.replicate(ev, dim, schedule, order, etas, q, metric, False, limit, force, steps=steps)
        replicas.append(np.asarray(value, dtype=np.float64))
    seconds = time.perf_counter() - start
    details: dict = {"krylov_dim": None, "basis": "dense"}
    tally.summarize(details, schedule, True, limit, CURVATURE_FLOOR, stacklevel=4)
    if tally.horizons:
        details["horizon"] = int(max(tally.horizons))
    details["seconds"] = float(seconds)
    replicas_arr = np.stack(replicas)
    R = len(replicas_arr)
    return EstimatedPrediction(q.name, order, "limit" if limit is not None else "resummed", etas,
                               replicas_arr.mean(axis=0), replicas_arr.std(axis=0, ddof=1) / np.sqrt(R),
                               replicas_arr, stats.tensors.plan, "dense", None, details)


# -- loading (untrusted input) ----------------------------------------------------------------------
class _Bad(Exception):
    """A validation failure: the message names the field."""


def load_statistics(path: str | Path) -> Statistics:
    """Read and validate a statistics file; anything malformed is a one-line :class:`SgdDiagramsError`."""
    if isinstance(path, bool) or not isinstance(path, (str, Path)):
        raise SgdDiagramsError(f"load_statistics takes a file path, got {type(path).__name__}; pass the file "
                               "written by sgd-diagrams stats --out")
    p = Path(path)
    obj = read_untrusted_json(p, what="statistics", max_bytes=MAX_STATISTICS_BYTES)
    try:
        return statistics_from_json(obj)
    except _Bad as exc:
        raise SgdDiagramsError(f"statistics file {terminal_safe(str(p))}: {exc}; write it with sgd-diagrams stats "
                               "--out") from None


_TOP = {"format", "schema", "version", "landscape", "samples", "seed", "order", "method", "plan", "uvalues",
        "tensors", "lambda_max"}


def statistics_from_json(obj: Any) -> Statistics:
    """Build :class:`Statistics` from parsed JSON, checking every field (raises ``_Bad`` naming it)."""
    _keys(obj, _TOP, "the file")
    if obj["format"] != FORMAT:
        raise _Bad(f'"format" must be "{FORMAT}", got {obj["format"]!r}')
    schema = _int(obj["schema"], "schema", 1)
    if schema < SCHEMA:
        raise _Bad(f'"schema" {schema} holds estimates of an earlier estimator (per-sample blocks), not what '
                   f'predictions from samples compute now (schema {SCHEMA}); measure the statistics again')
    if schema != SCHEMA:
        raise _Bad(f'"schema" {schema} is not supported (this version reads schema {SCHEMA})')
    version = _str(obj["version"], "version")
    land = obj["landscape"]
    _keys(land, {"name", "spec", "description", "dim", "theta0_sha256"}, '"landscape"')
    name = _str(land["name"], "landscape.name")
    if terminal_safe(name) != name:
        raise _Bad('"landscape.name" holds control characters (a name is printed to the terminal)')
    if land["spec"] is not None:
        _str(land["spec"], "landscape.spec")
    if not isinstance(land["description"], dict):
        raise _Bad('"landscape.description" must be an object')
    dim = _int(land["dim"], "landscape.dim", 1, _MAX_DIM)
    if not isinstance(land["theta0_sha256"], str) or not _HEX64.match(land["theta0_sha256"]):
        raise _Bad('"landscape.theta0_sha256" must be 64 lowercase hex digits')
    samples = _int(obj["samples"], "samples", 1, MAX_SAMPLES)
    seed = _int(obj["seed"], "seed", 0)
    order = _int(obj["order"], "order", 0, ORDER_LIMITS["estimated"])
    method = obj["method"]
    if method not in _METHODS:
        raise _Bad(f'"method" must be one of {", ".join(_METHODS)}, got {method!r}')
    plan = _plan(obj["plan"], "plan", samples, order + 1)
    R = plan.replications
    uv = obj["uvalues"]
    if not isinstance(uv, dict) or not uv:
        raise _Bad('"uvalues" must be a non-empty object keyed by diagram kind')
    uvalues: dict[str, dict[str, np.ndarray]] = {}
    for kind, values in uv.items():
        if kind not in KINDS:
            raise _Bad(f'"uvalues" has unknown kind {kind!r} (use {", ".join(KINDS)})')
        if not isinstance(values, dict):
            raise _Bad(f'"uvalues.{kind}" must be an object keyed by diagram notation')
        expected = [str(d) for d in _kind_diagrams(kind, order)]
        missing = [n for n in expected if n not in values]
        extra = [n for n in values if n not in expected]
        if missing or extra:
            detail = (f"; missing {missing[:3]}" if missing else "") + (f"; unexpected {extra[:3]}" if extra else "")
            raise _Bad(f'"uvalues.{kind}" must hold exactly the {kind} diagrams with <= {order} edges{detail}')
        shape = (R,) if kind != "displacement" else (R, dim)
        uvalues[kind] = {n: _array(values[n], shape, f"uvalues.{kind}.{n}") for n in expected}
    tensors = None
    if obj["tensors"] is not None:
        if method != "dense":
            raise _Bad('"tensors" are only written by the dense estimator')
        tensors = _tensors(obj["tensors"], samples, order, dim)
    lam = obj["lambda_max"]
    if lam is not None:
        lam = _float(lam, "lambda_max")
        if lam < 0:
            raise _Bad('"lambda_max" must be >= 0')
    return Statistics({"name": name, "spec": land["spec"], "description": land["description"], "dim": dim,
                       "theta0_sha256": land["theta0_sha256"]}, samples, seed, order, method, plan, uvalues,
                      tensors, lam, version)


def _keys(obj: Any, keys: set[str], where: str) -> None:
    if not isinstance(obj, dict):
        raise _Bad(f"{where} must be a JSON object")
    missing = sorted(keys - set(obj))
    extra = sorted(set(obj) - keys)
    if missing:
        raise _Bad(f"{where} lacks {', '.join(repr(k) for k in missing)}")
    if extra:
        raise _Bad(f"{where} has unexpected field {extra[0]!r}")


def _int(value: Any, name: str, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f" in {low}..{high}" if high is not None else f" >= {low}"
        raise _Bad(f'"{name}" must be an integer{bound}, got {value!r:.40}')
    return value


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Bad(f'"{name}" must be a finite number, got {value!r:.40}')
    return float(value)


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > 10_000:
        raise _Bad(f'"{name}" must be a string')
    return value


def _plan(obj: Any, where: str, samples: int, groups: int) -> SamplePlan:
    _keys(obj, {"samples", "replications", "blocks", "groups", "per_group"}, f'"{where}"')
    plan = SamplePlan(_int(obj["samples"], f"{where}.samples", 1, MAX_SAMPLES),
                      _int(obj["replications"], f"{where}.replications", 2, _MAX_REPLICATIONS),
                      _int(obj["blocks"], f"{where}.blocks", 1, MAX_SAMPLES),
                      _int(obj["groups"], f"{where}.groups", 1, 64),
                      _int(obj["per_group"], f"{where}.per_group", 1, MAX_SAMPLES))
    if plan.samples != samples or plan.groups != groups or plan.used > samples:
        raise _Bad(f'"{where}" does not fit {samples} samples in {groups} groups')
    if plan != plan_groups(samples, groups, plan.replications):
        raise _Bad(f'"{where}" is not the estimator\'s split of {samples} samples into {plan.replications} '
                   f"replications of one block of {groups} groups")
    return plan


def _flat_numbers(obj: Any, shape: tuple[int, ...], where: str) -> None:
    """``obj`` is nested lists of exactly ``shape`` whose leaves are ints or floats (never bools, strings, null).

    Lengths are checked before descending, so the work list never holds more than the expected lists (a long
    row in a crafted file is refused without pushing one entry per number).
    """
    stack = [(obj, 0)]
    while stack:
        value, level = stack.pop()
        if not isinstance(value, list) or len(value) != shape[level]:
            got = f"{len(value)} entries" if isinstance(value, list) else type(value).__name__
            raise _Bad(f'"{where}" must have shape {list(shape)} (level {level} has {got})')
        if level == len(shape) - 1:
            for v in value:
                if type(v) not in (int, float):
                    raise _Bad(f'"{where}" holds {type(v).__name__} {v!r:.20} where a number belongs')
        else:
            stack.extend((v, level + 1) for v in value)


def _array(obj: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    if not isinstance(obj, list) or len(obj) != shape[0]:
        got = len(obj) if isinstance(obj, list) else type(obj).__name__
        raise _Bad(f'"{where}" must be a list of {shape[0]} replications, got {got}')
    _flat_numbers(obj, shape, where)
    try:
        arr = np.asarray(obj, dtype=np.float64)
    except (ValueError, OverflowError):
        raise _Bad(f'"{where}" must have shape {list(shape)}') from None
    if arr.shape != shape:
        raise _Bad(f'"{where}" must have shape {list(shape)}, got {list(arr.shape)}')
    if not np.all(np.isfinite(arr)):
        raise _Bad(f'"{where}" holds a non-finite number')
    return arr


def _tensors(obj: Any, samples: int, order: int, dim: int) -> PartTensors:
    _keys(obj, {"plan", "max_degree", "hessian", "parts"}, '"tensors"')
    big = max(order, 2)
    plan = _plan(obj["plan"], "tensors.plan", samples, big + 1)
    max_degree = _int(obj["max_degree"], "tensors.max_degree", big, big)
    parts_in = obj["parts"]
    if not isinstance(parts_in, list) or len(parts_in) > 10_000:
        raise _Bad('"tensors.parts" must be a list')
    total = 0
    parts: dict = {}
    for i, part in enumerate(parts_in):
        where = f"tensors.parts[{i}]"
        _keys(part, {"members", "degrees", "replicas"}, f'"{where}"')
        members, degrees = part["members"], part["degrees"]
        if (not isinstance(members, list) or not isinstance(degrees, list) or not members
                or len(members) != len(degrees) or len(set(map(str, members))) != len(members)):
            raise _Bad(f'"{where}" needs equally long, non-empty "members" (distinct) and "degrees"')
        m = tuple(_int(x, f"{where}.members", 0, plan.groups - 1) for x in members)
        g = tuple(_int(x, f"{where}.degrees", 0, max_degree) for x in degrees)
        total += plan.replications * dim ** sum(g)
        if total > MAX_STATISTICS_TENSOR_FLOATS:
            raise _Bad(f'"tensors" hold more than {MAX_STATISTICS_TENSOR_FLOATS:.0e} numbers')
        if (m, g) in parts:
            raise _Bad(f'"{where}" repeats a part')
        parts[(m, g)] = _array(part["replicas"], (plan.replications,) + (dim,) * sum(g), f"{where}.replicas")
    if ((0,), (2,)) not in parts:
        raise _Bad('"tensors" lack the Hessian part (members [0], degrees [2])')
    total += plan.replications * dim ** 2
    if total > MAX_STATISTICS_TENSOR_FLOATS:
        raise _Bad(f'"tensors" hold more than {MAX_STATISTICS_TENSOR_FLOATS:.0e} numbers')
    hessian = _array(obj["hessian"], (plan.replications, dim, dim), "tensors.hessian")
    _symmetric(hessian, "tensors.hessian")
    _symmetric(parts[((0,), (2,))], "the Hessian part of tensors.parts")
    return PartTensors(plan, max_degree, parts, hessian)


def _symmetric(matrices: np.ndarray, where: str) -> None:
    """Refuse Hessians that are not symmetric (to rounding): the estimator writes symmetric ones, and silently
    symmetrising a tampered matrix would change the prediction."""
    gap = np.abs(matrices - np.swapaxes(matrices, -1, -2)).max(initial=0.0)
    if gap > 1e-9 * max(1.0, float(np.abs(matrices).max(initial=0.0))):
        raise _Bad(f'"{where}" is not symmetric (|H - Hᵀ| up to {gap:.3g})')


def same_landscape(stats: Statistics, landscape) -> bool:
    """True when ``landscape`` (any kind) is the one the statistics were measured on: description, dim and θ0."""
    from ..landscapes.conversions import as_sampled, is_exact

    land = landscape if is_exact(landscape) else as_sampled(landscape)
    fp = _fingerprint(land)
    return (int(land.dim) == stats.dim and fp["theta0"] == stats.landscape["theta0_sha256"]
            and json.loads(dumps(fp["landscape"], indent=None)) == stats.landscape["description"])
