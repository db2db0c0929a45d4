"""Training curves in pictures: predicted curves with their bands against simulated curves with CIs.

:func:`curves_vs_simulation` draws, over the step t, each predicted curve (``predict(..., steps=...)`` /
``predict --curve --json --out``) as a line — with ±1 and ±2 standard deviations over training sets shaded
where it carries ``band_sd`` (the spread of a single run, seed 001 App. A.6's variance), a ±1.96·stderr band
when it was estimated from samples, and the steps where its Taylor form is outside the trust region shaded
grey — against simulated curves (``simulate(..., steps=..., record_every=K)`` / ``simulate --record-every``)
as means with 95% confidence bands.  One panel per η (default) or per simulated optimizer.
:func:`draw_curves` is the drawing itself (reused by ``whatif --curve`` and ``reproduce curves``).

Inputs are objects, their ``to_json()`` records or the CLI's files, read as untrusted data (one-line errors);
every label goes through :func:`~sgd_diagrams.plots.plain_label`; the PNG is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .api import Prediction, Simulation
from .errors import SgdDiagramsError
from .optimizers.statistics import Z95
from .plots import new_figure, plain_label, save_laid_out

__all__ = ["PredictedCurve", "SimulatedCurve", "curves_vs_simulation", "draw_curves", "predicted_curve",
           "simulated_curve"]


@dataclass(frozen=True)
class PredictedCurve:
    """One predicted curve at one η: ``value`` over ``steps``; optional ``stderr``, ``band_sd``, ``trusted``."""

    label: str
    steps: np.ndarray
    value: np.ndarray
    stderr: np.ndarray | None = None
    band_sd: np.ndarray | None = None
    trusted: np.ndarray | None = None


@dataclass(frozen=True)
class SimulatedCurve:
    """One simulated curve at one η: the mean over trials at ``steps`` and its standard error."""

    label: str
    steps: np.ndarray
    mean: np.ndarray
    sem: np.ndarray


def _as_prediction(obj: Any) -> Prediction:
    return obj if isinstance(obj, Prediction) else Prediction.from_json(obj)


def _as_simulation(obj: Any) -> Simulation:
    return obj if isinstance(obj, Simulation) else Simulation.from_json(obj)


def _column(table: Any, j: int, coordinate: int | None, what: str) -> np.ndarray | None:
    """Column ``j`` (one η) of a [step][eta][(dim)] table, one coordinate of a vector quantity."""
    if table is None:
        return None
    arr = np.asarray(table, dtype=np.float64)[:, j]
    if arr.ndim == 2:
        if coordinate is None and arr.shape[1] != 1:
            raise SgdDiagramsError(f"{what} is a vector of {arr.shape[1]} coordinates; choose one with --coordinate")
        c = 0 if coordinate is None else coordinate
        if not 0 <= c < arr.shape[1]:
            raise SgdDiagramsError(f"--coordinate {c} is out of range: {what} has {arr.shape[1]} coordinates")
        arr = arr[:, c]
    return arr


def _eta_index(etas: np.ndarray, eta: float) -> int | None:
    hit = np.flatnonzero(np.isclose(etas, eta, rtol=1e-9, atol=0.0))
    return int(hit[0]) if hit.size else None


def predicted_curve(prediction: Any, eta: float, coordinate: int | None = None,
                    label: str | None = None) -> PredictedCurve | None:
    """The curve of ``prediction`` (object, record or file) at ``eta``; None when it was not predicted there."""
    p = _as_prediction(prediction)
    if p.steps is None:
        raise SgdDiagramsError("a prediction at T only is not a curve; predict with --curve (steps='all')")
    j = _eta_index(p.eta, eta)
    if j is None:
        return None
    band = p.details.get("band_sd")
    label = label or f"{p.form} order {p.order}"
    return PredictedCurve(plain_label(label), p.steps, _column(p.value, j, coordinate, "the prediction"),
                          _column(p.stderr, j, coordinate, "the prediction"),
                          None if band is None else np.asarray(band, dtype=np.float64)[:, j],
                          None if p.trusted is None else np.asarray(p.trusted, dtype=bool)[:, j])


def simulated_curve(simulation: Any, eta: float, quantity: str = "test-loss", optimizer: str | None = None,
                    coordinate: int | None = None) -> SimulatedCurve | None:
    """The simulated mean ± SEM of ``quantity`` over the recorded steps at ``eta``; None without that η."""
    s = _as_simulation(simulation)
    j = _eta_index(s.eta, eta)
    if j is None:
        return None
    name = optimizer or s.optimizers[0]
    mean = s.curve(quantity, name)
    sem = s.curve(quantity, name, key="sem")
    tail = f" ({s.trials} trials, 95% CI)" if s.trials else " (95% CI)"
    return SimulatedCurve(plain_label(f"simulated {name}{tail}"), s.steps,
                          _column(mean, j, coordinate, "the simulation"), _column(sem, j, coordinate, "the simulation"))


def draw_curves(ax: Any, predicted: Sequence[PredictedCurve], simulated: Sequence[SimulatedCurve], *,
                eta: float | None = None, ylabel: str = "", title: str = "", logx: bool = False) -> None:
    """Predicted curves (bands) and simulated curves (95% CIs) over the step t on ``ax``; ηt on a top axis.

    Steps where a predicted Taylor curve is outside its trust region are shaded grey (the first such curve's).
    """
    colors = ["C0", "C1", "C2", "C3", "C4", "C5"]
    shaded = False
    for k, c in enumerate(predicted):
        color = colors[k % len(colors)]
        ax.plot(c.steps, c.value, "-", lw=1.7, color=color, label=c.label, zorder=4)
        if c.band_sd is not None and np.any(np.isfinite(c.band_sd)):
            for width, alpha, text in ((2.0, 0.10, "±2 sd over training sets"), (1.0, 0.22, "±1 sd")):
                ax.fill_between(c.steps, c.value - width * c.band_sd, c.value + width * c.band_sd, color=color,
                                alpha=alpha, lw=0, label=plain_label(f"{c.label}: {text}"))
        if c.stderr is not None:
            ax.fill_between(c.steps, c.value - Z95 * c.stderr, c.value + Z95 * c.stderr, color=color, alpha=0.25,
                            lw=0, hatch="..", label=plain_label(f"{c.label}: ±1.96 stderr"))
        if c.trusted is not None and not shaded and not np.all(c.trusted):
            bad = ~np.asarray(c.trusted, dtype=bool)
            for lo, hi in _runs(c.steps, bad):
                ax.axvspan(lo, hi, color="0.55", alpha=0.18, lw=0, zorder=0,
                           label=None if shaded else plain_label(f"outside the trust region ({c.label})"))
                shaded = True
    for k, s in enumerate(simulated):
        color = "k" if k == 0 else colors[(len(predicted) + k) % len(colors)]
        ax.plot(s.steps, s.mean, "o" if s.steps.size <= 60 else "-", ms=3, lw=1.0, color=color, label=s.label,
                zorder=5)
        ax.fill_between(s.steps, s.mean - Z95 * s.sem, s.mean + Z95 * s.sem, color=color, alpha=0.18, lw=0, zorder=3)
    if logx:
        ax.set_xscale("symlog", linthresh=1.0)
    if eta is not None:
        top = ax.secondary_xaxis("top", functions=(lambda x, e=eta: x * e, lambda x, e=eta: x / e))
        top.set_xlabel(f"ηt  (η = {eta:g})")
    ax.set_xlabel("step t")
    if ylabel:
        ax.set_ylabel(plain_label(ylabel))
    if title:
        ax.set_title(plain_label(title), fontsize=9)
    ax.legend(fontsize=6.5)


def _runs(steps: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """Stretches [first, last] of consecutive recorded steps where ``mask`` holds (half a gap either side)."""
    steps = np.asarray(steps, dtype=np.float64)
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if start is not None and (not m or i == len(mask) - 1):
            end = i if m else i - 1
            lo = steps[start] - (0.5 * (steps[start] - steps[start - 1]) if start else 0.0)
            hi = steps[end] + (0.5 * (steps[end + 1] - steps[end]) if end + 1 < len(steps) else 0.0)
            out.append((lo, hi))
            start = None
    return out


def curves_vs_simulation(predictions: Any, simulation: Any = None, out: str | Path | None = None, *,
                         optimizer: str | Sequence[str] | None = None, quantity: str | None = None,
                         coordinate: int | None = None, title: str | None = None, panels: str = "eta",
                         logx: bool = False) -> Path:
    """Predicted curves against simulated curves over the steps, one panel per η (or per optimizer); the PNG.

    ``predictions``: one or more curve predictions (:class:`~sgd_diagrams.Prediction` with ``steps``, their
    records, or ``predict --curve --json --out`` files), all of one quantity; ``simulation``: a simulation that
    recorded steps (``simulate(..., steps=...)`` / ``simulate --record-every K --out``) or None (theory only).
    ``panels="eta"`` draws one panel per η of the predictions (the simulation's first optimizer, or
    ``optimizer``); ``panels="optimizer"`` one panel per simulated optimizer (``optimizer``: a list, default
    all) at the first η.
    """
    if out is None:
        raise SgdDiagramsError("say where to write the figure: curves_vs_simulation(prediction, simulation, "
                               "out='fig.png')")
    if panels not in ("eta", "optimizer"):
        raise SgdDiagramsError(f"panels must be 'eta' or 'optimizer', got {panels!r}")
    if isinstance(predictions, (str, Path, Mapping, Prediction)):
        predictions = [predictions]
    preds = [_as_prediction(p) for p in predictions]
    if not preds:
        raise SgdDiagramsError("give at least one predicted curve (predict --curve --json --out P.json)")
    quantities = {p.quantity for p in preds}
    if len(quantities) > 1:
        raise SgdDiagramsError(f"predictions are of different quantities ({', '.join(sorted(quantities))}); "
                               "plot one quantity at a time")
    quantity = quantity or quantities.pop()
    sim = None if simulation is None else _as_simulation(simulation)
    if sim is not None and (sim.steps is None or sim.steps.size < 2):
        raise SgdDiagramsError("the simulation recorded no curve; simulate with --record-every K")
    if panels == "eta":
        if isinstance(optimizer, (list, tuple)):
            raise SgdDiagramsError("panels='eta' shows one optimizer; give one name (or panels='optimizer')")
        etas = preds[0].eta
        keys = [(float(e), optimizer) for e in etas]
    else:
        if sim is None:
            raise SgdDiagramsError("panels='optimizer' needs a simulation")
        names = list(sim.optimizers) if optimizer is None else ([optimizer] if isinstance(optimizer, str)
                                                                else list(optimizer))
        keys = [(float(preds[0].eta[0]), n) for n in names]
    if len(keys) > 12:
        raise SgdDiagramsError(f"{len(keys)} panels are too many for one figure; predict at most 12 eta")
    fig, axes = new_figure(len(keys), width=5.2, height=4.2)
    ylabel = f"E[{quantity}]" if coordinate is None else f"E[{quantity}[{coordinate}]]"
    for ax, (eta, name) in zip(axes, keys, strict=True):
        curves = [c for c in (predicted_curve(p, eta, coordinate) for p in preds) if c is not None]
        sims = [] if sim is None else [c for c in [simulated_curve(sim, eta, quantity, name, coordinate)]
                                       if c is not None]
        head = "" if panels == "eta" else str(name)  # η is on the top axis
        draw_curves(ax, curves, sims, eta=eta, ylabel=ylabel,
                    title=" — ".join(x for x in (title or "", head) if x), logx=logx)
    try:
        save_laid_out(fig, out)
    finally:
        fig.clear()
    return Path(out)
