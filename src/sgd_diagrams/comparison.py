"""Theory against simulation, number by number: per-η z-scores with the trust flag beside them.

``sd.compare(prediction, simulation)`` lines a :class:`~sgd_diagrams.api.Prediction` up with a
:class:`~sgd_diagrams.api.Simulation` (objects, their ``to_json()`` records, or the files the CLI writes) at
the learning rates both have, and reports z = (P − mean)/√(stderr_P² + SEM²) — the test the papers' figures
make by eye (seed 001 §Experiments: "I bars … mark 95% confidence intervals") — with ``trusted`` (the
prediction's own :func:`sgd_diagrams.theory.trust.assess_trust`) and its error estimate beside each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .api import Prediction, Simulation
from .errors import SgdDiagramsError

__all__ = ["Comparison", "as_prediction", "as_simulation", "compare"]


def as_prediction(obj: Any) -> Prediction:
    """A :class:`Prediction` from the object, its ``to_json()`` record, or a ``predict --json --out`` file."""
    return obj if isinstance(obj, Prediction) else Prediction.from_json(obj)


def as_simulation(obj: Any) -> Simulation:
    """A :class:`Simulation` from the object, its ``to_json()`` record, or a ``simulate`` result file."""
    return obj if isinstance(obj, Simulation) else Simulation.from_json(obj)


@dataclass(frozen=True)
class Comparison:
    """Per η: predicted value ± stderr, simulated mean ± SEM, z-score, trusted flag and error estimate."""

    quantity: str
    optimizer: str
    eta: np.ndarray
    predicted: np.ndarray
    stderr: np.ndarray
    simulated: np.ndarray
    sem: np.ndarray
    z: np.ndarray
    trusted: np.ndarray | None
    error_estimate: np.ndarray | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able record (non-finite z as null)."""
        def floats(a: Any) -> list[float | None]:
            return [float(x) if np.isfinite(x) else None for x in np.asarray(a, dtype=np.float64)]

        out: dict[str, Any] = {"quantity": self.quantity, "optimizer": self.optimizer, "eta": self.eta.tolist(),
                               "predicted": floats(self.predicted), "stderr": floats(self.stderr),
                               "simulated": floats(self.simulated), "sem": floats(self.sem), "z": floats(self.z)}
        if self.trusted is not None:
            out["trusted"] = [bool(t) for t in self.trusted]
        if self.error_estimate is not None:
            out["error_estimate"] = floats(self.error_estimate)
        return out

    def __str__(self) -> str:
        head = f"{self.quantity} ({self.optimizer}): prediction vs simulation"
        lines = [head, f"{'eta':>10} {'predicted':>14} {'simulated':>22} {'z':>8}  trusted"]
        for i, e in enumerate(self.eta):
            trust = "-" if self.trusted is None else ("yes" if self.trusted[i] else "no")
            pred = f"{self.predicted[i]:.6g}" + (f" ± {self.stderr[i]:.2g}" if self.stderr[i] else "")
            lines.append(f"{e:>10.4g} {pred:>14} {self.simulated[i]:>12.6g} ± {self.sem[i]:<7.2g} "
                         f"{self.z[i]:>+8.2f}  {trust}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Comparison({self.quantity}, {self.optimizer}, {self.eta.size} eta; max |z| " \
               f"{float(np.nanmax(np.abs(self.z))) if self.z.size else float('nan'):.3g})"


def compare(prediction: Prediction | dict | str | Path, simulation: Simulation | dict | str | Path, *,
            optimizer: str | None = None, quantity: str | None = None, coordinate: int | None = None) -> Comparison:
    """z-scores of ``prediction`` against ``simulation`` at every η both have, with the trust flag beside them.

    ``optimizer``: one of the simulation's optimizers or a paired difference ``"gd - sgd"`` (default the
    first); ``quantity``: the simulated quantity (default the prediction's); ``coordinate``: which
    displacement coordinate (required for a vector quantity of dim > 1).
    """
    p, s = as_prediction(prediction), as_simulation(simulation)
    name = optimizer or s.optimizers[0]
    metric = quantity or p.quantity
    pidx, sidx = [], []
    for i, e in enumerate(p.eta):
        match = np.flatnonzero(np.isclose(s.eta, e, rtol=1e-9, atol=0.0))
        if match.size:
            pidx.append(i)
            sidx.append(int(match[0]))
    if not pidx:
        raise SgdDiagramsError(f"the prediction (eta {', '.join(f'{e:g}' for e in p.eta)}) and the simulation (eta "
                               f"{', '.join(f'{e:g}' for e in s.eta)}) share no learning rate; predict at the "
                               "simulated eta")
    mean = _select(s.mean(metric, name), coordinate, metric)[sidx]
    sem = _select(s.sem(metric, name), coordinate, metric)[sidx]
    value = _select(np.asarray(p.value, dtype=np.float64), coordinate, metric)[pidx]
    se = np.zeros_like(value) if p.stderr is None else _select(np.asarray(p.stderr), coordinate, metric)[pidx]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (value - mean) / np.hypot(se, sem)
    trusted = None if p.trusted is None else np.asarray(p.trusted, dtype=bool)[pidx]
    error = None if p.error_estimate is None else np.asarray(p.error_estimate, dtype=np.float64)[pidx]
    return Comparison(metric, name, p.eta[pidx], value, se, mean, sem, z, trusted, error)


def _select(values: np.ndarray, coordinate: int | None, metric: str) -> np.ndarray:
    """One number per η: the values themselves, or coordinate ``coordinate`` of a vector per η."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        return values
    if coordinate is None:
        if values.shape[1] != 1:
            raise SgdDiagramsError(f"{metric} is a vector of {values.shape[1]} coordinates; choose one with "
                                   "coordinate=i")
        coordinate = 0
    if not 0 <= coordinate < values.shape[1]:
        raise SgdDiagramsError(f"coordinate {coordinate} is out of range: {metric} has {values.shape[1]} coordinates")
    return values[:, coordinate]
