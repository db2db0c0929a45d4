"""The plan of an estimated prediction: this module decides, the others execute (seed 001 App. C.6).

An estimated prediction takes one of four paths, decided here from the form asked for, the landscape's size,
a matrix learning rate and the cost model — and nowhere else:

=================  ==========================================================================================
path               what runs (the executing module)
=================  ==========================================================================================
``uvalues``        Taylor form: every diagram's uvalue estimated per replication (``evaluator``: ``dense``
                   tensors or ``matrix-free`` messages, :mod:`.evaluators`), cacheable, then Theorem 1's
                   series per replication on those numbers (:mod:`.predictions`)
``dense-metric``   Taylor form through a matrix learning rate: the dense group statistic's part tensors
                   contracted through P (:mod:`.group_statistic`), then the series per replication
``dense``          resummed form or T → ∞ limit on dense (dim-sized) tensors (:mod:`.krylov`, Z = I)
``krylov``         resummed form or limit on tensors projected on a Lanczos basis of the sample-mean Hessian
                   (:mod:`.lanczos`, :mod:`.krylov`), with the complement outside it (:mod:`.complement`)
=================  ==========================================================================================

Every path estimates its numbers first — uvalue tables or part-tensor tables
(:class:`~sgd_diagrams.values.uvalue.UvalueTable`, :class:`~sgd_diagrams.values.uvalue.PartTable`) — and hands
them down to the theory, which never calls back into estimation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagrams import Quantity
from ..errors import SgdDiagramsError
from ..landscapes.conversions import is_exact
from ..options import RESUMMATIONS
from .evaluators import DENSE_MAX_DIM, choose_method
from .krylov import dense_is_cheap

__all__ = ["EstimationPlan", "plan_estimation", "resummation_route"]


@dataclass(frozen=True)
class EstimationPlan:
    """What an estimated prediction will run: ``form`` (taylor, resummed, limit), ``path`` (uvalues,
    dense-metric, dense, krylov), the Taylor uvalue ``evaluator`` (dense, matrix-free) and ``why``."""

    form: str
    path: str
    evaluator: str
    why: str


def plan_estimation(landscape, order: int, q: Quantity, samples: int, *, resum: bool = False, limit: str | None = None,
                    metric=None, method: str = "auto", resummation: str = "auto",
                    krylov_dim: int | None = None) -> EstimationPlan:
    """Decide the path of an estimated prediction (see the module docstring); refuse impossible ones."""
    evaluator = choose_method(landscape, method)
    if resum or limit is not None:
        basis, why = resummation_route(landscape, resummation, metric, order, q, samples, krylov_dim)
        return EstimationPlan("limit" if limit is not None else "resummed", basis, evaluator, why)
    if metric is not None:
        if evaluator != "dense":
            raise SgdDiagramsError(
                f"a matrix learning rate (--metric) needs the dense path, i.e. a landscape with dim <= 24 "
                f"(this one has {landscape.dim})"
            )
        return EstimationPlan("taylor", "dense-metric", evaluator, "a matrix learning rate needs dense tensors")
    return EstimationPlan("taylor", "uvalues", evaluator, f"Taylor: {evaluator} uvalue estimates per replication")


def resummation_route(landscape, resummation: str, metric, order: int = 2, q: Quantity | str = "test-loss",
                       samples: int = 1, krylov_dim: int | None = None) -> tuple[str, str]:
    """('dense' or 'krylov', why) for the resummed estimate: the routing rule (``predict --help``).

    ``auto``: a matrix learning rate needs dense; a given ``krylov_dim`` means the Krylov path with it;
    otherwise dense whenever the cost model calls it cheap (:func:`~.krylov.dense_is_cheap`), else the Krylov
    path with k chosen by what it captures (:func:`~.krylov.choose_krylov_dim`).
    """
    if resummation not in RESUMMATIONS:
        raise SgdDiagramsError(f"resummation must be one of {', '.join(RESUMMATIONS)}, got {resummation!r}")
    if resummation == "dense":
        if landscape.dim > 4 * DENSE_MAX_DIM and not is_exact(landscape):
            raise SgdDiagramsError(
                f"the dense resummed path materializes dim^3 tensors per sample; this landscape has dim "
                f"{landscape.dim} (dense allowed up to {4 * DENSE_MAX_DIM}); use resummation='matrix-free'"
            )
        return "dense", "asked for (resummation='dense')"
    if resummation == "matrix-free":
        if metric is not None:
            raise SgdDiagramsError("a matrix learning rate (--metric) needs the dense resummed path (dim <= 24)")
        return "krylov", "asked for (resummation='matrix-free')"
    if metric is not None:
        return "dense", "auto: a matrix learning rate needs the dense path"
    if krylov_dim is not None:
        return "krylov", f"auto: a Krylov dimension was given ({krylov_dim})"
    cheap, why = dense_is_cheap(landscape, order, q, samples)
    return ("dense" if cheap else "krylov"), f"auto: {'dense' if cheap else 'matrix-free'} ({why})"
