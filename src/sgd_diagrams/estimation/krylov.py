"""Resummed predictions from samples without P × P matrices: Lanczos on the sample-mean Hessian.

Seed 001 Theorem 1 resummed (§"Re-summation cures large-T divergences", Def. 4): every edge carries
the propagator (I − ηH)^{Δt−1}η, and :mod:`sgd_diagrams.theory.resummation` sums
Σ_i U_D[i] S_D(i) over eigen-labels i of H.  For a network with P weights we never form H:

1. **Spectrum.**  Per replication, k Lanczos steps (:mod:`.lanczos`, full reorthogonalization) on
   the replication's sample-mean Hessian Ĥ by Hessian-vector products, started from the
   replication's mean gradient Ĝ, give a Ritz basis Z (P × k) and Ritz values θ.
2. **Propagators on vectors.**  Every propagator is applied as f(Ĥ) ≈ Z f(Θ) Zᵀ — the Lanczos
   tridiagonal's eigendecomposition — so each edge label i runs over the k Ritz vectors.
   Equivalently, the diagrams are evaluated for SGD restricted to θ0 + span(Z): the derivative
   tensors enter projected, ∇^k l[Z, …, Z] (:mod:`.tensor_sources`, k^{deg−1} directional passes
   per sample), and the exact resummed engine runs on those k-dimensional tensors.  Exact when
   span(Z) is the whole space (k = P) and, for edges fed by Ĝ, whenever K_k(Ĥ, Ĝ) is invariant;
   otherwise the directions outside the Krylov space are added back by the complement term (below;
   reported with ``captured_gradient_noise``, the share of E‖∇l_x − Ĝ‖² inside span(Z)).
3. **Error bars.**  Each of R replications draws its own samples, runs its own Lanczos on its own
   Ĥ and its own unbiased per-sample + group-mean statistics (:mod:`.group_statistic`); the
   prediction is the mean of the R values and its standard error their std/√R — so Ĥ's sampling
   error (the resummed form is nonlinear in H) is in the error bar.

**Negative curvature.**  Ritz values θ < 0 are counted and reported (count, most negative value)
in a warning and in ``details``.  For finite T they are kept (the propagators grow, which the
engine warns about).  For T → ∞ (``limit=``) the limit exists only where θ > 0 (Theorem 2): the
rule is to *exclude* every Ritz direction with θ ≤ ``curvature_floor``·max θ (default
:data:`CURVATURE_FLOOR` = 10⁻³) from the basis, and say so.

The dense path is the same pipeline with Z = I (no Lanczos): ``basis="dense"``.

**The complement (issue 24).**  With k < dim the directions outside span(Z) are not dropped: the complement
term of :mod:`.complement` — every diagram labelling that reaches outside span(Z), expanded to the series
order around the noise curvature μ — is added, so the value is exact to the series order for every k and the
resummed answer at k = dim; it is reported per η in ``details["complement"]``.  ``resummation="auto"``
(:func:`dense_is_cheap`, :func:`choose_krylov_dim`) routes by the cost model and picks k by what span(Z)
captures.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..diagrams import DIAGRAM_QUANTITY_NAMES, Quantity
from ..diagrams import quantity as quantity_of
from ..errors import SgdDiagramsError
from ..io import progress_bar
from ..landscapes.conversions import is_exact
from ..limits import check_work
from ..schedules.grid import Schedule
from ..theory.limits import LIMIT_FAMILIES, _grow
from ..theory.resummation import resummed_curve, resummed_prediction
from ..values.uvalue import UvalueEvaluator
from .complement import (
    complement_curvature,
    complement_difference,
    complement_links,
    complement_sum,
    complement_sum_curve,
    complement_term,
    complement_values_needed,
)
from .evaluators import ReplicationValues, draw_rows, plan_groups, replication_values
from .group_statistic import GroupStatisticEvaluator
from .lanczos import RitzBasis, lanczos_ritz
from .tensor_sources import ExactGroupSource, TorchGroupSource, project_tensor

__all__ = ["KRYLOV_DIM", "CURVATURE_FLOOR", "ProjectedLandscape", "exact_ritz_basis", "krylov_resummed_exact",
           "KrylovPrediction", "krylov_resummed_estimate", "krylov_resummed_curves", "CurveTarget", "replication_curve"]

KRYLOV_DIM = 20
"""Default Krylov dimension k (Lanczos steps) of the matrix-free resummed path."""

CURVATURE_FLOOR = 1e-3
"""For T → ∞: Ritz directions with θ ≤ CURVATURE_FLOOR · max θ are excluded: no limit exists where θ ≤ 0,
and where 0 < θ ≪ max θ an estimated Hessian cannot tell θ from 0 while the limit's 1/θ factors blow up
(such a direction needs ≳ 1/(ηθ) = 10³/(η max θ) steps to relax)."""


class _Dim:
    """What the resummed engine reads of a landscape when an evaluator is given: its dimension."""

    def __init__(self, dim: int) -> None:
        self.dim = dim


# -- exact statistics, projected ----------------------------------------------------------------------
class ProjectedLandscape:
    """A finite landscape restricted to θ0 + span(Z): the exact tensors ∇^k l_j[Z, …, Z]."""

    def __init__(self, landscape, Z: np.ndarray) -> None:
        self.base = landscape
        self.Z = np.asarray(Z, dtype=np.float64)
        self.dim = int(self.Z.shape[1])
        self.probs = np.asarray(landscape.probs, dtype=np.float64)
        self.n_points = len(self.probs)
        self.name = f"{getattr(landscape, 'name', 'landscape')}|krylov{self.dim}"

    def derivative_tensors(self, max_order: int) -> list[np.ndarray]:
        return [project_tensor(t, self.Z) for t in self.base.derivative_tensors(max_order)]

    def mean_derivative(self, order: int) -> np.ndarray:
        return np.tensordot(self.probs, self.derivative_tensors(order)[order], axes=(0, 0))


def exact_ritz_basis(landscape, k: int, seed: int = 0) -> RitzBasis:
    """Lanczos on a finite landscape's exact H = Σ_j p_j ∇²l_j (products only), started from G."""
    tensors = landscape.derivative_tensors(2)
    p = np.asarray(landscape.probs, dtype=np.float64)
    G = p @ tensors[1]
    return lanczos_ritz(lambda v: np.einsum("j,jab,b->a", p, tensors[2], v), landscape.dim, k, G, seed)


def krylov_resummed_exact(landscape, schedule: Schedule, order: int, etas, quantity: str = "test-loss",
                          krylov_dim: int = KRYLOV_DIM, continuous: bool = False, seed: int = 0,
                          force: bool = False, complement: bool = True,
                          extra_links: int | None = None) -> np.ndarray:
    """The matrix-free resummed values with *exact* statistics: Lanczos on H, then projected tensors.

    ``complement``: add the complement term (:mod:`.complement`: everything outside span(Z), expanded to
    the series order around the noise curvature μ), so the value is exact to order ``order`` for every k;
    ``False`` gives the Krylov space alone (what SGD restricted to θ0 + span(Z) does).
    """
    q = quantity_of(quantity, DIAGRAM_QUANTITY_NAMES)
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    basis = exact_ritz_basis(landscape, krylov_dim, seed)
    proj = ProjectedLandscape(landscape, basis.vectors)
    ev = UvalueEvaluator(proj, max(order, 2))
    value = resummed_prediction(proj, schedule, order, etas, q.name, continuous=continuous, evaluator=ev,
                                force=force).value
    Z = basis.vectors
    if q.root == "displacement":
        value = value @ Z.T
    if complement and basis.k < landscape.dim:
        mu = exact_complement_curvature(landscape, Z, basis.values)
        full = UvalueEvaluator(landscape, max(order, 2))
        links = complement_links(order) if extra_links is None else extra_links
        value = value + complement_term(full, ev, Z, q, schedule, order, etas, mu, continuous, links)
    return value


def exact_complement_curvature(landscape, Z: np.ndarray, ritz_values: np.ndarray) -> float:
    """μ of :func:`~.complement.complement_curvature` with the exact noise: √p_j (∇l_j − G) for every point."""
    tensors = landscape.derivative_tensors(2)
    p = np.asarray(landscape.probs, dtype=np.float64)
    H = np.einsum("j,jab->ab", p, tensors[2])
    noise = np.sqrt(p)[:, None] * (tensors[1] - p @ tensors[1])
    mu, _ = complement_curvature(noise, Z, lambda v: H @ v, ritz_values, probes=len(p))
    return mu


# -- from samples -----------------------------------------------------------------------------------
@dataclass
class KrylovPrediction:
    """Per-replication resummed values and what the pipeline saw.

    ``details["change"]`` (loss quantities): the prediction minus its own estimated order-0 term l(θ0),
    per replication — the change during training, without the sampling noise of l(θ0).
    """

    quantity: str
    order: int
    eta: np.ndarray
    replicas: np.ndarray
    plan: object
    basis: str
    details: dict = field(default_factory=dict)

    @property
    def value(self) -> np.ndarray:
        return self.replicas.mean(axis=0)

    @property
    def stderr(self) -> np.ndarray:
        return self.replicas.std(axis=0, ddof=1) / np.sqrt(len(self.replicas))


def _units_per_sample(k: int, max_degree: int, P: int, dense: bool) -> float:
    """Gradient-equivalents per sample: Lanczos (k HVPs ≈ 3 each) + tensors up to ``max_degree``."""
    width = P if dense else k
    per_degree = {0: 0.5, 1: 1.0, 2: 3.0 * width, 3: 3.0 * width * width, 4: 3.0 * width ** 3}
    tensors = sum(per_degree.get(m, 3.0 * width ** (m - 1)) for m in range(max_degree + 1))
    return (0.0 if dense else 3.0 * k) + 2.0 * tensors


def _torch_hvp(landscape, rows_r):
    """(v ↦ Ĥv, Ĝ) for one replication's rows of a torch landscape (double backward, no P × P matrix)."""
    import torch

    flat = rows_r.reshape((-1,) + tuple(rows_r.shape[2:]))
    theta = landscape.init.detach().clone().requires_grad_(True)
    dtype = theta.dtype
    # one graph of the mean gradient, differentiated again per product (double backward)
    g_graph = torch.autograd.grad(landscape.batch_loss(theta, flat), theta, create_graph=True)[0]

    def hvp(v: np.ndarray) -> np.ndarray:
        vt = torch.as_tensor(v, dtype=dtype, device=theta.device)
        out = torch.autograd.grad(g_graph, theta, vt, retain_graph=True)[0]
        return out.detach().to(torch.float64).cpu().numpy()

    def hvp_rows(M: np.ndarray) -> np.ndarray:
        """Ĥ times every row of M in one batched backward pass (``is_grads_batched``), not one pass per row."""
        Mt = torch.as_tensor(np.asarray(M), dtype=dtype, device=theta.device)
        try:
            out = torch.autograd.grad(g_graph, theta, Mt, retain_graph=True, is_grads_batched=True)[0]
        except (RuntimeError, NotImplementedError):  # an op without a batching rule: one product per row
            return np.stack([hvp(m) for m in np.asarray(M)])
        return out.detach().to(torch.float64).cpu().numpy()

    hvp.rows = hvp_rows  # type: ignore[attr-defined]
    return hvp, g_graph.detach().to(torch.float64).cpu().numpy()


def _sample_torch(landscape, rows_r, plan, k: int, dense: bool, seed: int):
    """(source, basis, hvp) for one replication of a torch landscape."""
    if dense:
        return TorchGroupSource(landscape, rows_r), None, None
    hvp, G = _torch_hvp(landscape, rows_r)
    basis = lanczos_ritz(hvp, landscape.dim, k, G, seed)
    return TorchGroupSource(landscape, rows_r, basis.vectors), basis, hvp


def _sample_exact(landscape, tensors, rows_r, k: int, dense: bool, seed: int):
    if dense:
        return ExactGroupSource(tensors, rows_r), None, None
    full = ExactGroupSource(tensors, rows_r)
    basis = lanczos_ritz(full.hvp, landscape.dim, k, full.mean_gradient(), seed)
    return ExactGroupSource(tensors, rows_r, basis.vectors), basis, full.hvp


def _factory(landscape, tensors, rows_r):
    """Z ↦ a tensor source on one replication's rows projected on Z (None: dense)."""
    def make(Z):
        if tensors is not None:
            return ExactGroupSource(tensors, rows_r, Z)
        return TorchGroupSource(landscape, rows_r, Z)

    return make


def _noise(full_source) -> np.ndarray:
    """Gradient-noise vectors ∇l_s − Ĝ_0 of group 0 (S, P)."""
    g = full_source.samples(0, 1)
    return g - g.mean(axis=0)


def _noise_captured(noise: np.ndarray, Z: np.ndarray) -> float:
    """Share of the gradient noise E‖∇l − Ĝ‖² of group 0 that lies in span(Z)."""
    total = float((noise ** 2).sum())
    inside = float(((noise @ Z) ** 2).sum())
    return inside / total if total > 0 else 1.0


def _keep_positive(source_factory, basis: RitzBasis, floor: float):
    """Restrict a basis to Ritz values > floor·max θ; returns (source, kept Z, kept values, excluded values)."""
    top = float(np.max(basis.values)) if basis.k else 0.0
    keep = basis.values > floor * max(top, 0.0)
    if top <= 0 or not np.any(keep):
        raise SgdDiagramsError(
            f"the T -> infinity limit needs positive curvature (Theorem 2), but every Ritz value of the estimated "
            f"Hessian is <= 0 (largest {top:.4g}); move theta0 nearer a minimum (--pretrain STEPS or --init-from)"
        )
    Z = basis.vectors[:, keep]
    return source_factory(Z), Z, basis.values[keep], basis.values[~keep]


@dataclass
class ResummedTally:
    """One resummed estimate's per-replication step and the summary it collects (details, warnings).

    Shared by :func:`krylov_resummed_estimate` and the statistics replay
    (:func:`~.statistics.statistics_prediction` with ``resum``/``limit``), so both compute the same numbers.
    """

    negatives: list = field(default_factory=list)
    ritz_top: list = field(default_factory=list)
    growing: set = field(default_factory=set)
    changes: list = field(default_factory=list)
    horizons: list = field(default_factory=list)
    complements: list = field(default_factory=list)

    def check_dense_curvature(self, ev, limit: str | None, curvature_floor: float) -> None:
        """Record Ĥ's negative eigenvalues; the T → ∞ limit (Theorem 2) refuses Ĥ without H > 0."""
        lam = np.linalg.eigvalsh(ev.part_cumulant((2,)))
        self.negatives.append(lam[lam < 0])
        self.ritz_top.append(float(np.max(lam)))
        if limit is not None and np.min(lam) <= curvature_floor * max(float(np.max(lam)), 0.0):
            raise SgdDiagramsError(
                f"the T -> infinity limit needs H > 0 (Theorem 2); this replication's Hessian estimate has "
                f"smallest eigenvalue {np.min(lam):.4g}; move theta0 nearer a minimum or use finite T"
            )

    def replicate(self, ev, dim: int, schedule: Schedule, order: int, etas: np.ndarray, q: Quantity,
                  metric: np.ndarray | None, continuous: bool, limit: str | None, force: bool, *,
                  lift: np.ndarray | None = None,
                  complement: Callable[[Schedule], np.ndarray] | None = None,
                  steps: np.ndarray | None = None) -> np.ndarray:
        """One replication's resummed value (Theorem 1, or Theorem 2's limit) and its order-0 ``change``.

        ``lift``: the basis Z the evaluator's tensors are projected on (a displacement is returned as
        value @ Zᵀ, in the full space).  ``complement``: schedule ↦ the complement term
        (:mod:`.complement`), added to the value (and recorded in ``complements``); with ``steps``
        (schedule, steps) ↦ its value at every step.  ``steps`` (a curve's recorded steps, 0 and T included;
        not with ``limit``): the value on ``schedule.prefix(t)`` for every t, stacked (steps first) — the
        tensors once, every step's history sums from one sweep (:func:`replication_curve`).
        """
        if isinstance(ev, GroupStatisticEvaluator):  # estimate every tensor now; the theory reads a table
            ev = ev.part_table([d for k in range(order + 1) for d in q.diagrams(k, linkless=True)], q.root)
        lam = np.linalg.eigvalsh(ev.part_cumulant((2,)))
        self.growing.update(float(e) for e in etas if np.any(np.abs(1.0 - e * lam) > 1.0 + 1e-12))

        def value_at(s: Schedule) -> tuple[np.ndarray, np.ndarray | None]:
            v = resummed_prediction(_Dim(dim), s, order, etas, q.name, metric=metric, continuous=continuous,
                                    evaluator=ev, force=force).value
            if lift is not None and q.root == "displacement":
                v = v @ lift.T
            c = None if complement is None else np.asarray(complement(s), dtype=np.float64)
            return (v if c is None else v + c), c

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # summarized once below, not per replication
            base = resummed_prediction(_Dim(dim), schedule, 0, etas, q.name, evaluator=ev, force=force).value
            if steps is not None:
                value, comp = replication_curve(ev, dim, schedule, steps, order, etas, q, metric, continuous, force,
                                                lift=lift, complement=complement)
            elif limit is None:
                value, comp = value_at(schedule)
            else:
                value, reached, comp = _limit(value_at, schedule, limit)
                self.horizons.append(reached)
        if comp is not None:
            self.complements.append(comp)
        if q.root == "loss":
            self.changes.append(np.asarray(value - base, dtype=np.float64))
        return value

    def summarize(self, details: dict, schedule: Schedule, dense: bool, limit: str | None,
                  curvature_floor: float, stacklevel: int) -> None:
        """Add ``negative_curvature`` and ``change`` to ``details``; warn once about curvature and growth.

        ``stacklevel`` is that of :func:`warnings.warn` called here (the caller's own plus one).
        """
        counts = [len(n) for n in self.negatives]
        if any(counts):
            worst = float(min(float(np.min(n)) for n in self.negatives if len(n)))
            details["negative_curvature"] = {"replications_with": int(sum(c > 0 for c in counts)),
                                             "mean_count": float(np.mean(counts)), "most_negative": worst,
                                             "largest": float(np.mean(self.ritz_top))}
            rule = ("excluded from the T -> infinity limit (Ritz directions with value <= "
                    f"{curvature_floor:g} x the largest)" if limit is not None else
                    "kept: their propagators (1 - eta*lambda)^t grow with t")
            warnings.warn(f"the estimated Hessian has negative curvature: {np.mean(counts):.3g} "
                          f"{'Ritz' if not dense else ''} eigenvalues < 0 on average (most negative {worst:.4g}, "
                          f"largest {np.mean(self.ritz_top):.4g}); {rule}", RuntimeWarning, stacklevel=stacklevel)
        if self.growing and schedule.T > 1:
            warnings.warn(f"propagators (1 - eta*lambda)^t grow for eta in {sorted(self.growing)} in some "
                          "replication (negative curvature, or eta*lambda > 2): the resummed series is outside its "
                          "decaying range; expect large errors for large T", RuntimeWarning, stacklevel=stacklevel)
        if self.changes:
            c = np.stack(self.changes)
            details["change"] = {"value": c.mean(axis=0).tolist(),
                                 "stderr": (c.std(axis=0, ddof=1) / np.sqrt(len(c))).tolist()}


def replication_curve(ev, dim: int, schedule: Schedule, steps: np.ndarray, order: int, etas: np.ndarray,
                      q: Quantity, metric: np.ndarray | None, continuous: bool, force: bool, *,
                      lift: np.ndarray | None = None,
                      complement: Callable[..., np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, complement terms or None), each (len(steps), len(etas)[, dim]): one replication's resummed
    value on ``schedule.prefix(t)`` for every recorded t, from one evaluator ``ev`` (a part table).

    The projected uvalues U_D do not depend on the schedule: :func:`~sgd_diagrams.theory.resummation.resummed_curve`
    computes them once and reads every prefix's geometric sums from one sweep; ``complement(schedule, steps)``
    gives the complement term at every step the same way (:func:`~.complement.complement_sum_curve`).  Step 0
    is l(θ0) (no step taken) with complement 0.  ``lift`` as in :meth:`ResummedTally.replicate`.
    """
    values = resummed_curve(_Dim(dim), schedule, order, etas, steps, q.name, metric=metric, continuous=continuous,
                            evaluator=ev, force=force)
    if lift is not None and q.root == "displacement":
        values = values @ lift.T
    if complement is None:
        return values, None
    comps = np.asarray(complement(schedule, steps), dtype=np.float64)
    return values + comps, comps


@dataclass(frozen=True)
class CurveTarget:
    """One schedule read from a shared resummed estimate: its η and recorded steps (None: the final point)."""

    schedule: Schedule
    etas: np.ndarray
    steps: np.ndarray | None = None


def krylov_resummed_estimate(landscape, schedule: Schedule, order: int, etas, quantity: str | Quantity = "test-loss",
                             *, samples: int, seed: int = 0, replications: int | None = None,
                             krylov_dim: int | None = None, basis: str = "krylov", limit: str | None = None,
                             metric: np.ndarray | None = None, continuous: bool = False,
                             curvature_floor: float = CURVATURE_FLOOR, progress: bool = False,
                             force: bool = False, complement: bool = True,
                             extra_links: int | None = None, pilot: bool = True,
                             steps: np.ndarray | None = None) -> KrylovPrediction:
    """Resummed order-``order`` E[quantity] from ``samples`` data points, R independent replications.

    ``basis``: ``"krylov"`` (matrix-free, Lanczos with ``krylov_dim`` steps; None: chosen by
    :func:`choose_krylov_dim`, recorded in ``details["krylov_choice"]``) or ``"dense"`` (every weight).
    ``complement``: add the complement term (:mod:`.complement`) when k < dim — exact to the series order
    for every k; ``extra_links``: V-links beyond the order in it (default :func:`~.complement.complement_links`).
    ``limit``: ``"epochs"`` or ``"samples"`` for T → ∞ (Theorem 2,
    by doubling the schedule's horizon until two values agree).  ``details`` records ``estimated_seconds``
    (CPU; from a pilot of the real work when the first model says over :data:`PILOT_ABOVE_SECONDS`, see
    :func:`resummed_estimate_seconds`) and the measured ``cpu_seconds``; ``pilot=False`` skips the pilot.
    ``steps`` (a curve: recorded steps with 0 and T, as :func:`~sgd_diagrams.schedules.prefixes.check_steps`
    gives them): the value on ``schedule.prefix(t)`` for every t, replicas (R, len(steps), len(etas)[, dim]) —
    one estimate, every step (:func:`krylov_resummed_curves`).
    """
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    target = CurveTarget(schedule, etas, None if steps is None else np.asarray(steps, dtype=np.int64))
    return krylov_resummed_curves(landscape, [target], order, quantity, samples=samples, seed=seed,
                                  replications=replications, krylov_dim=krylov_dim, basis=basis, limit=limit,
                                  metric=metric, continuous=continuous, curvature_floor=curvature_floor,
                                  progress=progress, force=force, complement=complement, extra_links=extra_links,
                                  pilot=pilot)[0]


def krylov_resummed_curves(landscape, targets: list[CurveTarget], order: int, quantity: str | Quantity = "test-loss",
                           *, samples: int, seed: int = 0, replications: int | None = None,
                           krylov_dim: int | None = None, basis: str = "krylov", limit: str | None = None,
                           metric: np.ndarray | None = None, continuous: bool = False,
                           curvature_floor: float = CURVATURE_FLOOR, progress: bool = False,
                           force: bool = False, complement: bool = True,
                           extra_links: int | None = None, pilot: bool = True) -> list[KrylovPrediction]:
    """:func:`krylov_resummed_estimate` for several schedules (and their curves) from one estimate.

    Everything the samples give — the rows, each replication's Lanczos basis Z and Ritz values, the projected
    part tensors, the noise curvature μ and the complement's diagram values — does not depend on the schedule:
    it is estimated once per replication and every target (schedule, η, recorded steps) is read from it, so a
    target's result is identical to :func:`krylov_resummed_estimate` on that schedule alone (same seed) and a
    curve's value at step t identical to it on ``schedule.prefix(t)``.  One :class:`KrylovPrediction` per target.
    """
    q = quantity_of(quantity, DIAGRAM_QUANTITY_NAMES)
    if basis not in ("krylov", "dense"):
        raise SgdDiagramsError(f"basis must be krylov or dense, got {basis!r}")
    dense = basis == "dense"
    if metric is not None and not dense:
        raise SgdDiagramsError("a matrix learning rate (--metric) needs the dense path (dim <= 24)")
    if limit is not None and limit not in LIMIT_FAMILIES:
        raise SgdDiagramsError(f"unknown limit family {limit!r}; use epochs or samples")
    if limit is not None and any(t.steps is not None for t in targets):
        raise SgdDiagramsError("the T -> infinity limit is one number, not a curve; drop steps")
    targets = [CurveTarget(t.schedule, np.atleast_1d(np.asarray(t.etas, dtype=np.float64)), t.steps)
               for t in targets]
    choice = None
    if krylov_dim is None and not dense:
        krylov_dim, choice = choose_krylov_dim(landscape, order, q, samples, seed)
    k = KRYLOV_DIM if krylov_dim is None else krylov_dim
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SgdDiagramsError(f"krylov_dim must be a positive integer, got {krylov_dim!r}")
    k = int(min(k, landscape.dim))
    max_degree = max(order, 2)
    _check_part_sizes(q, order, landscape.dim if dense else k, force)
    links = complement_links(order) if extra_links is None else int(extra_links)
    complement = complement and not dense and k < landscape.dim
    # a V-link of the complement's expansion is one more node, reading its own sample group
    plan = plan_groups(samples, max_degree + 1 + (links if complement else 0), replications)
    exact = is_exact(landscape)
    t_grad = None
    estimate: tuple[float, str] | None = None
    if not exact:
        from ..landscapes.sampled import seconds_per_sample_gradient

        t_grad = seconds_per_sample_gradient(landscape)
        units = _units_per_sample(k, max_degree, landscape.dim, dense)
        estimate = (samples * units * t_grad, "model")
        if pilot and estimate[0] > PILOT_ABOVE_SECONDS:
            estimate = (resummed_estimate_seconds(landscape, targets[0].schedule, order, targets[0].etas, q, plan,
                                                  k, basis, limit, metric, continuous, seed, targets=targets),
                        "pilot")
        check_work(estimate[0], f"the resummed order-{order} estimate from {samples} samples "
                   f"({'dense' if dense else f'Krylov dimension {k}'})",
                   "use fewer samples, a smaller --krylov or a lower order", force)
    cpu_start = time.process_time()
    rows = draw_rows(landscape, plan.used, seed)
    rows = rows.reshape((plan.replications, plan.groups, plan.per_group) + tuple(rows.shape[1:]))
    tensors = landscape.derivative_tensors(max_degree) if exact else None
    full_values = None
    if complement and not exact:
        # the complement's whole-space diagram values depend on the rows only (not on Z or μ): estimated for
        # every replication in a few vectorized passes before the loop, not one pass per replication
        full_values = replication_values(landscape, rows, complement_values_needed(q, order, links), q.root)
    linkless = [d for m in range(order + 1) for d in q.diagrams(m, linkless=True)]
    needed = linkless + (complement_values_needed(q, order, links) if complement else [])
    bar = progress_bar(plan.replications, "resummed estimate", "replications", progress)
    replicas: list[list[np.ndarray]] = [[] for _ in targets]
    excluded, captured, curvatures = [], [], []
    tallies = [ResummedTally() for _ in targets]
    start = time.perf_counter()
    for r in range(plan.replications):
        if exact:
            source, rb, hvp = _sample_exact(landscape, tensors, rows[r], k, dense, seed + r)
        else:
            source, rb, hvp = _sample_torch(landscape, rows[r], plan, k, dense, seed + r)
        factory = _factory(landscape, tensors, rows[r])
        Z, comp = None, None
        if rb is not None:
            Z, values = rb.vectors, rb.values
            for tally in tallies:
                tally.negatives.append(rb.negative())
                tally.ritz_top.append(float(np.max(rb.values)))
            full_source = factory(None)
            noise = _noise(full_source)
            captured.append(_noise_captured(noise, Z))
            if limit is not None:
                source, Z, values, dropped = _keep_positive(factory, rb, curvature_floor)
                excluded.append(dropped)
        ev = GroupStatisticEvaluator(source, metric)
        ev.prepare(needed, q.root)  # every tensor this replication reads, batched over groups
        if rb is None:
            for tally in tallies:
                tally.check_dense_curvature(ev, limit, curvature_floor)
        elif complement:
            mu, _ = complement_curvature(noise, Z, hvp, values)
            if limit is not None and mu <= curvature_floor * float(np.max(values)):
                raise SgdDiagramsError(
                    f"the T -> infinity limit needs positive curvature outside the Krylov space too, but the gradient "
                    f"noise there sees curvature {mu:.4g}; raise --krylov (at k = dim nothing lies outside)"
                )
            curvatures.append(mu)
            full_ev = (GroupStatisticEvaluator(full_source) if full_values is None
                       else ReplicationValues(full_values, r, q.root))
            # the complement's diagram values, once per replication: every schedule and step reads them
            comp = complement_difference(full_ev, ev, Z, q, order, mu, links)
        ev = ev.part_table(linkless, q.root)
        for i, (target, tally) in enumerate(zip(targets, tallies, strict=True)):
            term = None
            if comp is not None:
                def term(s, steps=None, comp=comp, mu=mu, etas=target.etas):
                    if steps is None:
                        return complement_sum(comp, q, s, etas, mu, continuous)
                    return complement_sum_curve(comp, q, s, etas, mu, steps, continuous)
            value = tally.replicate(ev, source.dim, target.schedule, order, target.etas, q, metric, continuous,
                                    limit, force, lift=Z, complement=term, steps=target.steps)
            replicas[i].append(np.asarray(value, dtype=np.float64))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    out = []
    for target, tally, reps in zip(targets, tallies, replicas, strict=True):
        details: dict = {"krylov_dim": None if dense else k, "basis": "dense" if dense else "krylov"}
        if choice is not None:
            details["krylov_choice"] = choice
        if target.steps is not None:
            details["steps"] = [int(t) for t in target.steps]
        _summarize_target(details, tally, np.stack(reps), target, dense, limit, curvature_floor, excluded, captured,
                          curvatures, k)
        if t_grad is not None:
            details["gradient_equivalents_per_sample"] = float(seconds / (samples * t_grad))
        details["seconds"] = float(seconds)
        details["cpu_seconds"] = float(time.process_time() - cpu_start)
        if len(targets) > 1:
            details["shared_by_schedules"] = len(targets)
        if estimate is not None:
            details["estimated_seconds"], details["estimate_from"] = float(estimate[0]), estimate[1]
        out.append(KrylovPrediction(q.name, order, target.etas, np.stack(reps), plan, "dense" if dense else "krylov",
                                    details))
    return out


def _summarize_target(details: dict, tally: ResummedTally, replicas: np.ndarray, target: CurveTarget, dense: bool,
                      limit: str | None, curvature_floor: float, excluded: list, captured: list, curvatures: list,
                      k: int) -> None:
    """One target's details: curvature and growth (warned once), the complement's size (a curve: at its last
    step, and ``complement_curve["relative"]`` per step), excluded directions, captured noise, the horizon."""
    tally.summarize(details, target.schedule, dense, limit, curvature_floor, stacklevel=5)
    if excluded:
        details["excluded_directions"] = float(np.mean([len(e) for e in excluded]))
    if captured:
        details["captured_gradient_noise"] = float(np.mean(captured))
    if tally.complements:
        comps, mu = np.stack(tally.complements), float(np.mean(curvatures))
        if target.steps is None:
            details["complement"] = complement_summary(comps, replicas, details.get("change"), mu)
        else:  # (R, steps, η[, dim]): the final step as for a final point, every step's relative size beside it
            change = details.get("change")
            per_step = [complement_summary(comps[:, i], replicas[:, i], None if change is None else
                                           {"value": change["value"][i]}, mu) for i in range(comps.shape[1])]
            details["complement"] = per_step[-1]
            details["complement_curve"] = {"relative": [p["relative"] for p in per_step],
                                           "value": [p["value"] for p in per_step],
                                           "stderr": [p["stderr"] for p in per_step]}
        _warn_large_complement(details["complement"], target.etas, k, details.get("captured_gradient_noise"),
                               stacklevel=5)
    if tally.horizons:
        details["horizon"] = int(max(tally.horizons))


COMPLEMENT_WARN = 0.2
"""Warn when the complement term exceeds this fraction of the predicted effect (see :func:`complement_summary`)."""


def complement_summary(comps: np.ndarray, replicas: np.ndarray, change: dict | None, mu: float) -> dict:
    """The complement term's size per η: value ± stderr, and ``relative`` = |complement| / |effect|.

    The effect is the predicted change from l(θ0) for a loss (``details["change"]``), the predicted
    displacement's norm for a displacement (whose complement is reported by its norm too).  ``curvature``
    is the mean μ the complement was expanded around.
    """
    R = len(comps)
    if comps.ndim == 3:  # displacement: (R, eta, P)
        value = np.linalg.norm(comps.mean(axis=0), axis=-1)
        stderr = np.sqrt((comps.var(axis=0, ddof=1) / R).sum(axis=-1))
        effect = np.linalg.norm(replicas.mean(axis=0), axis=-1)
    else:
        value = comps.mean(axis=0)
        stderr = comps.std(axis=0, ddof=1) / np.sqrt(R)
        effect = np.abs(np.asarray(change["value"])) if change else np.abs(replicas.mean(axis=0))
    relative = np.abs(value) / np.maximum(effect, 1e-300)
    return {"value": value.tolist(), "stderr": stderr.tolist(), "relative": relative.tolist(), "curvature": mu}


def _warn_large_complement(summary: dict, etas: np.ndarray, k: int, captured: float | None,
                           stacklevel: int = 3) -> None:
    """One warning when the complement term is large relative to the predicted effect."""
    rel = np.asarray(summary["relative"])
    if not np.any(rel > COMPLEMENT_WARN):
        return
    worst = int(np.argmax(rel))
    seen = f" (captured gradient noise {captured:.2f})" if captured is not None else ""
    warnings.warn(
        f"the directions outside the Krylov space (k = {k}){seen} contribute {rel[worst]:.0%} of the predicted "
        f"effect at eta = {etas[worst]:g}; they are expanded to the series order, not resummed, so the value "
        f"is less reliable there: raise --krylov", RuntimeWarning, stacklevel=stacklevel)


PILOT_ABOVE_SECONDS = 3.0
"""A resummed estimate whose first cost model (per-sample gradient × units) exceeds this is timed by a pilot."""


def resummed_estimate_seconds(landscape, schedule: Schedule, order: int, etas, q: Quantity, plan, k: int,
                              basis: str, limit: str | None, metric, continuous: bool, seed: int,
                              targets: list[CurveTarget] | None = None) -> float:
    """CPU seconds of a resummed estimate, calibrated on a pilot of the real work.

    Two runs of 2 replications with S = 1 and S = min(S, 8) samples per group give the fixed cost of a
    replication (Lanczos set-up, the resummed engine on k-dimensional tensors) and the cost per sample
    (per-sample projected tensors); the estimate is R × (fixed + G·S·per sample).  CPU time, not wall time,
    so load from other jobs does not inflate it.  ``benchmarks/bench_cost_model.py`` checks it (within 3x).
    ``targets``: every schedule (and curve) read from the estimate (:func:`krylov_resummed_curves`), so the
    engine's per-schedule and per-step work is in the fixed cost; default: ``schedule`` at ``etas``.
    """
    G, S = plan.groups, plan.per_group
    sizes = (1, min(S, 8)) if S > 1 else (1,)
    targets = [CurveTarget(schedule, np.atleast_1d(np.asarray(etas, dtype=np.float64)))] if targets is None \
        else targets
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for size in sizes:
            start = time.process_time()
            krylov_resummed_curves(landscape, targets, order, q, samples=2 * G * size, seed=seed, replications=2,
                                   krylov_dim=k, basis=basis, limit=limit, metric=metric, continuous=continuous,
                                   force=True, pilot=False)
            times.append((time.process_time() - start) / 2)
    per_sample = max((times[-1] - times[0]) / (G * (sizes[-1] - 1)), 0.0) if len(times) > 1 else 0.0
    fixed = max(times[0] - G * per_sample, 0.0)
    return plan.replications * (fixed + per_sample * G * S)


MAX_PART_ENTRIES = 3 * 10**7


def _worst_part_degree(q: Quantity, order: int) -> int:
    """The largest Σ degrees of one part over the linkless diagrams to ``order`` (a part tensor has width^that)."""
    worst = 0
    for m in range(order + 1):
        for d in q.diagrams(m, linkless=True):
            for members in d.part_members:
                if q.root == "displacement" and 0 in members:
                    continue
                worst = max(worst, sum(d.degree(v) for v in members))
    return worst


def _check_part_sizes(q: Quantity, order: int, width: int, force: bool) -> None:
    """Refuse part tensors of width^(Σ degrees) entries beyond :data:`MAX_PART_ENTRIES` (memory)."""
    worst = _worst_part_degree(q, order)
    if width ** worst > MAX_PART_ENTRIES and not force:
        raise SgdDiagramsError(
            f"the resummed order-{order} {q.name} needs part tensors of {width}^{worst} = {width ** worst:.3g} "
            f"numbers (limit {MAX_PART_ENTRIES:.0e}); use a smaller Krylov dimension (--krylov), a lower order, "
            "or pass --force"
        )


# -- routing: dense when cheap, else the Krylov dimension by what it captures ------------------------
DENSE_CHEAP_SECONDS = 60.0
"""``resummation="auto"`` takes the dense path when the cost model puts it under this (and its tensors fit)."""

DENSE_CHEAP_ENTRIES = 2 * 10**8
"""For an exact (finite) landscape the dense cost is samples × dim^max_degree tensor entries: cheap below this."""

CAPTURE_TARGET = 0.9
"""Automatic k: grow k (1, 2, 4, …) until span(Z) holds this share of the gradient noise and of the
noise-weighted curvature tr(ĤC), or the cost limit is reached."""


def dense_seconds(landscape, order: int, samples: int) -> float | None:
    """The cost model's seconds for the dense resummed path on a torch landscape (None for an exact one)."""
    if is_exact(landscape):
        return None
    from ..landscapes.sampled import seconds_per_sample_gradient

    return samples * _units_per_sample(0, max(order, 2), landscape.dim, True) * seconds_per_sample_gradient(landscape)


def dense_is_cheap(landscape, order: int, quantity: str | Quantity, samples: int) -> tuple[bool, str]:
    """(cheap?, why): the routing rule of ``resummation="auto"`` (see :func:`choose_resummation`)."""
    q = quantity_of(quantity, DIAGRAM_QUANTITY_NAMES)
    P, max_degree = landscape.dim, max(order, 2)
    parts = P ** _worst_part_degree(q, order)
    if parts > MAX_PART_ENTRIES:
        return False, f"dense part tensors of {parts:.3g} numbers exceed {MAX_PART_ENTRIES:.0e}"
    seconds = dense_seconds(landscape, order, samples)
    if seconds is None:
        entries = samples * P ** max_degree
        return (entries <= DENSE_CHEAP_ENTRIES,
                f"dense per-sample tensors: {entries:.3g} numbers (cheap up to {DENSE_CHEAP_ENTRIES:.0e})")
    return (seconds <= DENSE_CHEAP_SECONDS,
            f"dense cost model: about {seconds:.3g} s (cheap up to {DENSE_CHEAP_SECONDS:g} s)")


def krylov_dim_limit(landscape, order: int, quantity: str | Quantity, samples: int) -> int:
    """The largest k the cost limits allow: part tensors within :data:`MAX_PART_ENTRIES`, work within budget."""
    from ..limits import WORK_BUDGET_SECONDS

    q = quantity_of(quantity, DIAGRAM_QUANTITY_NAMES)
    worst = max(_worst_part_degree(q, order), 1)
    k = max(1, min(landscape.dim, int(MAX_PART_ENTRIES ** (1.0 / worst) + 1e-9)))
    if not is_exact(landscape):
        from ..landscapes.sampled import seconds_per_sample_gradient

        t = seconds_per_sample_gradient(landscape)
        while k > 1 and samples * _units_per_sample(k, max(order, 2), landscape.dim, False) * t > WORK_BUDGET_SECONDS:
            k -= 1
    return k


PILOT_SAMPLES = 512
"""Samples of the pilot on which :func:`choose_krylov_dim` measures what each k captures."""


def choose_krylov_dim(landscape, order: int, quantity: str | Quantity, samples: int, seed: int = 0,
                      pilot_samples: int = PILOT_SAMPLES) -> tuple[int, dict]:
    """Automatic k on a pilot of the samples: k = 1, 2, 4, … until span(Z) captures :data:`CAPTURE_TARGET`
    of the gradient noise and of the noise-weighted curvature, or k reaches :func:`krylov_dim_limit`.

    Returns k and a record (candidates tried with what they captured, the target, the limit, why it stopped).
    """
    limit = krylov_dim_limit(landscape, order, quantity, samples)
    n = int(min(samples, pilot_samples))
    rows = draw_rows(landscape, n, seed + 7919)[None]  # one group of n rows, apart from the estimate's draws
    exact = is_exact(landscape)
    if exact:
        tensors = landscape.derivative_tensors(2)
        full = ExactGroupSource(tensors, rows)
        hvp, G = full.hvp, full.mean_gradient()
    else:
        full = TorchGroupSource(landscape, rows)
        hvp, G = _torch_hvp(landscape, rows)
    noise = _noise(full)
    tried, k = [], 1
    while True:
        k = min(k, limit)
        basis = lanczos_ritz(hvp, landscape.dim, k, G, seed)
        captured = _noise_captured(noise, basis.vectors)
        _, curvature = complement_curvature(noise, basis.vectors, hvp, basis.values, with_captured=True)
        tried.append({"k": k, "captured_gradient_noise": captured, "captured_curvature": curvature})
        if captured >= CAPTURE_TARGET and curvature >= CAPTURE_TARGET:
            why = f"captured at least {CAPTURE_TARGET:g} of the gradient noise and of the noise-weighted curvature"
            break
        if k >= limit:
            why = (f"reached the cost limit k = {limit} before capturing {CAPTURE_TARGET:g}" if limit < landscape.dim
                   else f"reached k = dim = {limit}")
            break
        k *= 2
    return k, {"chosen": k, "target": CAPTURE_TARGET, "limit": limit, "why": why, "pilot_samples": n,
               "tried": tried}


def _limit(value_at: Callable[[Schedule], tuple[np.ndarray, np.ndarray | None]], schedule: Schedule, family: str,
           rtol: float = 1e-7, max_doublings: int = 30) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Theorem 2's T → ∞ value of ``value_at`` (one replication): double T until two values agree.

    Returns the value, the horizon T reached and the complement term there (None without one).
    """
    previous, _ = value_at(schedule)
    current = schedule
    for _ in range(max_doublings):
        current = _grow(current, family, 2)
        value, comp = value_at(current)
        if np.allclose(value, previous, rtol=rtol, atol=rtol * max(1e-300, float(np.max(np.abs(value))))):
            return value, current.T, comp
        previous = value
    raise SgdDiagramsError(
        f"no convergence after T = {current.T}: the smallest kept curvature is too small for the horizon; "
        "raise eta or move nearer a minimum"
    )
