"""What SGD's outcome s is, and which diagrams measure it (``DESIGN.md``; seed 001 §"Main result", App. A.6).

A :class:`Quantity` is a small immutable value that says everything the engine needs to know about s:

* ``test-loss`` — s = E_x l_x; test diagrams (the root is a fresh point, alone in its part);
* ``train-loss`` — s = (1/N) Σ_n l_n; train diagrams (the root reads a training row and may share a part);
* ``gen-gap`` — test − train = −(train diagrams whose root shares its part), because root-alone train
  diagrams have the test diagrams' values and counts;
* ``displacement`` — s(θ) = θ − θ0; diagrams whose root has exactly one child, valued as vectors;
* ``test-loss-variance`` — Var[l(θ_T)] over training sets (App. A.6): two test-loss roots, computed from
  E[l²] − E[l]²; it has no diagram list of its own.

One spelling everywhere: theory, estimation, simulation results and the command line all use these names
(``quantity("test-loss")``); :meth:`Quantity.metric` is the same name as a simulation-metric key.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SgdDiagramsError
from .diagram import Diagram
from .enumeration import enumerate_diagrams

__all__ = ["Quantity", "QUANTITIES", "QUANTITY_NAMES", "DIAGRAM_QUANTITY_NAMES", "quantity"]


@dataclass(frozen=True)
class Quantity:
    """The measured outcome s: its name, diagram kind, root rule and sign."""

    name: str
    kind: str | None  # diagram kind ("test", "train", "displacement"); None for the variance
    sign: float = 1.0  # gen-gap enters with −1
    root_shared_only: bool = False  # gen-gap keeps only train diagrams whose root shares its part
    description: str = ""

    @property
    def root(self) -> str:
        """The root rule of :class:`~sgd_diagrams.values.UvalueEvaluator`: ``"loss"`` or ``"displacement"``."""
        return "displacement" if self.kind == "displacement" else "loss"

    @property
    def is_vector(self) -> bool:
        """True when each coefficient is a vector over the weights (displacement)."""
        return self.kind == "displacement"

    @property
    def is_variance(self) -> bool:
        """True for ``test-loss-variance`` (two roots, App. A.6)."""
        return self.kind is None

    def diagrams(self, edges: int, linkless: bool = False) -> tuple[Diagram, ...]:
        """The diagrams with ``edges`` edges whose values add up to this quantity (``linkless``: resummed form)."""
        if self.kind is None:
            raise SgdDiagramsError(f"{self.name} has no diagrams of its own; it is computed from E[l²] − E[l]²")
        ds = enumerate_diagrams(edges, self.kind, linkless=linkless)
        if self.root_shared_only:
            ds = tuple(d for d in ds if not d.root_alone)
        return ds

    def __str__(self) -> str:
        return self.name


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("test-loss", "test", description="expected test loss E[l(θ_T)]"),
        Quantity("train-loss", "train", description="expected train loss E[(1/N) Σ_n l_n(θ_T)]"),
        Quantity("gen-gap", "train", sign=-1.0, root_shared_only=True,
                 description="expected generalization gap, test − train"),
        Quantity("displacement", "displacement", description="expected weight drift E[θ_T − θ0] (a vector)"),
        Quantity("test-loss-variance", None, description="variance of the test loss over training sets"),
    )
}
QUANTITY_NAMES: tuple[str, ...] = tuple(QUANTITIES)
DIAGRAM_QUANTITY_NAMES: tuple[str, ...] = tuple(n for n, q in QUANTITIES.items() if q.kind is not None)


def quantity(value: str | Quantity, allowed: tuple[str, ...] | None = None) -> Quantity:
    """The :class:`Quantity` named ``value`` (a Quantity passes through); ``allowed`` restricts the names."""
    names = allowed if allowed is not None else QUANTITY_NAMES
    if isinstance(value, Quantity):
        q = value
    elif isinstance(value, str) and value in QUANTITIES:
        q = QUANTITIES[value]
    else:
        raise SgdDiagramsError(f"unknown quantity {value!r}; use one of {', '.join(names)}")
    if q.name not in names:
        raise SgdDiagramsError(f"quantity {q.name} is not available here; use one of {', '.join(names)}")
    return q
