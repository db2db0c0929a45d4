"""Theory bands beside simulation confidence intervals over a learning-rate sweep (seed 001 Fig. 6 style).

:func:`theory_vs_simulation` renders any ``sgd-diagrams simulate --eta a,b,c --out S.json`` result beside
one or more ``sgd-diagrams predict --eta … --json --out P.json`` predictions: simulated means with 95%
confidence intervals (I bars), each prediction as a line (with a ±1.96·stderr band when it was estimated
from samples), η on the x axis and ηT on a top axis — the figure the papers draw (seed 001 §Experiments:
"I bars, + signs, and shaded regions all mark 95% confidence intervals").

Both files are read as untrusted input: anything malformed is a one-line :class:`SgdDiagramsError`.
:func:`draw_sweep` is the drawing itself, reused by the reproductions.  Needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SgdDiagramsError
from .io import atomic_write, read_json_object, terminal_safe
from .limits import MAX_INPUT_BYTES

__all__ = ["Curve", "SimulatedSweep", "draw_sweep", "load_prediction", "load_simulation", "new_figure", "plain_label",
           "save_figure", "save_laid_out", "theory_vs_simulation"]

_METRICS = ("test-loss", "train-loss", "gen-gap", "displacement", "accuracy")


@dataclass(frozen=True)
class Curve:
    """One theory curve over η: ``value`` and, when estimated, ``stderr`` (else None)."""

    label: str
    eta: np.ndarray
    value: np.ndarray
    stderr: np.ndarray | None = None
    color: str | None = None
    style: str = "-"
    trusted: np.ndarray | None = None  # Taylor form: False where the prediction is outside its trust region


@dataclass(frozen=True)
class SimulatedSweep:
    """Simulated means and 95% CIs over η (``T`` steps per run; None when unknown)."""

    label: str
    eta: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    T: int | None = None
    color: str | None = None


def _read_json(source: Any, what: str) -> dict[str, Any]:
    if hasattr(source, "to_json") and not isinstance(source, (str, Path, Mapping)):  # a Prediction / Simulation
        source = source.to_json()
    if isinstance(source, Mapping):
        return dict(source)
    if not isinstance(source, (str, Path)):
        raise SgdDiagramsError(f"{what} must be a {what.capitalize()} object, its to_json() record or a file path, "
                               f"got {type(source).__name__}")
    return read_json_object(source, what, MAX_INPUT_BYTES)


def plain_label(text: Any) -> str:
    """``text`` shown literally by matplotlib: ``$`` escaped so a name from a file never reaches mathtext (where
    ``$\\frac$`` or an odd ``$`` would crash the figure), control characters shown as ``\\x..``, at most 200
    characters."""
    return terminal_safe(str(text))[:200].replace("$", r"\$")


def _number(x: Any, where: str, allow_none: bool = False) -> float | None:
    if x is None and allow_none:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(float(x)):
        raise SgdDiagramsError(f"{where} must be a finite number, got {str(x)[:40]!r}")
    return float(x)


def _numbers(xs: Any, where: str, n: int | None = None) -> np.ndarray:
    if not isinstance(xs, list) or not xs:
        raise SgdDiagramsError(f"{where} must be a non-empty list of numbers")
    if n is not None and len(xs) != n:
        raise SgdDiagramsError(f"{where} has {len(xs)} entries but the file has {n} learning rates")
    return np.array([_number(x, f"{where}[{i}]") for i, x in enumerate(xs)], dtype=np.float64)


def _pick_coordinate(v: Any, where: str, coordinate: int | None) -> Any:
    if isinstance(v, list):
        if coordinate is None:
            if len(v) != 1:
                raise SgdDiagramsError(f"{where} is a vector of {len(v)} coordinates; choose one with --coordinate")
            coordinate = 0
        if not 0 <= coordinate < len(v):
            raise SgdDiagramsError(f"--coordinate {coordinate} is out of range: {where} has {len(v)} coordinates")
        return v[coordinate]
    return v


def load_prediction(source: str | Path | Mapping[str, Any], coordinate: int | None = None,
                    label: str | None = None) -> tuple[str, Curve]:
    """(quantity, curve) from a ``predict --json`` record; one-line errors for anything malformed."""
    obj = _read_json(source, "prediction")
    quantity = obj.get("quantity")
    if not isinstance(quantity, str) or quantity not in _METRICS + ("test-loss-variance",):
        raise SgdDiagramsError(f"prediction file has no valid 'quantity' (got {str(quantity)[:40]!r}); "
                               "write it with sgd-diagrams predict --json --out P.json")
    eta = _numbers(obj.get("eta"), "prediction 'eta'")
    raw = obj.get("value")
    if not isinstance(raw, list):
        raise SgdDiagramsError("prediction 'value' must be a list with one entry per eta")
    value = _numbers([_pick_coordinate(v, "prediction 'value'", coordinate) for v in raw], "prediction 'value'",
                     len(eta))
    stderr = None
    if obj.get("stderr") is not None:
        raw_e = obj["stderr"]
        if not isinstance(raw_e, list):
            raise SgdDiagramsError("prediction 'stderr' must be a list with one entry per eta")
        stderr = _numbers([_pick_coordinate(v, "prediction 'stderr'", coordinate) for v in raw_e],
                          "prediction 'stderr'", len(eta))
    if label is None:
        form = obj.get("form") if isinstance(obj.get("form"), str) else "prediction"
        order = obj.get("order")
        label = f"{form[:60]} order {order}" if isinstance(order, int) and not isinstance(order, bool) else form[:60]
    trusted = obj.get("trusted")
    if trusted is not None:
        if not (isinstance(trusted, list) and len(trusted) == len(eta) and all(isinstance(t, bool) for t in trusted)):
            raise SgdDiagramsError("prediction 'trusted' must be a list of true/false, one per eta")
        trusted = np.array(trusted, dtype=bool)
    return quantity, Curve(plain_label(label), eta, value, stderr, trusted=trusted)


def _stat(block: Any, metric: str, where: str, coordinate: int | None) -> tuple[float, float, float] | None:
    if not isinstance(block, dict) or metric not in block:
        have = ", ".join(k for k in block if k in _METRICS) if isinstance(block, dict) else "none"
        raise SgdDiagramsError(f"simulation has no {metric!r} at {where} (it has: {have}); predict a quantity the "
                               "simulation measured")
    s = block[metric]
    if not isinstance(s, dict) or "mean" not in s or "ci95" not in s:
        raise SgdDiagramsError(f"simulation {metric!r} at {where} lacks 'mean'/'ci95'; pass a file written by "
                               "sgd-diagrams simulate")
    ci = s["ci95"]
    if isinstance(s["mean"], list):  # a vector metric: ci95 is one [low, high] per coordinate
        if not isinstance(ci, list) or len(ci) != len(s["mean"]):
            raise SgdDiagramsError(f"simulation {metric!r} 'ci95' at {where} must hold one [low, high] per "
                                   f"coordinate ({len(s['mean'])})")
        mean = _pick_coordinate(s["mean"], f"simulation {metric} mean", coordinate)
        ci = _pick_coordinate(ci, f"simulation {metric} ci95", coordinate)
    else:
        mean = s["mean"]
    if mean is None:  # no finite trials at this η
        return None
    if not isinstance(ci, list) or len(ci) != 2:
        raise SgdDiagramsError(f"simulation {metric!r} 'ci95' at {where} must be [low, high]")
    m = _number(mean, f"simulation {metric} mean at {where}")
    lo = _number(ci[0], f"simulation {metric} ci95 at {where}")
    hi = _number(ci[1], f"simulation {metric} ci95 at {where}")
    if not lo <= m <= hi:  # type: ignore[operator]
        raise SgdDiagramsError(f"simulation {metric!r} at {where} has mean {m:.6g} outside its 95% CI "
                               f"[{lo:.6g}, {hi:.6g}] (bounds swapped or edited); pass the file sgd-diagrams simulate "
                               "wrote")
    return m, lo, hi  # type: ignore[return-value]


def load_simulation(source: str | Path | Mapping[str, Any], metric: str, optimizer: str | None = None,
                    coordinate: int | None = None) -> SimulatedSweep:
    """The sweep of ``metric`` for ``optimizer`` (or a paired difference ``"b - a"``) from a simulate result.

    Accepts the printed ``--json`` result and the ``--out`` file (which wraps it with its chunks).
    """
    obj = _read_json(source, "simulation")
    if "result" in obj or "chunks" in obj:
        if obj.get("complete") is not True or not isinstance(obj.get("result"), dict):
            raise SgdDiagramsError("simulation file is unfinished (a killed run); rerun the same simulate command "
                                   "to finish it")
        obj = obj["result"]
    meta = obj.get("meta")
    if not isinstance(meta, dict):
        raise SgdDiagramsError("simulation file has no 'meta'; pass the file written by sgd-diagrams simulate")
    if "sweep" in obj:
        eta = _numbers(obj.get("eta"), "simulation 'eta'")
        blocks = obj["sweep"]
        if not isinstance(blocks, list) or len(blocks) != len(eta):
            raise SgdDiagramsError("simulation 'sweep' must hold one result per eta")
    else:
        eta = np.array([_number(meta.get("eta"), "simulation meta 'eta'")])
        blocks = [{k: v for k, v in obj.items() if k != "meta"}]
    T = meta.get("T")
    T = int(T) if isinstance(T, int) and not isinstance(T, bool) and T > 0 else None
    rows, label = [], optimizer
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise SgdDiagramsError(f"simulation sweep entry {i} must be an object")
        if "optimizers" in block:
            opts, diffs = block.get("optimizers"), block.get("differences", {})
            if not isinstance(opts, dict) or not opts or not isinstance(diffs, dict):
                raise SgdDiagramsError("simulation 'optimizers' must be a non-empty object (and 'differences' an "
                                       "object); pass the file written by sgd-diagrams simulate")
            groups = {**opts, **diffs}
            name = optimizer or next(iter(opts))
            if name not in groups:
                raise SgdDiagramsError(f"simulation has no optimizer {name!r}; choose one of {', '.join(groups)}")
            label, block = name, groups[name]
        elif optimizer is not None:
            names = meta.get("optimizers")
            if not (isinstance(names, list) and names == [optimizer]):
                raise SgdDiagramsError(f"simulation has no optimizer {optimizer!r}; it ran {names!r}")
        else:
            names = meta.get("optimizers")
            label = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else "simulation"
        rows.append(_stat(block, metric, f"eta={eta[i]:g}", coordinate))
    keep = [i for i, r in enumerate(rows) if r is not None]
    if not keep:
        raise SgdDiagramsError(f"simulation has no finite trials of {metric!r} at any eta; rerun with smaller eta")
    arr = np.array([rows[i] for i in keep], dtype=np.float64)
    trials = meta.get("trials")
    tail = f" ({trials} trials, 95% CI)" if isinstance(trials, int) and not isinstance(trials, bool) else " (95% CI)"
    return SimulatedSweep(plain_label(f"simulated {label}{tail}"), eta[keep], arr[:, 0], arr[:, 1], arr[:, 2], T)


def new_figure(panels: int = 1, width: float = 6.4, height: float = 4.4) -> tuple[Any, list[Any]]:
    """A matplotlib Figure (no pyplot, no display) with ``panels`` side-by-side axes."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SgdDiagramsError(f"plotting needs matplotlib ({exc.name} is missing); install it with "
                               "pip install 'sgd-diagrams[plot]'") from None
    fig = Figure(figsize=(width * panels, height))
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    return fig, axes


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (:func:`sgd_diagrams.io.atomic_write`)."""
    atomic_write(path, lambda fh: fig.savefig(fh, dpi=dpi, format="png"))
    return Path(path)


def save_laid_out(fig: Any, path: str | Path) -> str:
    """:func:`save_figure` after ``fig.tight_layout()``; the file's name (a reproduction's figure entry)."""
    fig.tight_layout()
    return save_figure(fig, path).name


def draw_sweep(ax: Any, simulations: Sequence[SimulatedSweep], curves: Sequence[Curve], *, T: int | None = None,
               ylabel: str = "", title: str = "", logx: bool | None = None, zero_line: bool | None = None) -> None:
    """Theory curves (bands where they carry a stderr) and simulated 95% CIs over η on ``ax``; ηT on top.

    ``zero_line``: draw y = 0 (default: only when the plotted values have both signs).
    """
    etas = np.concatenate([s.eta for s in simulations] + [c.eta for c in curves])
    if logx is None:
        logx = bool(etas.size and etas.min() > 0 and etas.max() / etas.min() > 20)
    marked = False
    for c in curves:
        order = np.argsort(c.eta)
        line, = ax.plot(c.eta[order], c.value[order], c.style, lw=1.6, label=c.label, color=c.color)
        if c.stderr is not None:
            ax.fill_between(c.eta[order], (c.value - 1.96 * c.stderr)[order], (c.value + 1.96 * c.stderr)[order],
                            color=line.get_color(), alpha=0.2)
        if c.trusted is not None and not np.all(c.trusted):
            bad = ~np.asarray(c.trusted, dtype=bool)
            ax.plot(c.eta[bad], c.value[bad], "x", ms=7, mew=1.6, color=line.get_color(), zorder=6,
                    label=None if marked else "x: outside the trust region")
            marked = True
    markers = "osD^v"
    for k, s in enumerate(simulations):
        ax.errorbar(s.eta, s.mean, yerr=[s.mean - s.low, s.high - s.mean], fmt=markers[k % len(markers)],
                    color=s.color or ("k" if k == 0 else None), ms=4, capsize=3, zorder=5, label=s.label)
    ys = np.concatenate([s.mean for s in simulations] + [c.value for c in curves])
    if zero_line is None:
        zero_line = bool(ys.size and ys.min() < 0 < ys.max())
    if zero_line:
        ax.axhline(0.0, color="0.75", lw=0.8, zorder=0)
    if logx:
        ax.set_xscale("log")
    horizon = T if T is not None else next((s.T for s in simulations if s.T), None)
    if horizon:
        top = ax.secondary_xaxis("top", functions=(lambda x, h=horizon: x * h, lambda x, h=horizon: x / h))
        top.set_xlabel(f"ηT  (T = {horizon})")
    ax.set_xlabel("learning rate η")
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def theory_vs_simulation(predictions: Any, simulation: Any, out_png: str | Path | None = None, *,
                         out: str | Path | None = None, optimizer: str | None = None, quantity: str | None = None,
                         coordinate: int | None = None, title: str | None = None, logx: bool | None = None) -> Path:
    """Render predictions beside a simulation as theory bands vs simulation CIs over η; returns the PNG's path.

    ``predictions``: one or more :class:`~sgd_diagrams.Prediction` objects, their ``to_json()`` records or
    ``predict --json --out`` files, all of one quantity; ``simulation``: a :class:`~sgd_diagrams.Simulation`,
    its ``to_json()`` record or a ``simulate`` result file (any shape it has written); ``out`` (or the third
    positional argument): the PNG.  ``optimizer`` picks one of the simulation's optimizers or paired
    differences (default its first); ``quantity`` (the simulated one) defaults to the predictions'; ``coordinate`` picks
    a displacement coordinate.  Taylor points outside their trust region are marked with an x.
    """
    if out_png is not None and out is not None and Path(out_png) != Path(out):
        raise SgdDiagramsError("give the figure's path once (out=...)")
    out_png = out if out is not None else out_png
    if out_png is None:
        raise SgdDiagramsError("say where to write the figure: theory_vs_simulation(prediction, simulation, "
                               "out='fig.png')")
    if isinstance(predictions, (str, Path, Mapping)) or hasattr(predictions, "to_json"):
        predictions = [predictions]
    if not isinstance(predictions, (list, tuple)) or not predictions:
        raise SgdDiagramsError("give a Prediction, its to_json() record or a prediction file (predict --json --out "
                               f"P.json), or a non-empty list of them; got {type(predictions).__name__}")
    loaded = [load_prediction(p, coordinate) for p in predictions]
    quantities = {q for q, _ in loaded}
    if len(quantities) > 1:
        raise SgdDiagramsError(f"predictions are of different quantities ({', '.join(sorted(quantities))}); "
                               "plot one quantity at a time")
    quantity = quantity or quantities.pop()
    if quantity not in _METRICS:
        raise SgdDiagramsError(f"simulations do not measure {quantity!r}; use one of {', '.join(_METRICS)}")
    sim = load_simulation(simulation, quantity, optimizer, coordinate)
    fig, (ax,) = new_figure()
    ylabel = quantity if coordinate is None else f"{quantity}[{coordinate}]"
    draw_sweep(ax, [sim], [c for _, c in loaded], ylabel=f"E[{ylabel}]", title=plain_label(title or ""), logx=logx)
    fig.tight_layout()
    return save_figure(fig, out_png)
