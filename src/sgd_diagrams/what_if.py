"""What if: predicted test loss and generalization gap over a 2-D grid of training choices, with error bars.

Measure once (:func:`sgd_diagrams.measure`), then map E[test loss] and E[gen gap] over the learning rate η
and one more choice — batch size B at fixed epochs, epochs E, or heavy-ball momentum β — every cell a
Taylor prediction of Theorem 1 from the saved diagram values (seed 001 §"Main result", App. C.6), with the
standard error of its replications.  Each row of the grid is one schedule; the η axis is evaluated at once.

A cell is **trusted** exactly when ``sd.predict(stats, schedule_row, order, eta, quantity).trusted`` is: the
one rule of :func:`sgd_diagrams.theory.trust.assess_trust` (estimated truncation error ≤ ``rtol`` × the
predicted change + 2·stderr; descent diverging at η·m·λ_max ≥ 2(1 + β) where the statistics know λ_max).

The value and the flag of each cell are exactly ``sd.predict(stats, schedule_row, order, eta, quantity)``'s
(tested).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .api import check_etas, measured_values, predict
from .diagrams import quantity as quantity_of
from .errors import SgdDiagramsError
from .io import atomic_write_text, dumps
from .limits import MAX_WHATIF_CELLS, check_work
from .options import Execution, Sampling, split_legacy
from .schedules import Schedule, sgd, sgd_reshuffled
from .schedules.grid import is_shuffle_average
from .schedules.histories import history_seconds
from .theory.structured_counts import structured_family
from .theory.trust import DEFAULT_RTOL

__all__ = ["AXES", "WhatIf", "WhatIfCurves", "parse_axis_values", "vary_schedule", "whatif", "whatif_curves",
           "whatif_seconds"]

AXES = ("batch", "epochs", "momentum")
"""The second axis of a what-if grid: batch size B (epochs fixed), epochs E, or momentum β."""
AXIS_SYMBOLS = {"batch": "B", "epochs": "E", "momentum": "β"}
MAX_AXIS_VALUES = 1000


@dataclass(frozen=True, eq=False)
class WhatIf:
    """Predictions on the grid ``values`` × ``eta``: ``value[q]``, ``stderr[q]``, ``trusted[q]`` of shape (rows, η)."""

    axis: str
    eta: np.ndarray
    values: np.ndarray
    order: int
    value: dict[str, np.ndarray]
    stderr: dict[str, np.ndarray]
    trusted: dict[str, np.ndarray]
    schedules: tuple[str, ...]
    lambda_max: float | None
    source: dict[str, Any] = field(default_factory=dict)
    rtol: float = DEFAULT_RTOL

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(self.value)

    def __repr__(self) -> str:
        share = ", ".join(f"{q} {100 * float(np.mean(self.trusted[q])):.0f}% trusted" for q in self.quantities)
        return (f"WhatIf({len(self.values)} {self.axis} x {len(self.eta)} eta, order {self.order}; {share})")

    def to_json(self) -> dict[str, Any]:
        """Grid axes, values, standard errors and trusted masks (rows: the second axis, columns: η)."""
        return {"axis": self.axis, "eta": self.eta.tolist(), "values": self.values.tolist(), "order": self.order,
                "quantities": {q: {"value": self.value[q].tolist(), "stderr": self.stderr[q].tolist(),
                                   "trusted": self.trusted[q].astype(bool).tolist()} for q in self.quantities},
                "schedules": list(self.schedules), "lambda_max": self.lambda_max, "rtol": self.rtol,
                "statistics": self.source}

    def save_json(self, path: str | Path) -> None:
        atomic_write_text(path, dumps(self.to_json()) + "\n")

    def plot(self, path: str | Path) -> None:
        """Heatmaps (matplotlib, extra 'plot'): value per quantity on top, its standard error below;
        untrusted cells hatched and greyed."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise SgdDiagramsError("drawing the what-if map needs matplotlib: pip install 'sgd-diagrams[plot]'") \
                from None
        from matplotlib import patheffects
        from matplotlib.patches import Rectangle

        qs = self.quantities
        fig, axes = plt.subplots(2, len(qs), figsize=(5.2 * len(qs), 8.0), squeeze=False)
        x_labels = [f"{e:.3g}" for e in self.eta]
        y_labels = [f"{v:g}" for v in self.values]
        for j, q in enumerate(qs):
            good = self.trusted[q].astype(bool)
            for i, (data, title) in enumerate(((self.value[q], f"E[{q}]"), (self.stderr[q], f"stderr of E[{q}]"))):
                ax = axes[i][j]
                scale = data[good] if good.any() else data  # colours span the trusted cells; the rest is clipped
                im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis" if i == 0 else "magma",
                               interpolation="nearest", vmin=float(np.min(scale)), vmax=float(np.max(scale)))
                fig.colorbar(im, ax=ax, shrink=0.85)
                for r, c in zip(*np.nonzero(~good), strict=True):
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=(0.6, 0.6, 0.6, 0.55),
                                           edgecolor="black", hatch="///", linewidth=0))
                if data.size <= 64:
                    for (r, c), v in np.ndenumerate(data):
                        ax.text(c, r, f"{v:.3g}", ha="center", va="center", fontsize=7, color="white",
                                path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")])
                _ticks(ax, x_labels, y_labels)
                ax.set_xlabel("learning rate η")
                ax.set_ylabel(f"{self.axis} {AXIS_SYMBOLS[self.axis]}")
                ax.set_title(title + (" (hatched: not trusted)" if not good.all() and i == 0 else ""), fontsize=10)
        src = self.source
        from .plots import plain_label, save_laid_out

        fig.suptitle(plain_label(f"what if: order-{self.order} Taylor predictions from {src.get('samples', '?')} "
                                 f"samples ({src.get('name', '')}), {self.schedules[0]} …"), fontsize=10)

        try:
            save_laid_out(fig, path)
        finally:
            plt.close(fig)


def _ticks(ax, x_labels: list[str], y_labels: list[str]) -> None:
    step_x = max(1, len(x_labels) // 8)
    step_y = max(1, len(y_labels) // 10)
    ax.set_xticks(range(0, len(x_labels), step_x), [x_labels[i] for i in range(0, len(x_labels), step_x)],
                  rotation=45, fontsize=8)
    ax.set_yticks(range(0, len(y_labels), step_y), [y_labels[i] for i in range(0, len(y_labels), step_y)],
                  fontsize=8)


def parse_axis_values(text: str, option: str, integer: bool = False) -> np.ndarray:
    """Grid values: ``a,b,c`` (a list), ``START:STOP:COUNT`` (evenly spaced, ends included) or
    ``START:STOP:COUNT:log`` (geometric, START and STOP > 0); ``integer`` values must be whole numbers."""
    text = str(text).strip()
    if ":" in text:
        parts = text.split(":")
        log = len(parts) == 4 and parts[3].strip().lower() == "log"
        if len(parts) not in (3, 4) or (len(parts) == 4 and not log):
            raise SgdDiagramsError(f"{option} must be a list a,b,c or START:STOP:COUNT[:log], got {text!r}")
        try:
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise SgdDiagramsError(f"{option} range must be START:STOP:COUNT[:log] with numbers and an integer "
                                   f"COUNT, got {text!r}") from None
        if not (math.isfinite(start) and math.isfinite(stop)) or count < 1 or count > MAX_AXIS_VALUES:
            raise SgdDiagramsError(f"{option}: COUNT must be 1..{MAX_AXIS_VALUES} and the ends finite, got {text!r}")
        if log and (start <= 0 or stop <= 0):
            raise SgdDiagramsError(f"{option}: a log range needs START and STOP > 0, got {text!r}")
        values = np.geomspace(start, stop, count) if log else np.linspace(start, stop, count)
    else:
        from .errors import parse_numbers

        values = np.asarray(parse_numbers(text, option), dtype=np.float64)
        if len(values) > MAX_AXIS_VALUES:
            raise SgdDiagramsError(f"{option} has {len(values)} values; at most {MAX_AXIS_VALUES}")
    if not np.all(np.isfinite(values)):
        raise SgdDiagramsError(f"{option} values must be finite numbers")
    if integer:
        rounded = np.round(values)
        if np.any(np.abs(values - rounded) > 1e-9 * np.maximum(1.0, np.abs(values))) or np.any(rounded < 1):
            raise SgdDiagramsError(f"{option} values must be positive whole numbers, got {text!r}")
        values = rounded
    if len(np.unique(values)) != len(values):
        raise SgdDiagramsError(f"{option} lists a value twice ({text!r}); give distinct values")
    return values


def vary_schedule(base: Schedule, axis: str, value: float) -> Schedule:
    """``base`` with one choice changed: B (same E), E (same B) for SGD schedules, or momentum β.

    Momentum uses ``Schedule.with_momentum(β)`` (PyTorch's heavy-ball convention); a base schedule's
    momentum is kept when B or E change.  Per-step learning-rate multipliers are tied to T, so changing B
    or E of a schedule that carries them is refused (pass ``make_schedule`` to :func:`whatif` instead).
    """
    if axis == "momentum":
        return base.with_momentum(float(value))
    if axis not in AXES:
        raise SgdDiagramsError(f"unknown what-if axis {axis!r}; use one of {', '.join(AXES)}")
    desc = base.description
    if not {"N", "B", "E"} <= set(desc) or desc.get("explicit") or desc.get("gd"):
        raise SgdDiagramsError(f"varying {axis} needs an SGD schedule (sgd:N=..,B=..,E=..), got {base!r}")
    lr = base.lr
    if lr is not None and len(lr) and not np.allclose(np.asarray(lr, dtype=np.float64), 1.0):
        raise SgdDiagramsError(f"per-step learning-rate multipliers are tied to T; varying {axis} changes T: "
                               "give a schedule builder (make_schedule=..., or --lr-schedule on the command line)")
    N, B, E = int(desc["N"]), int(desc["B"]), int(desc["E"])
    if axis == "batch":
        B = int(value)
    else:
        E = int(value)
    if is_shuffle_average(base):
        out = sgd_reshuffled(N, B, E)
    else:
        out = sgd(N, B, E, desc.get("shuffle_seed"))
    if base.momentum:
        out = out.with_momentum(base.momentum)
    return out


def whatif_seconds(stats, schedules: Sequence[Schedule], order: int, quantities: Sequence[str]) -> float:
    """Estimated seconds of a what-if grid: per row and quantity, 2 orders × R replications of one series.

    A series costs its history sweeps (:func:`~sgd_diagrams.schedules.histories.history_seconds`) where
    counts are not closed forms, else ~20 µs per diagram (``benchmarks/bench_whatif.py``).
    """
    total = 0.0
    for schedule in schedules:
        closed = structured_family(schedule) is not None or is_shuffle_average(schedule)
        for name in quantities:
            q = quantity_of(name)
            diagrams = [d for k in range(order + 1) for d in q.diagrams(k)]
            per = 2e-5 * len(diagrams) + (0.0 if closed else history_seconds(diagrams, schedule))
            total += 2 * stats.replications * per
    return total


def _check_request(stats, axis: str, eta: Any) -> tuple[Any, np.ndarray]:
    """The measured values, a known axis and valid learning rates (the checked η), or a one-line error."""
    values = measured_values(stats)
    if values is None:
        raise SgdDiagramsError("whatif needs measured statistics: sd.measure(landscape, order, samples=K) or "
                               "sd.load_statistics(path)")
    if axis not in AXES:
        raise SgdDiagramsError(f"unknown what-if axis {axis!r}; use one of {', '.join(AXES)}")
    return values, check_etas(eta)


def whatif(stats, base: Schedule, order: int, eta: Any, axis: str, values: Sequence[float], *,
           quantities: Sequence[str] = ("test-loss", "gen-gap"),
           make_schedule: Callable[[float], Schedule] | None = None, rtol: float | None = None,
           sampling: Sampling | None = None, execution: Execution | None = None, **legacy: Any) -> WhatIf:
    """Map E[quantity] ± stderr over ``values`` (rows: B, E or β per ``axis``) × ``eta`` (columns).

    ``stats``: saved diagram values (:func:`sgd_diagrams.measure` / :func:`sgd_diagrams.load_statistics`).
    Row schedules are ``make_schedule(value)`` when given, else :func:`vary_schedule` of ``base``.  Every
    cell equals ``sd.predict(stats, row_schedule, order, eta, quantity)``; ``trusted`` is explained in the
    module docstring.  Grids over :data:`~sgd_diagrams.limits.MAX_WHATIF_CELLS` cells are refused, and so
    are grids estimated beyond the time budget unless ``force``.  ``execution=sd.Execution(progress=, force=)``
    as in :func:`~sgd_diagrams.predict` (``force=`` / ``progress=`` keywords still work, with a
    ``DeprecationWarning``); the statistics fix the sampling, so ``sampling=`` must be left out or empty.
    """
    from .io import progress_bar

    sampling, execution, _ = split_legacy("whatif", sampling, execution, legacy, ())
    if sampling != Sampling():
        raise SgdDiagramsError("the statistics already fix samples, seed and replications; drop sampling=")
    force, progress = execution.force, execution.progress
    stats, etas = _check_request(stats, axis, eta)
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    if vals.size == 0 or not np.all(np.isfinite(vals)):
        raise SgdDiagramsError(f"the {axis} values must be a non-empty list of finite numbers")
    cells = vals.size * etas.size
    if cells > MAX_WHATIF_CELLS:
        raise SgdDiagramsError(f"a {vals.size} x {etas.size} grid has {cells} cells (limit {MAX_WHATIF_CELLS:.0e}); "
                               "use fewer eta or axis values")
    if axis == "momentum" and np.any((vals < 0) | (vals >= 1)):
        raise SgdDiagramsError("momentum values must lie in [0, 1)")
    if isinstance(quantities, str):
        quantities = (quantities,)
    quantities = tuple(dict.fromkeys(quantities))
    if not quantities:
        raise SgdDiagramsError("whatif needs at least one quantity: test-loss, train-loss or gen-gap")
    for q in quantities:
        if q not in ("test-loss", "train-loss", "gen-gap"):
            raise SgdDiagramsError(f"whatif maps test-loss, train-loss and gen-gap, not {q!r}")
        stats.require(q, order)
    build = make_schedule or (lambda v: vary_schedule(base, axis, v))
    schedules = [build(float(v)) for v in vals]
    check_work(whatif_seconds(stats, schedules, order, quantities), f"a {vals.size} x {etas.size} what-if grid "
               f"of order {order}", "use fewer rows or a lower order", force)
    shape = (vals.size, etas.size)
    value = {q: np.zeros(shape) for q in quantities}
    stderr = {q: np.zeros(shape) for q in quantities}
    trusted = {q: np.zeros(shape, dtype=bool) for q in quantities}
    bar = progress_bar(vals.size, "what-if grid", "rows", progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # untrusted cells are shaded, not warned about one by one
        for i, schedule in enumerate(schedules):
            for q in quantities:
                p = predict(stats, schedule, order, etas, q, rtol=rtol)
                value[q][i], stderr[q][i] = p.value, p.stderr
                trusted[q][i] = np.ones(etas.size, dtype=bool) if p.trusted is None else p.trusted
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    source = {"name": stats.name, "spec": stats.landscape.get("spec"), "samples": stats.samples, "seed": stats.seed,
              "replications": stats.replications, "order": stats.order, "estimator": stats.method}
    return WhatIf(axis, etas, vals, order, value, stderr, trusted, tuple(repr(s) for s in schedules),
                  stats.lambda_max, source, DEFAULT_RTOL if rtol is None else float(rtol))


# -- whatif --curve: one predicted training curve per setting of the varied knob ------------
@dataclass(frozen=True, eq=False)
class WhatIfCurves:
    """One predicted curve per row value: ``predictions[i]`` is ``sd.predict(stats, schedules[i], order, eta,
    quantity, steps=...)`` (value, stderr and trusted indexed [step][eta], one η)."""

    axis: str
    eta: float
    values: np.ndarray
    quantity: str
    order: int
    predictions: tuple[Any, ...]
    schedules: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"axis": self.axis, "eta": self.eta, "values": self.values.tolist(), "quantity": self.quantity,
                "order": self.order, "schedules": list(self.schedules),
                "curves": [p.to_json() for p in self.predictions]}

    def save_json(self, path: str | Path) -> None:
        atomic_write_text(path, dumps(self.to_json()) + "\n")

    def plot(self, path: str | Path) -> None:
        """One line per setting over the step t (±1.96 stderr bands; a setting's untrusted steps drawn dashed)."""
        from .curve_plots import PredictedCurve, draw_curves
        from .plots import new_figure, plain_label, save_laid_out

        fig, (ax,) = new_figure(1, width=6.8, height=4.4)
        curves = []
        for v, p in zip(self.values, self.predictions, strict=True):
            curves.append(PredictedCurve(plain_label(f"{AXIS_SYMBOLS[self.axis]} = {v:g}"), p.steps,
                                         np.asarray(p.value)[:, 0], np.asarray(p.stderr)[:, 0], None,
                                         None if p.trusted is None else np.asarray(p.trusted)[:, 0]))
        draw_curves(ax, curves, [], eta=self.eta, ylabel=f"E[{self.quantity}]",
                    title=f"what if: order-{self.order} Taylor curves, one per {self.axis} (η = {self.eta:g})")
        try:
            save_laid_out(fig, path)
        finally:
            fig.clear()


def whatif_curves(stats, base: Schedule, order: int, eta: Any, axis: str, values: Sequence[float], *,
                  quantity: str = "test-loss", every: int | None = None,
                  make_schedule: Callable[[float], Schedule] | None = None, rtol: float | None = None,
                  execution: Execution | None = None, **legacy: Any) -> WhatIfCurves:
    """One predicted curve (every step, or every ``every``-th) per value of ``axis`` (B, E or β), at one η.

    ``execution=sd.Execution(force=)`` as in :func:`whatif` (``force=`` still works, with a warning)."""
    _, execution, _ = split_legacy("whatif_curves", None, execution, legacy, ())
    force = execution.force
    stats, etas = _check_request(stats, axis, eta)
    if etas.size != 1:
        raise SgdDiagramsError(f"a what-if curve is drawn at one learning rate; give one eta, got {etas.size}")
    if quantity not in ("test-loss", "train-loss", "gen-gap"):
        raise SgdDiagramsError(f"whatif maps test-loss, train-loss and gen-gap, not {quantity!r}")
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    if vals.size == 0 or vals.size > 12 or not np.all(np.isfinite(vals)):
        raise SgdDiagramsError(f"a what-if curve figure takes 1 to 12 finite {axis} values, got {vals.size}")
    build = make_schedule or (lambda v: vary_schedule(base, axis, v))
    schedules = [build(float(v)) for v in vals]
    check_work(whatif_seconds(stats, schedules, order, [quantity]), f"{vals.size} what-if curves of order {order}",
               "use fewer values or a lower order", force)
    preds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # untrusted steps are drawn dashed, not warned about
        for s in schedules:
            steps = "all" if every is None else list(range(0, s.T + 1, every))
            preds.append(predict(stats, s, order, etas, quantity, rtol=rtol, steps=steps))
    return WhatIfCurves(axis, float(etas[0]), vals, quantity, order, tuple(preds), tuple(repr(s) for s in schedules))
