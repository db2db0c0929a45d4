"""The public API: what a user types after ``import sgd_diagrams as sd``.

Three verbs over any landscape and any schedule, with the same keyword names everywhere
(``order``, ``quantity``, ``eta``, ``samples``, ``seed``):

* :func:`taylor_series` — Theorem 1's coefficients c_0..c_order of E[quantity] (seed 001 §"Main result"),
  exactly, on any landscape with an exact form (finite files and the built-in artificial landscapes);
* :func:`predict` — values at given learning rates: the Taylor polynomial, the resummed form
  (§"Re-summation cures large-T divergences"), Remark 1's continuous-time form, or the T → ∞ limit
  (Theorem 2); with ``samples=K`` from diagram values *estimated* on K sampled data points (App. C.6),
  with standard errors — the way to predict on a neural network;
* :func:`simulate` — SGD and its rivals over many independent trials (App. C.3–C.4), an η sweep with
  paired training sets across η and across optimizers;
* :func:`measure` / :func:`load_statistics` — measure once: every diagram value a prediction needs, per
  replication, saved; the resulting ``Statistics`` stands in for the landscape in :func:`predict`.

Landscapes of either kind work in each: the exact theory converts with
:func:`~sgd_diagrams.landscapes.as_exact`, simulation with :func:`~sgd_diagrams.landscapes.as_sampled`;
an impossible combination (exact theory on a convnet) is a one-line :class:`SgdDiagramsError` that says
what to do instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .diagrams import QUANTITY_NAMES, Quantity, quantity
from .errors import SgdDiagramsError
from .io import read_json_object, terminal_safe
from .landscapes import as_exact, is_exact
from .limits import MAX_INPUT_BYTES, MAX_SAMPLES
from .options import Execution, Sampling, split_legacy
from .schedules import Schedule
from .theory.orders import check_order
from .theory.series import Series
from .theory.series import taylor_series as _taylor_series
from .theory.trust import DEFAULT_RTOL, Trust, assess_trust

__all__ = ["METHODS", "PREDICT_OPTIONS", "Execution", "Prediction", "Sampling", "Simulation", "check_etas",
           "is_statistics", "load_statistics", "measure", "measured_values", "predict", "simulate", "taylor_series",
           "trust_region"]

METHODS = ("taylor", "resummed", "continuous", "limit")
"""Forms of :func:`predict`: the Taylor polynomial, resummed, continuous-time resummed, T → ∞ limit."""

LIMIT_FAMILIES = ("epochs", "samples")


def check_etas(eta: Any, positive: bool = True) -> np.ndarray:
    """η as a 1-D float64 array of finite (positive) real numbers, or a one-line error.

    Strings (``"0.01"``), booleans (``True`` would read as 1.0) and complex numbers are refused, not converted.
    """
    values = list(eta) if isinstance(eta, (list, tuple)) else [eta]
    if isinstance(eta, np.ndarray):
        if eta.dtype.kind not in "iuf":
            raise SgdDiagramsError(f"eta must hold real numbers, got an array of {eta.dtype}")
        values = []
    for x in values:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise SgdDiagramsError(f"eta must be a real number or a list of them, got {type(x).__name__} "
                                   f"{terminal_safe(repr(x))[:40]}")
    try:
        etas = np.atleast_1d(np.asarray(eta, dtype=np.float64))
    except (TypeError, ValueError, OverflowError):
        raise SgdDiagramsError(f"eta must be a number or a list of numbers, got {terminal_safe(repr(eta))[:60]}") \
            from None
    if etas.ndim != 1 or etas.size == 0:
        raise SgdDiagramsError("eta must be a number or a non-empty flat list of numbers")
    if not np.all(np.isfinite(etas)):
        raise SgdDiagramsError("every eta must be a finite number")
    if positive and np.any(etas <= 0):
        raise SgdDiagramsError(f"every eta must be positive (got {etas[etas <= 0][0]:g}); SGD descends with eta > 0")
    return etas


def _check_etas_fit(etas: np.ndarray, land: Any) -> None:
    """Every η must be a number of the landscape's floating type (a step θ − η·g with η beyond float32's range
    is no SGD step, and the weights' update would fail inside torch)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - without torch there are no torch weights
        return

    dtype = getattr(land, "dtype", None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        largest = float(torch.finfo(dtype).max)
        if np.any(np.abs(etas) > largest):
            raise SgdDiagramsError(f"eta={float(np.max(np.abs(etas))):g} is beyond the range of this landscape's "
                                   f"{str(dtype).removeprefix('torch.')} weights (largest {largest:.3g}); use a "
                                   f"smaller eta")


def _check_where(backend: Any, address: Any, device: Any) -> None:
    """Backend and device are validated even where they go unused (an exact landscape runs here, on the CPU)."""
    from .backends import check_backend, resolve_device

    if not isinstance(backend, str):
        raise SgdDiagramsError(f"backend must be a string (local or ray), got {type(backend).__name__}")
    check_backend(backend, address)
    if device is not None:
        resolve_device(device)


def _check_schedule(schedule: Any) -> Schedule:
    if not isinstance(schedule, Schedule):
        raise SgdDiagramsError(
            f"schedule must be a Schedule (sd.sgd(N=.., B=.., E=..), sd.gd(N=.., T=..), sd.from_batches(N, batches)), "
            f"got {type(schedule).__name__}"
        )
    return schedule


def _exact(landscape: Any) -> Any:
    return as_exact(landscape)


def taylor_series(landscape: Any, schedule: Schedule, order: int, quantity: str | Quantity = "test-loss", *,
                  metric: np.ndarray | None = None, lr: Any = None, momentum: float | None = None,
                  force: bool = False) -> Series:
    """Theorem 1's Taylor series of E[quantity] to η^order, exactly (``s.coefficients``, ``s(eta)``).

    ``metric``: a matrix learning rate η = scalar·P (P symmetric).  ``lr``: per-step multipliers (a list
    of T numbers, or a spec such as ``"warmup:5+cosine"``, see :func:`~sgd_diagrams.schedules.lr_schedule`)
    and ``momentum``: heavy-ball β — both shorthand for ``schedule.with_lr(lr).with_momentum(momentum)``.
    Landscapes without an exact form (neural networks) raise an error pointing to ``predict(..., samples=K)``.
    """
    q = _quantity(quantity, exclude_variance=True)
    schedule = _with_lr_momentum(_check_schedule(schedule), lr, momentum)
    return _taylor_series(_exact(landscape), schedule, order, q, metric=_metric(metric, landscape), force=force)


def _with_lr_momentum(schedule: Schedule, lr: Any, momentum: float | None) -> Schedule:
    """``schedule`` with ``lr`` multipliers (list or spec string) and heavy-ball β applied, when given.

    The same meaning in every verb (``taylor_series``, ``predict``, ``simulate``, ``measure``'s callers):
    a keyword that contradicts what the schedule already carries is refused rather than silently winning.
    """
    if lr is not None:
        new = schedule.with_lr(lr)
        if schedule.lr is not None and new.lr != schedule.lr:
            raise SgdDiagramsError("the schedule already carries lr multipliers; give lr= or schedule.with_lr(...), "
                                   "not both")
        schedule = new
    if momentum is not None:
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)):
            raise SgdDiagramsError(f"momentum must be a number in [0, 1) (heavy-ball beta), got {momentum!r}")
        if schedule.momentum > 0 and float(momentum) != schedule.momentum:
            raise SgdDiagramsError(f"the schedule already carries momentum {schedule.momentum:g}; momentum="
                                   f"{float(momentum):g} contradicts it (drop one)")
        schedule = schedule.with_momentum(float(momentum))
    return schedule


def _quantity(value: str | Quantity, exclude_variance: bool = False) -> Quantity:
    names = tuple(n for n in QUANTITY_NAMES if not (exclude_variance and n == "test-loss-variance"))
    return quantity(value, names)


def _metric(metric: Any, landscape: Any) -> np.ndarray | None:
    if metric is None:
        return None
    try:
        m = np.asarray(metric, dtype=np.float64)
    except (TypeError, ValueError):
        raise SgdDiagramsError("metric must be a square matrix of numbers") from None
    dim = getattr(landscape, "dim", None)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or (dim is not None and m.shape[0] != dim):
        raise SgdDiagramsError(f"metric must be a {dim}x{dim} matrix (one row per weight), got shape {m.shape}")
    if not np.all(np.isfinite(m)) or not np.allclose(m, m.T):
        raise SgdDiagramsError("metric must be a finite symmetric matrix")
    return m


@dataclass(frozen=True)
class Prediction:
    """Predicted E[quantity] at each η: ``value`` (and ``stderr`` when estimated from samples, else None).

    ``value`` has shape (len(eta),) — (len(eta), dim) for displacement; ``warnings`` are the theory's
    cautions (growing propagators, …); ``details`` records how it was computed (samples, replications,
    horizon reached by a limit, …).
    """

    quantity: str
    order: int
    method: str
    form: str
    eta: np.ndarray
    value: np.ndarray
    stderr: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    trusted: np.ndarray | None = None  # Taylor form: error_estimate <= tolerance (sgd_diagrams.theory.trust)
    error_estimate: np.ndarray | None = None  # Taylor form: estimated truncation error per eta
    tolerance: np.ndarray | None = None  # Taylor form: what the error is held to per eta (rtol * change + 2 se)

    @property
    def complement(self) -> dict[str, Any] | None:
        """Matrix-free resummed form with k < dim: the complement term of the Krylov space per η.

        ``{"value", "stderr", "relative", "curvature"}`` — what the directions outside span(Z) contribute
        (expanded to the series order, not resummed; a displacement's by its norm), and its size relative
        to the predicted effect; None when nothing lies outside (dense path, k = dim, other forms).
        """
        return self.details.get("complement")

    def to_json(self) -> dict[str, Any]:
        """A JSON-able record (the CLI's ``--json`` output); :meth:`from_json` reads it back."""
        out: dict[str, Any] = {"quantity": self.quantity, "order": self.order, "method": self.method,
                               "form": self.form, "eta": self.eta.tolist(), "value": np.asarray(self.value).tolist()}
        if self.stderr is not None:
            out["stderr"] = np.asarray(self.stderr).tolist()
        if self.trusted is not None:
            out["trusted"] = np.asarray(self.trusted, dtype=bool).tolist()
        if self.error_estimate is not None:
            out["error_estimate"] = _json_floats(self.error_estimate)
            out["tolerance"] = _json_floats(self.tolerance)
        out.update({k: _json_floats(v) if isinstance(v, np.ndarray) else v for k, v in self.details.items()})
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    @property
    def steps(self) -> np.ndarray | None:
        """A curve's recorded steps (``value`` is then indexed [step][eta]); None for a prediction at T only."""
        steps = self.details.get("steps")
        return None if steps is None else np.asarray(steps, dtype=np.int64)

    @classmethod
    def from_json(cls, record: Any) -> Prediction:
        """A :class:`Prediction` from :meth:`to_json`'s record, or the path of a ``predict --json --out`` file.

        The record is untrusted data: every field is type- and shape-checked (one-line errors).
        """
        obj = read_json_object(record, "prediction", MAX_INPUT_BYTES) if isinstance(record, (str, Path)) else record
        if not isinstance(obj, dict):
            raise SgdDiagramsError(f"a prediction record must be a JSON object, got {type(obj).__name__}")
        q, order = obj.get("quantity"), obj.get("order")
        if q not in QUANTITY_NAMES or isinstance(order, bool) or not isinstance(order, int) or order < 0:
            raise SgdDiagramsError("prediction record needs 'quantity' (a quantity name) and 'order' (an integer "
                                   ">= 0); pass what Prediction.to_json() or predict --json wrote")
        etas = check_etas(_record_numbers(obj.get("eta"), "eta"))
        if obj.get("steps") is not None:
            return cls._curve_from_json(obj, q, order, etas)
        value = _record_numbers(obj.get("value"), "value", etas.size)
        optional = {k: (None if obj.get(k) is None else _record_numbers(obj[k], k, etas.size, nullable=k != "stderr"))
                    for k in ("stderr", "error_estimate", "tolerance")}
        trusted = obj.get("trusted")
        if trusted is not None:
            if not (isinstance(trusted, list) and len(trusted) == etas.size and all(isinstance(t, bool)
                                                                                    for t in trusted)):
                raise SgdDiagramsError("prediction 'trusted' must be a list of true/false, one per eta")
            trusted = np.array(trusted, dtype=bool)
        return cls._assemble(obj, q, order, etas, value, optional, trusted)

    @classmethod
    def _curve_from_json(cls, obj: dict, q: str, order: int, etas: np.ndarray) -> Prediction:
        """A curve's record: ``steps`` (increasing integers) and value/stderr/trusted/… indexed [step][eta]."""
        steps = obj["steps"]
        if not (isinstance(steps, list) and steps and all(type(t) is int and t >= 0 for t in steps)
                and all(a < b for a, b in zip(steps, steps[1:], strict=False))):
            raise SgdDiagramsError("prediction 'steps' must be a list of increasing step numbers >= 0")
        n = len(steps)

        def table(name: str, nullable: bool = False) -> np.ndarray | None:
            if obj.get(name) is None:
                return None
            arr = _record_numbers(obj[name], name, n, nullable=nullable)
            if arr.ndim < 2 or arr.shape[1] != etas.size:
                raise SgdDiagramsError(f"prediction '{name}' of a curve must hold one row per step, one entry per eta")
            return arr

        optional = {"stderr": table("stderr"), "error_estimate": table("error_estimate", True),
                    "tolerance": table("tolerance", True)}
        trusted = obj.get("trusted")
        if trusted is not None:
            if not (isinstance(trusted, list) and len(trusted) == n and all(
                    isinstance(r, list) and len(r) == etas.size and all(isinstance(t, bool) for t in r)
                    for r in trusted)):
                raise SgdDiagramsError("prediction 'trusted' of a curve must be rows of true/false, [step][eta]")
            trusted = np.array(trusted, dtype=bool)
        band = obj.get("band_sd")
        if band is not None:
            sd_table = _record_numbers(band, "band_sd", n, nullable=True)
            obj = {**obj, "band_sd": np.where(np.isinf(sd_table), np.nan, sd_table)}
        return cls._assemble(obj, q, order, etas, table("value"), optional, trusted)

    @classmethod
    def _assemble(cls, obj: dict, q: str, order: int, etas: np.ndarray, value: Any, optional: dict,
                  trusted: Any) -> Prediction:
        warns = obj.get("warnings", [])
        if not isinstance(warns, list) or not all(isinstance(w, str) for w in warns):
            raise SgdDiagramsError("prediction 'warnings' must be a list of strings")
        method = obj.get("method")
        form = obj.get("form") if isinstance(obj.get("form"), str) else ""
        if method not in METHODS:
            method = next((m for m, word in (("limit", "infinity"), ("continuous", "continuous"),
                                             ("resummed", "resummed")) if word in form), "taylor")
        details = {k: v for k, v in obj.items() if k not in _RECORD_FIELDS}
        return cls(q, order, method, form, etas, value, optional["stderr"], tuple(warns), details, trusted,
                   optional["error_estimate"], optional["tolerance"])

    def __repr__(self) -> str:
        if self.steps is not None:  # a curve: its last step, as the plain prediction would read
            last = Prediction(self.quantity, self.order, self.method, self.form, self.eta, np.asarray(self.value)[-1],
                              None if self.stderr is None else np.asarray(self.stderr)[-1],
                              trusted=None if self.trusted is None else np.asarray(self.trusted)[-1])
            return repr(last)[:-1] + f"; curve over {len(self.steps)} steps 0..{int(self.steps[-1])})"
        vals = np.asarray(self.value)
        shown = ", ".join(f"{e:g}: {_short(v)}" + ("" if self.stderr is None else f" ± {_short(se, 2)}")
                          + ("" if self.trusted is None or self.trusted[i] else " (untrusted)")
                          for i, (e, v, se) in enumerate(zip(self.eta, vals, self.stderr if self.stderr is not None
                                                            else [None] * len(self.eta), strict=True)) if i < 6)
        more = f", … {len(self.eta) - 6} more" if len(self.eta) > 6 else ""
        return f"Prediction({self.quantity}, {self.form} order {self.order}; eta {{{shown}{more}}})"


_RECORD_FIELDS = frozenset({"quantity", "order", "method", "form", "eta", "value", "stderr", "trusted",
                            "error_estimate", "tolerance", "warnings"})


def _record_numbers(xs: Any, name: str, n: int | None = None, nullable: bool = False) -> np.ndarray:
    """A record's list of numbers (or of equal-length vectors), one per η; ``nullable``: null reads as ∞."""
    if not isinstance(xs, list) or not xs or (n is not None and len(xs) != n):
        raise SgdDiagramsError(f"prediction '{name}' must be a list with one entry per eta")
    try:
        arr = np.array([np.inf if (x is None and nullable) else x for x in xs], dtype=np.float64)
    except (TypeError, ValueError):
        raise SgdDiagramsError(f"prediction '{name}' must hold numbers (or equal-length lists of numbers)") from None
    if nullable:  # a null inside a curve's rows reads as NaN here: the same "no bound"
        arr = np.where(np.isnan(arr), np.inf, arr)
    if arr.ndim > 3 or not np.all(np.isfinite(arr) | (nullable & np.isinf(arr))):
        raise SgdDiagramsError(f"prediction '{name}' must hold finite numbers")
    return arr


def _json_float(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _json_floats(a: Any) -> Any:
    """An array as nested lists of floats, non-finite entries as null (JSON has no NaN or ∞)."""
    arr = np.asarray(a, dtype=np.float64)
    return _json_float(arr) if arr.ndim == 0 else [_json_floats(x) for x in arr]


def _short(v: Any, digits: int = 6) -> str:
    if v is None:
        return ""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    inner = ", ".join(f"{x:.{min(digits, 4)}g}" for x in a.ravel()[:4])
    return f"[{inner}{', …' if a.size > 4 else ''}]"


PREDICT_OPTIONS = ("metric", "limit", "lr", "momentum", "rtol", "steps", "band")
"""The keyword options of :func:`predict` besides its own parameters (defaults in :data:`_PREDICT_DEFAULTS`)."""

_PREDICT_DEFAULTS = {"metric": None, "limit": "epochs", "lr": None, "momentum": None, "rtol": None, "steps": None,
                     "band": False}


def predict(landscape: Any, schedule: Schedule, order: int, eta: Any, quantity: str | Quantity = "test-loss",
            method: str = "taylor", sampling: Sampling | None = None, execution: Execution | None = None,
            **options: Any) -> Prediction:
    """Predict E[quantity] after SGD on ``schedule`` at each learning rate in ``eta``.

    The mathematics are the arguments: the landscape (or saved statistics), the schedule, the order, η, the
    quantity and the method.  ``sampling=sd.Sampling(samples=K, seed=, replications=, cache=, krylov_dim=,
    resummation=)`` estimates the diagram values from K sampled points; ``execution=sd.Execution(backend=,
    address=, device=, progress=, force=)`` says where and how the job runs (:mod:`sgd_diagrams.options`).
    Keyword ``options`` (:data:`PREDICT_OPTIONS`): ``metric`` (a matrix learning rate η = scalar·P), ``limit``
    (how T grows for ``method="limit"``), ``lr`` / ``momentum`` (per-step multipliers, heavy-ball β), ``steps``
    and ``band`` (curves), ``rtol`` (trust).  The previous release's ``samples=``, ``seed=``, …, ``force=``
    keywords still work, with a ``DeprecationWarning``.

    **Curves**: ``steps="all"`` (or a list of step numbers; 0 and T are always included) predicts the
    quantity after every recorded step t — the prediction on ``schedule.prefix(t)`` — with ``value`` (and
    ``stderr``, ``trusted``) of shape (len(steps), len(eta)[, dim]) and ``details["steps"]``; ``band=True``
    (test loss, exact landscapes, Taylor or resummed) adds ``details["band_sd"]``: the standard deviation of
    the test loss over training sets at each (step, η), from the test-loss variance (see :func:`_predict_curve`).

    ``method``: ``"taylor"`` (Theorem 1's polynomial), ``"resummed"`` (linkless diagrams with propagators
    (I − ηH)^{Δt−1}η), ``"continuous"`` (Remark 1) or ``"limit"`` (T → ∞, Theorem 2; ``limit`` says how T
    grows: ``"epochs"`` at fixed N, or ``"samples"`` with N = T one-epoch SGD).

    ``Sampling(samples=K)`` estimates every diagram value from K sampled data points (``seed``;
    ``replications`` R for the standard errors, default 20) — any landscape, including a
    :class:`TorchLandscape`; Taylor and resummed forms and the T → ∞ limit.  ``cache``: a directory where
    estimates are stored and reused (opt-in).  Resummed/limit from samples (:mod:`sgd_diagrams.estimation.plan`
    decides): ``resummation="auto"`` uses dense tensors whenever the cost model calls them cheap and the
    matrix-free Krylov path otherwise (Lanczos on the sample-mean Hessian, ``krylov_dim``
    steps, by default grown until the Krylov space holds 90% of the gradient noise and curvature — the rule
    is in ``predict --help``); ``"dense"`` or ``"matrix-free"`` forces one.  With k < dim the directions outside
    the Krylov space are added to the series order and their size is :attr:`Prediction.complement`.
    Move θ0 near a minimum first with ``landscape.pretrained(steps, eta)`` or ``landscape.with_init(vector)``.
    ``lr`` / ``momentum``: per-step multipliers (list or spec) and heavy-ball β, as in :func:`taylor_series`
    (Taylor and resummed forms; the continuous form and the limit refuse them).
    Order limits: :data:`sgd_diagrams.theory.orders.ORDER_LIMITS`.

    **Trust** (Taylor form): ``error_estimate`` is the estimated truncation error per η and ``trusted`` says
    it is at most ``tolerance`` = ``rtol`` (default :data:`~sgd_diagrams.theory.trust.DEFAULT_RTOL` = 0.1) ×
    the predicted change from l(θ0), plus 2·stderr for estimates — decided by
    :func:`sgd_diagrams.theory.trust.assess_trust` (tail bound from the last two non-vanishing orders, the
    next order where cheap, and |Taylor − resummed| where the resummed form exists).

    **Measure once, predict everywhere**: pass a :class:`~sgd_diagrams.estimation.statistics.Statistics`
    (from :func:`measure` or :func:`load_statistics`; any object whose class defines ``measured_values()``,
    see :func:`measured_values`) *in place of the landscape*: the saved diagram values
    stand in for the model, so any schedule and η are predicted without touching it, identical to
    ``sampling=Sampling(samples=K, ...)`` with the statistics' samples, seed and replications at the statistics'
    order (Taylor and, when the statistics hold part cumulants, the dense resummed form and T → ∞ limit;
    ``samples``, ``seed`` and ``replications`` are then fixed by the statistics and must not be given).
    """
    sampling, execution, options = split_legacy("predict", sampling, execution, options, PREDICT_OPTIONS)
    samples, seed, replications = sampling.samples, sampling.seed, sampling.replications
    cache, krylov_dim, resummation = sampling.cache, sampling.krylov_dim, sampling.resummation
    backend, address, device = execution.backend, execution.address, execution.device
    progress, force = execution.progress, execution.force
    opts = {**_PREDICT_DEFAULTS, **options}
    metric, limit, lr, momentum = opts["metric"], opts["limit"], opts["lr"], opts["momentum"]
    rtol, steps, band = opts["rtol"], opts["steps"], opts["band"]
    if method not in METHODS:
        raise SgdDiagramsError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    _check_where(backend, address, device)
    q = _quantity(quantity)
    schedule = _with_lr_momentum(_check_schedule(schedule), lr, momentum)
    etas = check_etas(eta)
    if limit not in LIMIT_FAMILIES:
        raise SgdDiagramsError(f"limit must be one of {', '.join(LIMIT_FAMILIES)}, got {limit!r}")
    metric_m = _metric(metric, landscape)
    rtol = _rtol(rtol)
    if steps is not None or band is not False:
        return _predict_curve(landscape, schedule, order, etas, q, method, steps, band, metric_m, rtol, force,
                              samples, seed, replications, sampling=sampling, progress=progress, device=device)
    stats = measured_values(landscape)  # the one protocol predict dispatches on: saved values, or a model
    if stats is not None:
        given = [n for n, v in (("samples", samples), ("replications", replications), ("cache", cache))
                 if v is not None]
        if given or seed is not None:
            raise SgdDiagramsError(f"the statistics already fix samples, seed and replications; drop "
                                   f"{', '.join(given) or 'seed'}")
        if krylov_dim is not None or resummation == "matrix-free":
            raise SgdDiagramsError("statistics replay the dense resummed path from their saved tensors; drop "
                                   "krylov_dim and resummation='matrix-free' (or predict from samples=K)")
        return _from_statistics(stats, schedule, order, etas, q, method, metric_m, limit, force, rtol)
    if samples is not None:
        seed = 0 if seed is None else seed
        return _estimated(landscape, schedule, order, etas, q, method, samples, seed, replications, metric_m, cache,
                          progress, force, backend, address, device, krylov_dim, resummation, limit, rtol,
                          execution.workers)
    if krylov_dim is not None or resummation != "auto":
        raise SgdDiagramsError("krylov_dim and resummation apply to estimates from samples (samples=K)")
    if replications is not None or seed is not None:
        raise SgdDiagramsError(f"{'replications' if replications is not None else 'seed'} only applies with "
                               "samples=K (estimated values); the exact theory draws nothing")
    check_order(order, "taylor" if method == "taylor" else method)
    exact = _exact(landscape)
    details: dict[str, Any] = {}
    trust = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        if q.is_variance:
            from .theory.variance import test_loss_variance

            if method not in ("taylor", "resummed") or metric_m is not None:
                raise SgdDiagramsError("test-loss-variance has the taylor and resummed forms, without a metric")
            values = test_loss_variance(exact, schedule, order, etas, resum=method == "resummed", force=force)
        elif method == "limit":
            from .theory.limits import resummed_limit

            if metric_m is not None:
                raise SgdDiagramsError("the T -> infinity limit takes no metric; drop it")
            values, reached = resummed_limit(exact, schedule, order, etas, q.name, family=limit, force=force)
            details["horizon"] = reached
        elif method in ("resummed", "continuous"):
            from .theory.resummation import resummed_prediction

            values = resummed_prediction(exact, schedule, order, etas, q.name, metric=metric_m,
                                         continuous=method == "continuous", force=force).value
        else:
            series = _taylor_series(exact, schedule, order, q, metric=metric_m, force=force)
            values = series(etas)
            trust = _exact_trust(exact, schedule, series, etas, values, q, metric_m, rtol)
    messages = _reissue(caught, _untrusted_message(etas, trust, "the resummed form"))
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise SgdDiagramsError("prediction is not finite: eta is too large for the series; use a smaller eta")
    return Prediction(q.name, order, method, _form(method, limit, details.get("horizon")), etas, values, None,
                      messages, details, *_trust_fields(trust))


# -- curves: the prediction after every recorded step -----------------------------------------------
def _predict_curve(landscape, schedule, order, etas, q, method, steps, band, metric, rtol, force, samples, seed,
                   replications, *, sampling: Sampling | None = None, progress: bool = False,
                   device: str | None = None) -> Prediction:
    """E[quantity] on ``schedule.prefix(t)`` for every recorded t: one pass over the schedule, values once.

    Taylor (exact, from samples or from statistics): every prefix's history counts in one sweep
    (:mod:`sgd_diagrams.theory.curves`), the diagram values computed once — about the cost of the last point.
    Resummed, continuous and the variance: the landscape side once, every prefix's geometric sums from one sweep
    (:mod:`sgd_diagrams.theory.geometric_prefixes`).
    Resummed from samples (dense or matrix-free, as :func:`predict` routes the final point): one estimate —
    per replication the Krylov basis, projected tensors and complement values once — read at every step
    (:func:`~sgd_diagrams.estimation.krylov.krylov_resummed_curves`); ``sampling`` carries its ``krylov_dim``
    and ``resummation``.
    Trust per (step, η) is :func:`assess_trust` on that step's coefficients and curvature rate (no witnesses).
    ``band``: ± sd over training sets from the test-loss variance; refused where it does not exist (estimates,
    the continuous form, a metric) and left out (NaN, with a warning) where the truncation makes it negative.
    """
    from .schedules.prefixes import check_steps

    if not isinstance(band, bool):
        raise SgdDiagramsError(f"band must be True or False, got {band!r}")
    if method == "limit":
        raise SgdDiagramsError("the T -> infinity limit is one number, not a curve; drop steps (or use the taylor "
                               "or resummed form for a curve)")
    if band and q.name != "test-loss":
        raise SgdDiagramsError("band= gives the spread of the test loss over training sets; use quantity test-loss")
    grid = check_steps("all" if steps is None else steps, schedule.T)
    estimated = samples is not None or measured_values(landscape) is not None
    if band and (estimated or method == "continuous" or metric is not None):
        why = ("the test-loss variance is not estimated from samples" if estimated else
               "the test-loss variance has no continuous-time form" if method == "continuous" else
               "the test-loss variance takes no metric")
        raise SgdDiagramsError(f"no band here: {why}; use an exact landscape with the taylor or resummed form")
    if q.is_variance and (estimated or method not in ("taylor", "resummed") or metric is not None):
        raise SgdDiagramsError("a test-loss-variance curve needs an exact landscape, the taylor or resummed form and "
                               "no metric")
    details: dict[str, Any] = {"steps": grid.tolist()}
    stderr = lambda_max = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        if estimated:
            values, stderr, coefficients, lambda_max, info = _estimated_curve(
                landscape, schedule, order, etas, q, method, grid, metric, force, samples, seed, replications,
                sampling, progress, device)
            details.update(info)
        else:
            check_order(order, "taylor" if method == "taylor" else method)
            exact = _exact(landscape)
            values, coefficients = _exact_curve(exact, schedule, order, etas, q, method, grid, metric, force)
            if coefficients is not None:
                hessian = exact.mean_derivative(2)
                if metric is not None:
                    hessian = _sym_sqrt(metric) @ hessian @ _sym_sqrt(metric)
                lam = np.linalg.eigvalsh(np.atleast_2d(hessian))
                lambda_max = float(np.max(np.abs(lam))) if lam.size else 0.0
            if band:
                details["band_sd"] = _band_sd(exact, schedule, order, etas, grid, method, force)
    trust = None
    if coefficients is not None:
        trust = _curve_trust(coefficients, etas, values, stderr, lambda_max, schedule, grid, rtol)
    final = None if trust is None else Trust(trust[1][-1], trust[2][-1], trust[0][-1], rtol)
    messages = _reissue(caught, _untrusted_message(etas, final, "the resummed form" if not estimated
                                                   else "more samples"), stacklevel=4)
    if not np.all(np.isfinite(values)):
        raise SgdDiagramsError("prediction is not finite: eta is too large for the series; use a smaller eta")
    form = _form(method, "epochs", estimated=estimated)
    return Prediction(q.name, order, method, form, etas, values, stderr, messages, details,
                      *((None, None, None) if trust is None else trust))


def _exact_curve(exact, schedule, order, etas, q, method, grid, metric, force):
    """(values (steps, etas[, dim]), Taylor coefficients per step or None) on an exact landscape.

    Every form reads all prefixes from one sweep: Taylor counts (:mod:`.theory.curves`), resummed and
    continuous geometric sums (:func:`~.theory.resummation.resummed_curve`), the variance from both moments.
    """
    if method == "taylor" and not q.is_variance:
        from .theory.curves import curve_values, taylor_curve_coefficients

        coefficients = taylor_curve_coefficients(exact, schedule, order, q, grid, metric=metric, force=force)
        return curve_values(coefficients, etas), coefficients
    if q.is_variance:
        from .theory.variance import nonnegative_variance, test_loss_variance_curve

        raw = test_loss_variance_curve(exact, schedule, order, etas, grid, resum=method == "resummed", force=force)
        # step 0: no step taken, θ0 is the same for every training set (a variance of 0, not round-off)
        values = np.stack([np.zeros(len(etas))] + [nonnegative_variance(row, etas, order, method) for row in raw[1:]])
        return values, None
    from .theory.resummation import resummed_curve

    # step 0 comes out of the sweep as l(θ0) (every edge's history sum of the empty prefix is 0)
    return resummed_curve(exact, schedule, order, etas, grid, q.name, metric=metric,
                          continuous=method == "continuous", force=force), None


def _estimated_curve(landscape, schedule, order, etas, q, method, grid, metric, force, samples, seed, replications,
                     sampling=None, progress=False, device=None):
    """An estimated curve: measure once (or the given statistics), then every step from the saved values.

    Identical to ``predict(landscape, schedule.prefix(t), samples=K, ...)`` at each t (the statistics replay
    the same per-replication computation, :func:`measure`).  The resummed form reads every step from one sweep:
    from statistics the dense replay with ``steps``, from samples :func:`_estimated_resummed_curve` (one estimate).
    """
    from .estimation.statistics import replication_evaluators, statistics_prediction
    from .theory.curves import curve_values, taylor_curve_coefficients

    if method not in ("taylor", "resummed") or q.is_variance:
        raise SgdDiagramsError("estimated curves have the taylor and resummed forms of test-loss, train-loss, "
                               "gen-gap and displacement")
    stats = measured_values(landscape)
    krylov_dim = None if sampling is None else sampling.krylov_dim
    resummation = "auto" if sampling is None else sampling.resummation
    if stats is not None and (krylov_dim is not None or resummation == "matrix-free"):
        raise SgdDiagramsError("statistics replay the dense resummed path from their saved tensors; drop "
                               "krylov_dim and resummation='matrix-free' (or predict from samples=K)")
    if stats is None and method == "resummed":
        seed = 0 if seed is None else seed
        _check_sampling(samples, seed, replications)
        return _estimated_resummed_curve(landscape, schedule, order, etas, q, grid, metric, force, int(samples),
                                         int(seed), replications, krylov_dim, resummation, progress, device)
    if stats is None and (krylov_dim is not None or resummation != "auto"):
        raise SgdDiagramsError("krylov_dim and resummation apply to the resummed form and the limit")
    if stats is None:
        seed = 0 if seed is None else seed
        _check_sampling(samples, seed, replications)
        stats = measure(landscape, order, Sampling(samples=int(samples), seed=int(seed), replications=replications),
                        Execution(force=force), kinds=(q.kind,),
                        tensors=True if (method == "resummed" or metric is not None) else False)
    stats.require(q, order, resummed=method == "resummed", metric=metric is not None)
    info = {"samples": stats.samples, "seed": stats.seed, "estimator": stats.method}
    if method == "resummed":  # every replication's tensors once, every step from one sweep
        curve = statistics_prediction(stats, schedule, order, etas, q, resum=True, metric=metric, force=force,
                                      steps=np.asarray(grid))
        return np.asarray(curve.value), np.asarray(curve.stderr), None, None, info
    replicas, per_replication = [], []
    for ev in replication_evaluators(stats, q, metric):
        coefficients = taylor_curve_coefficients(stats, schedule, order, q, grid, metric=metric, evaluator=ev)
        per_replication.append(coefficients)
        replicas.append(curve_values(coefficients, etas))
    replicas_arr = np.stack(replicas)
    R = len(replicas_arr)
    mean_coefficients = [np.mean([row[k] for row in per_replication], axis=0) for k in range(order + 1)]
    return (replicas_arr.mean(axis=0), replicas_arr.std(axis=0, ddof=1) / np.sqrt(R), mean_coefficients,
            None if metric is not None else stats.lambda_max, info)


def _estimated_resummed_curve(landscape, schedule, order, etas, q, grid, metric, force, samples, seed, replications,
                              krylov_dim, resummation, progress, device):
    """The resummed curve from samples: one estimate (:func:`~.estimation.krylov.krylov_resummed_estimate` with
    ``steps``), routed like the final point (:func:`~.estimation.plan.plan_estimation`: dense or Krylov), so the
    value at step t is ``predict(landscape, schedule.prefix(t), ..., method="resummed", sampling=...)``."""
    from .estimation.krylov import krylov_resummed_estimate
    from .estimation.plan import plan_estimation

    land = landscape if is_exact(landscape) else _sampled(landscape, device)
    plan = plan_estimation(land, order, q, samples, resum=True, metric=metric, resummation=resummation,
                           krylov_dim=krylov_dim)
    kp = krylov_resummed_estimate(land, schedule, order, etas, q, samples=samples, seed=seed, replications=replications,
                                  krylov_dim=krylov_dim, basis=plan.path, metric=metric, progress=progress,
                                  force=force, steps=grid)
    p = kp.plan
    info = {"samples": samples, "seed": seed, "replications": p.replications, "samples_per_group": p.per_group,
            "groups": p.groups, "estimator": "dense" if plan.path == "dense" else "matrix-free",
            **{k: v for k, v in kp.details.items() if k != "steps"}, "routing": plan.why}
    if getattr(landscape, "pretraining", None):
        info["pretraining"] = dict(landscape.pretraining)
    return kp.value, kp.stderr, None, None, info


def _curve_trust(coefficients, etas, values, stderr, lambda_max, schedule, grid, rtol):
    """(trusted, error, tolerance), each (steps, etas): :func:`assess_trust` at every recorded step, vectorised
    over steps (:func:`~sgd_diagrams.theory.trust.assess_trust_steps`); step 0 is l(θ0) itself, exact."""
    from .theory.trust import assess_trust_steps

    trusted, error, tolerance = assess_trust_steps(coefficients, etas, values, stderr=stderr, lambda_max=lambda_max,
                                                   multipliers=schedule.lr_multipliers(),
                                                   momentum=schedule.momentum, steps=grid, rtol=rtol)
    zero = np.asarray(grid) == 0
    error[zero], trusted[zero] = 0.0, True
    return trusted, error, tolerance


def _band_sd(exact, schedule, order, etas, grid, method, force) -> np.ndarray:
    """sd of the test loss over training sets per (step, η): √Var from the variance's own form (every step from
    one sweep, :func:`~.theory.variance.test_loss_variance_curve`); NaN (with a warning naming where) where the
    truncation makes the variance negative (l² needs order 4 on quadratics)."""
    from .theory.variance import nonnegative_variance, test_loss_variance_curve

    raw = test_loss_variance_curve(exact, schedule, order, etas, grid, resum=method == "resummed", force=force)
    variance = np.zeros((len(grid), len(etas)))
    refused = []
    for i, t in enumerate(grid[1:], start=1):
        try:
            variance[i] = nonnegative_variance(raw[i], etas, order, method)
        except SgdDiagramsError:
            variance[i] = np.nan
            refused.append(int(t))
    if refused:
        warnings.warn(f"no band at steps {refused[0]}..{refused[-1]} ({len(refused)} steps): the order-{order} "
                      f"{method} test-loss variance comes out negative there (the truncation drops terms of E[l^2]; "
                      "l^2 needs order 4 on quadratic losses); raise the order or lower eta", RuntimeWarning,
                      stacklevel=5)
    return np.sqrt(variance)


LOOKAHEAD_ORDER = 2
"""Exact Taylor predictions up to this order also compute c_{D+1} for the trust estimate (cheap there)."""
WITNESS_SECONDS = 2.0
"""A trust witness (c_{D+1}, the resummed form) is computed when its estimated cost is at most this, or at most
the estimated cost of the prediction itself (so the flag never multiplies the time of a prediction)."""


def _witness_affordable(schedule: Schedule, q: Quantity, order: int, dim: int) -> tuple[bool, bool]:
    """(look-ahead affordable, resummed witness affordable) by the history sweep's cost model."""
    from .schedules.grid import is_shuffle_average
    from .schedules.histories import history_seconds

    if is_shuffle_average(schedule):  # an average over reshuffles: no resummed form, costly extra orders
        return False, False
    base = sum(history_seconds(list(q.diagrams(k)), schedule, 1) for k in range(1, order + 1))
    budget = max(WITNESS_SECONDS, base)
    look = order <= LOOKAHEAD_ORDER and history_seconds(list(q.diagrams(order + 1)), schedule, 1) <= budget
    resum = sum(history_seconds([d], schedule, labels=dim ** d.n_edges) for k in range(1, order + 1)
                for d in q.diagrams(k, linkless=True)) <= budget
    return look, resum


def _rtol(rtol: Any) -> float:
    if rtol is None:
        return DEFAULT_RTOL
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.floating)) or not 0 < float(rtol) < np.inf:
        raise SgdDiagramsError(f"rtol must be a positive number (the trusted truncation error relative to the "
                               f"predicted change), got {rtol!r}")
    return float(rtol)


def _trust_fields(trust: Trust | None) -> tuple[Any, Any, Any]:
    return (None, None, None) if trust is None else (trust.trusted, trust.error, trust.tolerance)


def _exact_trust(exact: Any, schedule: Schedule, series: Series, etas: np.ndarray, values: np.ndarray, q: Quantity,
                 metric_m: np.ndarray | None, rtol: float) -> Trust:
    """:func:`assess_trust` of an exact Taylor prediction: look-ahead order, resummed witness, curvature."""
    from .theory.resummation import resummed_prediction

    hessian = exact.mean_derivative(2)
    if metric_m is not None:
        hessian = _sym_sqrt(metric_m) @ hessian @ _sym_sqrt(metric_m)
    lam = np.linalg.eigvalsh(np.atleast_2d(hessian))
    lambda_max = float(np.max(np.abs(lam))) if lam.size else 0.0
    lookahead = resummed = None
    look, resum = _witness_affordable(schedule, q, series.order, exact.dim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the witnesses' own cautions are not this prediction's
        if look:
            try:
                lookahead = _taylor_series(exact, schedule, series.order + 1, q, metric=metric_m).coefficients[-1]
            except SgdDiagramsError:
                lookahead = None
        resummed = np.full(np.shape(values), np.nan)
        m_max = float(np.max(schedule.lr_multipliers(), initial=1.0))
        inside = etas * m_max * lambda_max < 2.0
        if resum and np.any(inside):
            try:
                resummed[inside] = resummed_prediction(exact, schedule, series.order, etas[inside], q.name,
                                                       metric=metric_m).value
            except (SgdDiagramsError, ValueError, np.linalg.LinAlgError):
                pass
    return assess_trust(series.coefficients, etas, values, lookahead=lookahead, resummed=resummed,
                        lambda_max=lambda_max, schedule=schedule, rtol=rtol)


def _reissue(caught: list, extra: tuple[str, ...], stacklevel: int = 3) -> tuple[str, ...]:
    """The theory's RuntimeWarnings (deduplicated) plus ``extra``, warned again to the caller and returned.

    ``stacklevel`` counts frames from here to the user's call of the public function (3: called by it directly).
    """
    messages = tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)))
    messages += extra
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)
    return messages


def _sym_sqrt(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trust_region(coefficients: Sequence[Any], etas: np.ndarray, curvature: float, value: Any = None,
                 stderr: Any = None, rtol: float | None = None) -> np.ndarray:
    """Where the Taylor polynomial Σ_k c_k η^k can be trusted, per η (:func:`~sgd_diagrams.theory.trust.assess_trust`).

    ``curvature``: λ_max (descent diverges beyond η·λ_max = 2); ``value``: the prediction (default the polynomial).
    """
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if value is None:
        value = Series("", len(coefficients) - 1, list(coefficients))(etas)
    return assess_trust(coefficients, etas, value, stderr=stderr, lambda_max=curvature, rtol=rtol).trusted


def _untrusted_message(etas: np.ndarray, trust: Trust | None, remedy: str) -> tuple[str, ...]:
    if trust is None or bool(np.all(trust.trusted)):
        return ()
    bad = [f"{e:g}" for e, ok in zip(etas, trust.trusted, strict=True) if not ok]
    return (f"eta {', '.join(bad)} is outside the Taylor series' trust region (estimated truncation error above "
            f"{trust.rtol:g} x the predicted change, or eta*lambda_max >= 2(1+beta)): the polynomial is not reliable "
            f"there; use a smaller eta or {remedy}",)


def _form(method: str, limit: str, horizon: int | None = None, estimated: bool = False) -> str:
    text = {"taylor": "Taylor", "resummed": "resummed", "continuous": "continuous-time resummed"}.get(method)
    if method == "limit":
        text = f"resummed T->infinity ({limit}; converged by T={horizon})"
    return f"{text} (estimated)" if estimated else str(text)


def _check_sampling(samples, seed, replications) -> None:
    """Refuse a bad sample count, seed or replication count (one-line errors)."""
    for name, value, low in (("samples", samples, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise SgdDiagramsError(f"{name} must be an integer >= {low}, got {value!r}")
    if samples > MAX_SAMPLES:
        raise SgdDiagramsError(f"samples={samples:.3g} exceeds the limit {MAX_SAMPLES:.0e}; use fewer samples "
                               "(the standard error falls like 1/sqrt(samples))")
    if replications is not None and (isinstance(replications, bool) or not isinstance(replications, int)
                                     or replications < 2):
        raise SgdDiagramsError(f"replications must be an integer >= 2, got {replications!r}")


def _estimated(landscape, schedule, order, etas, q, method, samples, seed, replications, metric, cache,
               progress, force=False, backend="local", address=None, device=None, krylov_dim=None,
               resummation="auto", limit="epochs", rtol=DEFAULT_RTOL, workers=1) -> Prediction:
    from .estimation.predictions import estimated_prediction

    if method not in ("taylor", "resummed", "limit") or q.is_variance:
        raise SgdDiagramsError("samples=K supports the taylor and resummed forms and the T -> infinity limit of "
                               "test-loss, train-loss, gen-gap and displacement")
    if method == "taylor" and (krylov_dim is not None or resummation != "auto"):
        raise SgdDiagramsError("krylov_dim and resummation apply to the resummed form and the limit")
    _check_sampling(samples, seed, replications)
    land = landscape if is_exact(landscape) else _sampled(landscape, device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        pred = estimated_prediction(land, schedule, order, etas, q, samples=int(samples), seed=int(seed),
                                    resum=method == "resummed", replications=replications, metric=metric,
                                    progress=progress, cache=cache, force=force, backend=backend,
                                    address=address, krylov_dim=krylov_dim, resummation=resummation,
                                    limit=limit if method == "limit" else None, workers=workers)
    return _estimated_result(pred, etas, q, method, int(samples), int(seed), caught, limit,
                             getattr(landscape, "pretraining", None), schedule=schedule, rtol=rtol)


def _from_statistics(stats, schedule, order, etas, q, method, metric, limit="epochs", force=False,
                     rtol=DEFAULT_RTOL) -> Prediction:
    """:func:`_estimated` with the diagram values read from saved statistics (same theory, same numbers)."""
    from .estimation.statistics import statistics_prediction

    if method not in ("taylor", "resummed", "limit") or q.is_variance:
        raise SgdDiagramsError("statistics give the taylor and resummed forms and the T -> infinity limit of "
                               "test-loss, train-loss, gen-gap and displacement")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        pred = statistics_prediction(stats, schedule, order, etas, q, resum=method == "resummed", metric=metric,
                                     limit=limit if method == "limit" else None, force=force)
    return _estimated_result(pred, etas, q, method, stats.samples, stats.seed, caught, limit, schedule=schedule,
                             rtol=rtol, lambda_max=None if metric is not None else stats.lambda_max)


def _estimated_result(pred, etas, q, method, samples: int, seed: int, caught: list, limit: str = "epochs",
                      pretraining: dict | None = None, *, schedule: Schedule | None = None,
                      rtol: float = DEFAULT_RTOL, lambda_max: float | None = None) -> Prediction:
    """The :class:`Prediction` of an estimated prediction: trust, warnings, details."""
    trust = None
    if pred.coefficients is not None:
        trust = assess_trust(pred.coefficients, etas, pred.value, stderr=pred.stderr, lambda_max=lambda_max,
                             schedule=schedule, rtol=rtol)
    # frames: _reissue, _estimated_result, _estimated / _from_statistics, predict, the user
    messages = _reissue(caught, _untrusted_message(etas, trust, "more samples"), stacklevel=5)
    if not (np.all(np.isfinite(pred.value)) and np.all(np.isfinite(pred.stderr))):
        raise SgdDiagramsError("prediction is not finite: eta is too large for the series; use a smaller eta")
    plan = pred.plan
    details = {"samples": int(samples), "seed": int(seed), "replications": plan.replications,
               "samples_per_group": plan.per_group, "groups": plan.groups, "estimator": pred.method}
    details.update(pred.details or {})
    if pretraining:
        details["pretraining"] = dict(pretraining)
    return Prediction(q.name, pred.order, method, _form(method, limit, details.get("horizon"), estimated=True), etas,
                      pred.value,
                      pred.stderr, messages, details, *_trust_fields(trust))


def measured_values(source: Any) -> Any:
    """The saved diagram values ``source`` stands for, or None when they must come from a model.

    The protocol :func:`predict`, :func:`~sgd_diagrams.whatif` and the curves dispatch on: an object whose class
    defines ``measured_values()`` (:class:`~sgd_diagrams.estimation.statistics.Statistics`: itself) is a
    record of measured values — any schedule and η are predicted from it without a model; any other object is
    a landscape (exact or sampled), whose values are computed or estimated.
    """
    method = getattr(type(source), "measured_values", None)
    return None if method is None else method(source)


def is_statistics(obj: Any) -> bool:
    """True for saved diagram-value statistics (:func:`measure`, :func:`load_statistics`)."""
    return measured_values(obj) is not None


def measure(landscape: Any, order: int, sampling: Sampling | None = None, execution: Execution | None = None, *,
            kinds: Sequence[str] = ("test", "train", "displacement"), tensors: bool | str = "auto",
            spec: str | None = None, **legacy: Any) -> Any:
    """Measure once: estimate every diagram value a prediction up to ``order`` needs (seed 001 App. C.6).

    ``sampling=sd.Sampling(samples=K, seed=, replications=)`` (samples required, seed 0 by default) and
    ``execution=sd.Execution(...)`` as in :func:`predict`; ``samples=``, ``seed=``, … as keywords still work
    with a ``DeprecationWarning``.

    Returns a :class:`~sgd_diagrams.estimation.statistics.Statistics` holding each replication's
    estimate of every ``kinds`` diagram (test: test loss; train: train loss and gen gap; displacement),
    the sample plan and θ0's identity; ``.save(path)`` writes it, :func:`load_statistics` reads it back,
    and ``predict(stats, schedule, ...)`` predicts any schedule and η from it — identical to
    ``predict(landscape, ..., samples=samples, seed=seed, replications=replications)`` at this order.
    ``tensors`` (dense path, small dim): also save the part cumulants the resummed form and ``metric`` need
    (``"auto"``: when they fit).  ``spec``: the landscape's spec string, recorded for the reader.
    """
    from .estimation.statistics import measure_statistics

    sampling, execution, _ = split_legacy("measure", sampling, execution, legacy, ())
    if sampling.samples is None:
        raise SgdDiagramsError("measure needs a sample count: sampling=sd.Sampling(samples=K)")
    if sampling.cache is not None or sampling.krylov_dim is not None or sampling.resummation != "auto":
        raise SgdDiagramsError("measure takes samples, seed and replications from sampling=; drop cache, "
                               "krylov_dim and resummation (they apply to predict)")
    samples, replications = sampling.samples, sampling.replications
    seed = 0 if sampling.seed is None else sampling.seed
    backend, address, device = execution.backend, execution.address, execution.device
    progress, force = execution.progress, execution.force
    _check_sampling(samples, seed, replications)
    _check_where(backend, address, device)
    if isinstance(kinds, str):
        kinds = [kinds]
    land = landscape if is_exact(landscape) else _sampled(landscape, device)
    return measure_statistics(land, order, int(samples), int(seed), replications, tuple(kinds), tensors=tensors,
                              progress=progress, force=force, backend=backend, address=address, spec=spec,
                              workers=execution.workers)


def load_statistics(path: str | Path) -> Any:
    """Read a statistics file written by :meth:`Statistics.save` / ``sgd-diagrams stats --out`` (validated)."""
    from .estimation.statistics import load_statistics as _load

    return _load(path)


def _sampled(landscape: Any, device: str | None = None) -> Any:
    from .backends import resolve_device
    from .landscapes import as_sampled

    land = as_sampled(landscape)
    return land if device is None else land.to(resolve_device(device))


@dataclass
class Simulation:
    """Simulated outcomes over an η sweep: one summary per η, each with every optimizer and paired differences.

    ``summaries[i]`` is ``{"optimizers": {name: {metric: {"mean", "sem", "ci95", "n", "nonfinite"}, …,
    "at_steps": …}}, "differences": {"b - a": …}}`` at ``eta[i]``; metrics are ``test-loss``, ``train-loss``,
    ``gen-gap``, ``displacement`` (small dim) and ``accuracy`` (classifiers).  Training sets are the same
    for every η and every optimizer (paired).  ``seconds``: ``{"estimated", "measured"}`` CPU seconds (the
    pilot-calibrated estimate, None for a job too small to need one, and what the chunks took here).
    """

    eta: np.ndarray
    optimizers: list[str]
    trials: int
    seed: int
    summaries: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)  # landscape, dim, N, T, lr/momentum of the run
    seconds: dict[str, float | None] = field(default_factory=dict)  # estimated and measured CPU seconds

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape of ``sgd-diagrams simulate``: ``{"eta": [...], "sweep": [{"optimizers": {name:
        {metric: summary}}, "differences": {...}} per η], "meta": {...}}``; :meth:`from_json` reads it back."""
        from .io import to_jsonable

        meta = {**self.meta, "eta": self.eta.tolist(), "trials": self.trials, "seed": self.seed,
                "optimizers": list(self.optimizers)}
        if self.seconds:
            meta["cpu_seconds"] = dict(self.seconds)
        sweep = [{"optimizers": s["optimizers"], "differences": s.get("differences", {})} for s in self.summaries]
        record: dict[str, Any] = {"eta": self.eta.tolist(), "sweep": sweep, "meta": meta}
        steps = self.steps
        if steps is not None and steps.size > 1:  # a curve: the recorded steps (their summaries are in at_steps)
            record["steps"] = steps.tolist()
        return to_jsonable(record)

    @classmethod
    def from_json(cls, record: Any) -> Simulation:
        """A :class:`Simulation` from :meth:`to_json`'s record or a ``simulate --json``/``--out`` file (a path).

        Reads every shape ``simulate`` has written: the ``--out`` file, one η or a sweep, one optimizer or several.
        """
        obj = read_json_object(record, "simulation", MAX_INPUT_BYTES) if isinstance(record, (str, Path)) else record
        if isinstance(obj, dict) and ("result" in obj or "chunks" in obj):
            if obj.get("complete") is not True or not isinstance(obj.get("result"), dict):
                raise SgdDiagramsError("simulation file is unfinished (a killed run); rerun the same simulate command "
                                       "to finish it")
            obj = obj["result"]
        if not isinstance(obj, dict) or not isinstance(obj.get("meta"), dict):
            raise SgdDiagramsError("a simulation record must be a JSON object with 'meta'; pass what "
                                   "Simulation.to_json() or sgd-diagrams simulate wrote")
        meta = dict(obj["meta"])
        if "sweep" in obj:
            etas, blocks = check_etas(obj.get("eta")), obj["sweep"]
        else:
            etas, blocks = check_etas(meta.get("eta")), [{k: v for k, v in obj.items() if k != "meta"}]
        if not isinstance(blocks, list) or len(blocks) != etas.size or not all(isinstance(b, dict) for b in blocks):
            raise SgdDiagramsError("simulation 'sweep' must hold one object per eta")
        names = meta.get("optimizers")
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise SgdDiagramsError("simulation meta 'optimizers' must be a non-empty list of names")
        summaries = []
        for block in blocks:
            if "optimizers" not in block:  # the old one-optimizer shape: the metrics at top level
                block = {"optimizers": {names[0]: block}, "differences": {}}
            if not isinstance(block.get("optimizers"), dict) or not isinstance(block.get("differences", {}), dict):
                raise SgdDiagramsError("simulation 'optimizers' and 'differences' must be objects")
            summaries.append({"optimizers": block["optimizers"], "differences": block.get("differences", {})})
        trials, seed = meta.pop("trials", 0), meta.pop("seed", 0)
        seconds = meta.pop("cpu_seconds", None)
        seconds = {k: v for k, v in seconds.items() if isinstance(k, str) and (v is None or isinstance(v, (int, float)))
                   and not isinstance(v, bool)} if isinstance(seconds, dict) else {}
        for key in ("eta", "optimizers"):
            meta.pop(key, None)
        return cls(etas, list(names), trials, seed, summaries, meta, seconds)

    def __repr__(self) -> str:
        head = f"Simulation({', '.join(self.optimizers)}; {self.trials} trials, seed {self.seed}"
        try:
            mean, sem = self.mean("test-loss"), self.sem("test-loss")
        except (SgdDiagramsError, TypeError, ValueError):
            return head + f"; eta {', '.join(f'{e:g}' for e in self.eta[:6])})"
        shown = ", ".join(f"{e:g}: {m:.6g} ± {se:.2g}" for e, m, se in zip(self.eta[:6], mean, sem, strict=False))
        more = f", … {self.eta.size - 6} more" if self.eta.size > 6 else ""
        return f"{head}; {self.optimizers[0]} test-loss {{{shown}{more}}})"

    def _pick(self, quantity: str, optimizer: str | None, key: str) -> np.ndarray:
        name = optimizer or self.optimizers[0]
        block = "differences" if " - " in name else "optimizers"
        try:
            return np.array([s[block][name][quantity][key] for s in self.summaries], dtype=np.float64)
        except (KeyError, TypeError):
            raise SgdDiagramsError(f"no {quantity!r} for {name!r}; optimizers: {', '.join(self.optimizers)}") from None

    @property
    def steps(self) -> np.ndarray | None:
        """The recorded steps (sorted; the last is T), or None for a record without ``at_steps``."""
        try:
            block = next(iter(self.summaries[0]["optimizers"].values()))
            return np.array(sorted(int(k) for k in block["at_steps"]), dtype=np.int64)
        except (IndexError, KeyError, StopIteration, TypeError, ValueError, AttributeError):
            return None

    def curve(self, quantity: str = "test-loss", optimizer: str | None = None, key: str = "mean") -> np.ndarray:
        """A simulated curve: ``key`` (``"mean"``, ``"sem"``) of ``quantity`` at every recorded step and η,
        shape (len(steps), len(eta)[, dim]) — the layout of :func:`predict`'s ``steps=`` curves.

        Record the steps with ``simulate(..., steps="all", record_every=K)``; each step's mean and SEM are over
        the same paired trials (the per-step sums and sums of squares streamed chunk by chunk).
        """
        if key not in ("mean", "sem"):
            raise SgdDiagramsError(f"key must be 'mean' or 'sem', got {key!r}")
        steps = self.steps
        if steps is None:
            raise SgdDiagramsError("this simulation recorded no steps; simulate with steps=/record_every=")
        name = optimizer or self.optimizers[0]
        block = "differences" if " - " in name else "optimizers"
        try:
            rows = [[s[block][name]["at_steps"][str(int(t))][quantity][key] for s in self.summaries] for t in steps]
        except (KeyError, TypeError):
            raise SgdDiagramsError(f"no {quantity!r} curve for {name!r}; optimizers: "
                                   f"{', '.join(self.optimizers)}") from None
        return np.array([[np.nan if v is None else v for v in row] if np.ndim(row[0]) == 0 else row
                         for row in rows], dtype=np.float64)

    def mean(self, quantity: str = "test-loss", optimizer: str | None = None) -> np.ndarray:
        """Mean of ``quantity`` over trials at each η (first optimizer by default; ``"gd - sgd"`` for a pair).

        ``quantity`` as in :func:`predict` (test-loss, train-loss, gen-gap, displacement) or ``accuracy``.
        """
        return self._pick(quantity, optimizer, "mean")

    def sem(self, quantity: str = "test-loss", optimizer: str | None = None) -> np.ndarray:
        """Standard error of that mean at each η."""
        return self._pick(quantity, optimizer, "sem")


def simulate(landscape: Any, schedule: Schedule, optimizers: Sequence[str] = ("sgd",), eta: Any = 0.01,
             trials: int = 1000, seed: int = 0, *, chunk: int = 1000, record_steps: Sequence[int] = (),
             eval_chunk: int = 64, momentum: float | None = None, substeps: int = 16, sde_noise: str = "varying",
             stic_weight: float = 1.0, gdc_coefficient: float | None = None,
             completed: dict[tuple[int, int], Any] | None = None,
             on_chunk: Callable[[int, int, Any], None] | None = None, eval_size: int | None = None,
             lr: Any = None, steps: Any = None, record_every: int | None = None,
             sampling: Sampling | None = None, execution: Execution | None = None,
             **legacy: Any) -> Simulation:
    """Simulate ``optimizers`` (names: sgd gd gdc sde sde-frozen ode momentum stic) at each η in ``eta``.

    ``trials`` independent training sets per η, in vectorized chunks of ``chunk``; the same seed at every η
    (paired across η and optimizers).  Any landscape: a finite one is compiled to torch.  ``completed`` /
    ``on_chunk(i, c, stats)`` resume a run chunk by chunk (keys: η index, chunk index).  Jobs that would
    exhaust memory are refused; jobs estimated beyond the time budget need ``force=True``.  ``backend="ray"``
    runs the chunks as Ray tasks (``address``: a cluster, or None for a local instance) with results
    identical to ``"local"`` for the same seed.  ``eval_size=k`` evaluates every trial's test loss on its own
    k random test points (landscapes with a finite test set, e.g. :class:`TorchLandscape`): unbiased,
    cheaper, and the reported SEM includes the subsampling noise (``variance_split`` in each test-loss
    summary says how much).  ``device``: ``"auto"`` (a GPU when visible), ``"cpu"`` or ``"cuda[:N]"``; the
    training sets and noise are drawn on the CPU from the same seeds on every device.

    ``lr``: per-step multipliers (list or spec) and ``momentum``: heavy-ball β — as in :func:`predict`,
    shorthand for ``schedule.with_lr(lr).with_momentum(momentum)`` (a β contradicting the schedule's is
    refused): sgd and gd become heavy-ball descents, and the ``momentum`` optimizer uses that β (0.9 when
    neither gives one).

    ``execution=sd.Execution(backend=, address=, device=, progress=, force=)`` as in :func:`predict` (the old
    keywords still work, with a ``DeprecationWarning``); ``sampling=sd.Sampling(seed=s)`` may give the seed.

    **Curves**: ``steps="all"`` (or a list of step numbers, as in :func:`predict`; ``record_every=K`` alone
    means every K-th step) records every metric at those steps (0 and T always) for every trial, paired
    across η and optimizers; :meth:`Simulation.curve` reads the per-step means and SEMs.  Only per-step
    sums and sums of squares are kept across chunks (resumable, memory bounded); the evaluations at the
    recorded steps are part of the cost estimate.
    """
    from .optimizers import make_optimizer
    from .optimizers.trials import simulate as simulate_trials

    sampling, execution, _ = split_legacy("simulate", sampling, execution, legacy, ())
    if sampling.seed is not None:
        if seed != 0 and seed != sampling.seed:
            raise SgdDiagramsError("seed given both as an argument and in sampling=; give it once")
        seed = sampling.seed
    if replace(sampling, seed=None) != Sampling():
        raise SgdDiagramsError("simulate draws its own training sets: of sampling= it uses only the seed")
    backend, address, device = execution.backend, execution.address, execution.device
    progress, force = execution.progress, execution.force
    _check_where(backend, address, device)
    etas = check_etas(eta)
    schedule = _with_lr_momentum(_check_schedule(schedule), lr, momentum)
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    if steps is not None or record_every is not None:
        from .schedules.prefixes import check_steps

        record_steps = sorted(set(record_steps) | set(check_steps("all" if steps is None else steps, schedule.T,
                                                                 record_every).tolist()))
    built = [make_optimizer(str(n), substeps=substeps, sde_noise=sde_noise,
                            stic_weight=stic_weight, gdc_coefficient=gdc_coefficient) for n in optimizers]
    land = _sampled(landscape, device)
    _check_etas_fit(etas, land)
    done = completed or {}
    summaries = []
    estimated: float | None = 0.0
    measured = 0.0
    for i, e in enumerate(etas):
        have = {c: s for (j, c), s in done.items() if j == i}
        hook = (lambda c, stats, i=i: on_chunk(i, c, stats)) if on_chunk is not None else None
        result = simulate_trials(land, schedule, built, float(e), trials, seed=seed, chunk=chunk,
                                 record_steps=list(record_steps), eval_chunk=eval_chunk, completed=have,
                                 on_chunk=hook, progress=progress, force=force, backend=backend, address=address,
                                 workers=execution.workers,
                                 eval_size=eval_size)
        summaries.append(result.summary())
        pilot = result.estimated_seconds
        estimated = None if estimated is None or pilot is None else estimated + pilot
        measured += result.cpu_seconds or 0.0
    meta = {"landscape": land.name, "dim": land.dim, "N": schedule.N, "T": schedule.T}
    if schedule.lr is not None:
        meta["lr"] = list(schedule.lr)
    if schedule.momentum:
        meta["momentum"] = schedule.momentum
    return Simulation(etas, [o.name for o in built], trials, seed, summaries, meta,
                      {"estimated": estimated, "measured": measured})
