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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .diagrams import QUANTITY_NAMES, Quantity, quantity
from .errors import SgdDiagramsError
from .landscapes import as_exact, is_exact
from .limits import MAX_SAMPLES
from .schedules import Schedule
from .theory.orders import check_order
from .theory.series import Series
from .theory.series import taylor_series as _taylor_series

__all__ = ["METHODS", "Prediction", "Simulation", "check_etas", "is_statistics", "load_statistics", "measure",
           "predict", "simulate", "taylor_series", "trust_region"]

METHODS = ("taylor", "resummed", "continuous", "limit")
"""Forms of :func:`predict`: the Taylor polynomial, resummed, continuous-time resummed, T → ∞ limit."""

LIMIT_FAMILIES = ("epochs", "samples")
TRUST_RATIO = 0.5
"""The Taylor form is trusted at η when |c_d η^d| ≤ TRUST_RATIO · |c_{d−1} η^{d−1}| (and η·λ_max < 2)."""


def check_etas(eta: Any, positive: bool = True) -> np.ndarray:
    """η as a 1-D float64 array of finite (positive) numbers, or a one-line error."""
    try:
        etas = np.atleast_1d(np.asarray(eta, dtype=np.float64))
    except (TypeError, ValueError):
        raise SgdDiagramsError(f"eta must be a number or a list of numbers, got {eta!r}") from None
    if etas.ndim != 1 or etas.size == 0:
        raise SgdDiagramsError("eta must be a number or a non-empty flat list of numbers")
    if not np.all(np.isfinite(etas)):
        raise SgdDiagramsError("every eta must be a finite number")
    if positive and np.any(etas <= 0):
        raise SgdDiagramsError(f"every eta must be positive (got {etas[etas <= 0][0]:g}); SGD descends with eta > 0")
    return etas


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
    """``schedule`` with ``lr`` multipliers (list or spec string) and momentum β applied, when given."""
    if lr is not None:
        schedule = schedule.with_lr(lr)
    if momentum is not None:
        schedule = schedule.with_momentum(momentum)
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
    trusted: np.ndarray | None = None  # Taylor form: False where eta is outside the series' trust region

    def to_json(self) -> dict[str, Any]:
        """A JSON-able record (the CLI's ``--json`` output)."""
        out: dict[str, Any] = {"quantity": self.quantity, "order": self.order, "form": self.form,
                               "eta": self.eta.tolist(), "value": np.asarray(self.value).tolist()}
        if self.stderr is not None:
            out["stderr"] = np.asarray(self.stderr).tolist()
        if self.trusted is not None:
            out["trusted"] = [bool(x) for x in self.trusted]
        out.update(self.details)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def predict(landscape: Any, schedule: Schedule, order: int, eta: Any, quantity: str | Quantity = "test-loss",
            method: str = "taylor", *, samples: int | None = None, seed: int = 0, replications: int | None = None,
            metric: Any = None, limit: str = "epochs", cache: str | Path | None = None,
            progress: bool = False, force: bool = False, backend: str = "local",
            address: str | None = None, device: str | None = None, lr: Any = None,
            momentum: float | None = None, krylov_dim: int | None = None, resummation: str = "auto") -> Prediction:
    """Predict E[quantity] after SGD on ``schedule`` at each learning rate in ``eta``.

    ``method``: ``"taylor"`` (Theorem 1's polynomial), ``"resummed"`` (linkless diagrams with propagators
    (I − ηH)^{Δt−1}η), ``"continuous"`` (Remark 1) or ``"limit"`` (T → ∞, Theorem 2; ``limit`` says how T
    grows: ``"epochs"`` at fixed N, or ``"samples"`` with N = T one-epoch SGD).

    ``samples=K`` estimates every diagram value from K sampled data points (``seed``; ``replications`` R
    for the standard errors, default 20) — any landscape, including a :class:`TorchLandscape`; Taylor and
    resummed forms and the T → ∞ limit.  ``cache``: a directory where estimates are stored and reused (opt-in).
    Resummed/limit from samples: ``resummation="auto"`` uses dense tensors up to dim 24 and the
    matrix-free Krylov path above (Lanczos on the sample-mean Hessian, ``krylov_dim`` steps, default 20);
    ``"dense"`` or ``"matrix-free"`` forces one.  Move θ0 near a minimum first with
    ``landscape.pretrained(steps, eta)`` or ``landscape.with_init(vector)``.
    ``lr`` / ``momentum``: per-step multipliers (list or spec) and heavy-ball β, as in :func:`taylor_series`
    (Taylor and resummed forms; the continuous form and the limit refuse them).
    Order limits: :data:`sgd_diagrams.theory.orders.ORDER_LIMITS`.

    **Measure once, predict everywhere**: pass a :class:`~sgd_diagrams.estimation.statistics.Statistics`
    (from :func:`measure` or :func:`load_statistics`) *in place of the landscape*: the saved diagram values
    stand in for the model, so any schedule and η are predicted without touching it, identical to
    ``samples=K`` with the statistics' samples, seed and replications at the statistics' order (Taylor and,
    when the statistics hold part cumulants, the dense resummed form and T → ∞ limit; ``samples``, ``seed``
    and ``replications`` are then fixed by the statistics and must not be given).
    """
    if method not in METHODS:
        raise SgdDiagramsError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    q = _quantity(quantity)
    schedule = _with_lr_momentum(_check_schedule(schedule), lr, momentum)
    etas = check_etas(eta)
    if limit not in LIMIT_FAMILIES:
        raise SgdDiagramsError(f"limit must be one of {', '.join(LIMIT_FAMILIES)}, got {limit!r}")
    metric_m = _metric(metric, landscape)
    if is_statistics(landscape):
        given = [n for n, v in (("samples", samples), ("replications", replications), ("cache", cache))
                 if v is not None]
        if given or seed != 0:
            raise SgdDiagramsError(f"the statistics already fix samples, seed and replications; drop "
                                   f"{', '.join(given) or 'seed'}")
        if krylov_dim is not None or resummation == "matrix-free":
            raise SgdDiagramsError("statistics replay the dense resummed path from their saved tensors; drop "
                                   "krylov_dim and resummation='matrix-free' (or predict from samples=K)")
        return _from_statistics(landscape, schedule, order, etas, q, method, metric_m, limit, force)
    if samples is not None:
        return _estimated(landscape, schedule, order, etas, q, method, samples, seed, replications, metric_m, cache,
                          progress, force, backend, address, device, krylov_dim, resummation, limit)
    if krylov_dim is not None or resummation != "auto":
        raise SgdDiagramsError("krylov_dim and resummation apply to estimates from samples (samples=K)")
    if replications is not None:
        raise SgdDiagramsError("replications only apply with samples=K (estimated values)")
    check_order(order, "taylor" if method == "taylor" else method)
    exact = _exact(landscape)
    details: dict[str, Any] = {}
    trusted = None
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
            lam = np.linalg.eigvalsh(exact.mean_derivative(2) if metric_m is None else
                                     _sym_sqrt(metric_m) @ exact.mean_derivative(2) @ _sym_sqrt(metric_m))
            trusted = trust_region(series.coefficients, etas, float(np.max(np.abs(lam))) if lam.size else 0.0)
    messages = _reissue(caught, _untrusted_message(etas, trusted, "the resummed form"))
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise SgdDiagramsError("prediction is not finite: eta is too large for the series; use a smaller eta")
    return Prediction(q.name, order, method, _form(method, limit, details.get("horizon")), etas, values, None,
                      messages, details, trusted)


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


def trust_region(coefficients: Sequence[Any], etas: np.ndarray, curvature: float) -> np.ndarray:
    """Where the Taylor polynomial Σ_k c_k η^k can be trusted, per η.

    Untrusted when descent itself diverges (η·max|λ(H)| ≥ 2), or when the series is not visibly converging:
    the highest-order term c_d η^d (d ≥ 2) is more than :data:`TRUST_RATIO` times the size of the term before.
    """
    etas = np.asarray(etas, dtype=np.float64)
    ok = etas * curvature < 2.0
    d = len(coefficients) - 1
    if d >= 2:
        last = np.array([np.linalg.norm(np.asarray(coefficients[d], dtype=np.float64)) * e**d for e in etas])
        prev = np.array([np.linalg.norm(np.asarray(coefficients[d - 1], dtype=np.float64)) * e ** (d - 1)
                         for e in etas])
        ok &= ~(last > TRUST_RATIO * prev + 1e-12 * (1.0 + prev))
    return ok


def _untrusted_message(etas: np.ndarray, trusted: np.ndarray | None, remedy: str) -> tuple[str, ...]:
    if trusted is None or bool(np.all(trusted)):
        return ()
    bad = [f"{e:g}" for e, ok in zip(etas, trusted, strict=True) if not ok]
    return (f"eta {', '.join(bad)} is outside the Taylor series' trust region (the last order is over half the one "
            f"before, or eta*lambda_max >= 2): the polynomial is not reliable there; use a smaller eta or {remedy}",)


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
               resummation="auto", limit="epochs") -> Prediction:
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
                                    limit=limit if method == "limit" else None)
    return _estimated_result(pred, etas, q, method, int(samples), int(seed), caught, limit,
                             getattr(landscape, "pretraining", None))


def _from_statistics(stats, schedule, order, etas, q, method, metric, limit="epochs", force=False) -> Prediction:
    """:func:`_estimated` with the diagram values read from saved statistics (same theory, same numbers)."""
    from .estimation.statistics import statistics_prediction

    if method not in ("taylor", "resummed", "limit") or q.is_variance:
        raise SgdDiagramsError("statistics give the taylor and resummed forms and the T -> infinity limit of "
                               "test-loss, train-loss, gen-gap and displacement")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        pred = statistics_prediction(stats, schedule, order, etas, q, resum=method == "resummed", metric=metric,
                                     limit=limit if method == "limit" else None, force=force)
    return _estimated_result(pred, etas, q, method, stats.samples, stats.seed, caught, limit)


def _estimated_result(pred, etas, q, method, samples: int, seed: int, caught: list, limit: str = "epochs",
                      pretraining: dict | None = None) -> Prediction:
    """The :class:`Prediction` of an estimated prediction: trust region, warnings, details."""
    trusted = None
    if pred.coefficients is not None:
        trusted = trust_region(pred.coefficients, etas, 0.0)
    # frames: _reissue, _estimated_result, _estimated / _from_statistics, predict, the user
    messages = _reissue(caught, _untrusted_message(etas, trusted, "a lower order"), stacklevel=5)
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
                      pred.stderr, messages, details, trusted)


def is_statistics(obj: Any) -> bool:
    """True for saved diagram-value statistics (:func:`measure`, :func:`load_statistics`)."""
    from .estimation.statistics import Statistics

    return isinstance(obj, Statistics)


def measure(landscape: Any, order: int, *, samples: int, seed: int = 0, replications: int | None = None,
            kinds: Sequence[str] = ("test", "train", "displacement"), tensors: bool | str = "auto",
            progress: bool = False, force: bool = False, backend: str = "local", address: str | None = None,
            device: str | None = None, spec: str | None = None) -> Any:
    """Measure once: estimate every diagram value a prediction up to ``order`` needs (seed 001 App. C.6).

    Returns a :class:`~sgd_diagrams.estimation.statistics.Statistics` holding each replication's
    estimate of every ``kinds`` diagram (test: test loss; train: train loss and gen gap; displacement),
    the sample plan and θ0's identity; ``.save(path)`` writes it, :func:`load_statistics` reads it back,
    and ``predict(stats, schedule, ...)`` predicts any schedule and η from it — identical to
    ``predict(landscape, ..., samples=samples, seed=seed, replications=replications)`` at this order.
    ``tensors`` (dense path, small dim): also save the part cumulants the resummed form and ``metric`` need
    (``"auto"``: when they fit).  ``spec``: the landscape's spec string, recorded for the reader.
    """
    from .estimation.statistics import measure_statistics

    _check_sampling(samples, seed, replications)
    if isinstance(kinds, str):
        kinds = [kinds]
    land = landscape if is_exact(landscape) else _sampled(landscape, device)
    return measure_statistics(land, order, int(samples), int(seed), replications, tuple(kinds), tensors=tensors,
                              progress=progress, force=force, backend=backend, address=address, spec=spec)


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
    seconds: dict[str, float | None] = field(default_factory=dict)

    def _pick(self, metric: str, optimizer: str | None, key: str) -> np.ndarray:
        name = optimizer or self.optimizers[0]
        block = "differences" if " - " in name else "optimizers"
        try:
            return np.array([s[block][name][metric][key] for s in self.summaries], dtype=np.float64)
        except KeyError:
            raise SgdDiagramsError(f"no {metric!r} for {name!r}; optimizers: {', '.join(self.optimizers)}") from None

    def mean(self, metric: str = "test-loss", optimizer: str | None = None) -> np.ndarray:
        """Mean of ``metric`` over trials at each η (first optimizer by default; ``"gd - sgd"`` for a pair)."""
        return self._pick(metric, optimizer, "mean")

    def sem(self, metric: str = "test-loss", optimizer: str | None = None) -> np.ndarray:
        """Standard error of that mean at each η."""
        return self._pick(metric, optimizer, "sem")


def simulate(landscape: Any, schedule: Schedule, optimizers: Sequence[str] = ("sgd",), eta: Any = 0.01,
             trials: int = 1000, seed: int = 0, *, chunk: int = 1000, record_steps: Sequence[int] = (),
             eval_chunk: int = 64, momentum: float = 0.9, substeps: int = 16, sde_noise: str = "varying",
             stic_weight: float = 1.0, gdc_coefficient: float | None = None, progress: bool = False,
             completed: dict[tuple[int, int], Any] | None = None,
             on_chunk: Callable[[int, int, Any], None] | None = None, force: bool = False,
             backend: str = "local", address: str | None = None, eval_size: int | None = None,
             device: str | None = None, lr: Any = None) -> Simulation:
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

    ``lr``: per-step multipliers (list or spec, see :func:`taylor_series`).  Heavy-ball momentum of the
    schedule (``schedule.with_momentum(beta)``) makes sgd and gd heavy-ball descents; ``momentum`` here is
    the β of the ``momentum`` optimizer, which uses the schedule's β instead when the schedule has one.
    """
    from .optimizers import make_optimizer
    from .optimizers.trials import simulate as simulate_trials

    etas = check_etas(eta)
    schedule = _with_lr_momentum(_check_schedule(schedule), lr, None)
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    built = [make_optimizer(str(n), momentum=momentum, substeps=substeps, sde_noise=sde_noise,
                            stic_weight=stic_weight, gdc_coefficient=gdc_coefficient) for n in optimizers]
    land = _sampled(landscape, device)
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
                                 eval_size=eval_size)
        summaries.append(result.summary())
        pilot = result.estimated_seconds
        estimated = None if estimated is None or pilot is None else estimated + pilot
        measured += result.cpu_seconds or 0.0
    return Simulation(etas, [o.name for o in built], trials, seed, summaries,
                      {"estimated": estimated, "measured": measured})
