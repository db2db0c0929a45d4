"""Per-trial simulation for the artificial reproductions (HELIX, GAUSS, CubicChi).

The public :func:`sgd_diagrams.simulate` reports each optimizer's metrics at chosen steps; the
reproductions of seed 001's artificial landscapes need per-trial functions of whole trajectories
(a velocity over a window of steps, the winding of a loop, the paired difference of two landscapes fed
the *same* data).  :func:`trajectories` runs one optimizer on the training sets that
:func:`sgd_diagrams.optimizers.trials.simulate_chunk` would draw for the same seed and chunk (so runs
are paired across optimizers, η and landscapes of one data type), and :func:`chunked_moments` reduces
per-trial values chunk by chunk to mergeable moments, each chunk saved with
:meth:`~.base.Context.cached` so that a killed run resumes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import Context

__all__ = ["chunked_moments", "coefficient_panel", "readable_log_ticks", "training_rows", "trajectories",
           "z_score"]


def training_rows(landscape: Any, trials: int, N: int, seed: int, chunk_index: int) -> Any:
    """The training sets (trials, N, …) of chunk ``chunk_index`` — the stream ``simulate_chunk`` uses."""
    import torch

    from ...optimizers.trials import _seed

    gen = torch.Generator().manual_seed(_seed(seed, chunk_index))
    return landscape.sample_training_sets(gen, trials, N)


def trajectories(landscape: Any, schedule: Any, optimizer: str, eta: float, rows: Any, seed: int,
                 chunk_index: int, record_steps: Sequence[int], substeps: int = 16) -> dict[int, np.ndarray]:
    """θ (trials, dim) after each of ``record_steps`` updates of ``optimizer`` on the training sets ``rows``.

    An optimizer's own noise (SDE) comes from the stream ``simulate_chunk`` gives it for this seed and chunk.
    """
    import torch

    from ...optimizers import make_optimizer
    from ...optimizers.trials import _seed, run_trials

    opt = make_optimizer(optimizer, substeps=substeps)
    noise = torch.Generator().manual_seed(_seed(seed, chunk_index, zlib.crc32(opt.name.encode())))
    stepper = opt.bind(landscape, schedule, float(eta))
    out = run_trials(stepper, rows, sorted(set(record_steps)), noise)
    return {step: th.detach().to(torch.float64).cpu().numpy() for step, th in out.items()}


def chunked_moments(ctx: Context, key: str, trials: int, chunk: int,
                    compute: Callable[[int, int], dict[str, np.ndarray]],
                    tick: Callable[[int], None] | None = None) -> dict[str, dict[str, Any]]:
    """Mean, SEM and 95% CI of each per-trial value ``compute(chunk_index, size)`` returns, over ``trials``.

    Each chunk's moments are cached under ``key`` (resumable); ``tick(size)`` reports progress.
    """
    from ...optimizers.statistics import Moments
    from ...optimizers.trials import chunk_sizes

    merged: dict[str, Moments] = {}
    for c, size in enumerate(chunk_sizes(trials, chunk)):
        def one(c: int = c, size: int = size) -> dict[str, Any]:
            return {name: Moments.from_values(np.asarray(v, dtype=np.float64)).to_json()
                    for name, v in compute(c, size).items()}

        stored = ctx.cached(f"{key}|chunk={c}|size={size}|seed={ctx.seed}", one)
        for name, obj in stored.items():
            m = Moments.from_json(obj)
            merged[name] = merged[name].merge(m) if name in merged else m
        if tick is not None:
            tick(size)
    return {name: m.summary() for name, m in merged.items()}


def z_score(value: float, reference: float, sem: float, floor: float = 1e-300) -> float:
    """|value − reference| in units of the standard error (the verdicts' rule: < 3 agrees)."""
    return float(abs(value - reference) / max(float(sem), floor))


def new_figure(ncols: int = 1, width: float = 6.0, height: float = 4.2) -> tuple[Any, list[Any]]:
    """A matplotlib figure (no display) with ``ncols`` panels, at most two per row (:func:`save_report_figure`
    makes each row tall enough for the report page); needs the 'plot' extra."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        from ...errors import SgdDiagramsError

        raise SgdDiagramsError("figures need matplotlib: pip install -c constraints.txt 'sgd-diagrams[plot]'") from None
    cols = min(ncols, 2)
    rows = -(-ncols // cols)
    fig = Figure(figsize=(width * cols, height * rows))
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(ncols)]
    return fig, axes


def legends_below(fig: Any) -> None:
    """Move every axes' legend under its axes (outside the data), in two columns."""
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        labels = [t.get_text() for t in leg.get_texts()]  # the entries and order the caller chose
        own = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
        handles = [own.get(label, proxy) for label, proxy in zip(labels, leg.legend_handles, strict=True)]
        size = min(float(leg.get_texts()[0].get_fontsize()) if leg.get_texts() else 8.0, 8.0)
        leg.remove()
        wide = ax.get_position().width * fig.get_figwidth() >= 3.5  # inches
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2 if wide else 1,
                  fontsize=size, frameon=False)


#: Each row of panels is at least this fraction of the figure's width tall, so that in the report page (figures
#: shown ≈ 990 px wide at a 1280-px window) every row of panels is ≥ 0.55·990 ≈ 545 px tall (legend included).
ROW_HEIGHT_PER_WIDTH = 0.55
FIGURE_DPI = 220


def panel_rows(fig: Any) -> int:
    """Rows of visible panels (subplots) of ``fig``: distinct rows their grid cells start in."""
    starts = {ax.get_subplotspec().rowspan.start for ax in fig.axes
              if ax.get_visible() and ax.get_subplotspec() is not None}
    return max(len(starts), 1)


def save_report_figure(fig: Any, path: Any) -> str:
    """Legends under their axes, rows of panels at least :data:`ROW_HEIGHT_PER_WIDTH` of the width tall, laid
    out, written as PNG at 2× (220 dpi) atomically; the file name.

    The PNG carries its layout as text chunks (``panel-rows``, ``min-axes-fraction``: the smallest data area's
    height over the image's height) so that a test can measure each panel's height as rendered in the page.
    """
    import io

    from PIL import Image

    from ...io import atomic_write

    legends_below(fig)
    rows = panel_rows(fig)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, max(height, ROW_HEIGHT_PER_WIDTH * width * rows))
    fig.set_layout_engine("constrained")
    probe = io.BytesIO()
    fig.savefig(probe, dpi=FIGURE_DPI, format="png", bbox_inches="tight")
    image_inches = Image.open(io.BytesIO(probe.getvalue())).size[1] / FIGURE_DPI
    panels = [ax.get_position().height * fig.get_figheight() for ax in fig.axes
              if ax.get_visible() and ax.get_subplotspec() is not None]
    meta = {"panel-rows": str(rows), "min-axes-fraction": f"{min(panels, default=0.0) / image_inches:.4f}"}
    atomic_write(path, lambda fh: fig.savefig(fh, dpi=FIGURE_DPI, format="png", bbox_inches="tight", metadata=meta))
    return Path(path).name


def errorbars(ax: Any, x: Sequence[float], summaries: Sequence[dict[str, Any]], label: str, scale: float = 1.0,
              offset: float = 0.0, **kw: Any) -> None:
    """Simulated means with their 95% CIs (mean ± 1.96 SEM), at x·(1 + offset) to keep markers apart."""
    from ...optimizers.statistics import Z95

    xs = np.asarray(x, dtype=np.float64) * (1.0 + offset)
    mean = np.array([s["mean"] for s in summaries], dtype=np.float64) * scale
    half = np.array([Z95 * s["sem"] for s in summaries], dtype=np.float64) * scale
    ax.errorbar(xs, mean, yerr=half, fmt=kw.pop("fmt", "o"), capsize=3, label=label, **kw)


def eta_t_axis(ax: Any, T: int, log_values: Sequence[float] | None = None, min_ratio: float = 1.3) -> None:
    """A top axis reading ηT for a bottom axis of η (on a log axis, ticks at ``log_values``·T, see
    :func:`readable_log_ticks`)."""
    top = ax.secondary_xaxis("top", functions=(lambda e: e * T, lambda et: et / T))
    top.set_xlabel(f"ηT (T = {T})")
    if log_values is not None:
        readable_log_ticks(top, [v * T for v in log_values], min_ratio)


def readable_log_ticks(ax: Any, values: Sequence[float], min_ratio: float = 1.3) -> None:
    """Label a log x axis only at ``values`` (plain numbers, e.g. 0.015), dropping any within ``min_ratio`` of
    the previous label so that labels never overlap; minor ticks stay unlabelled."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ticks: list[float] = []
    for v in sorted({float(v) for v in values if v > 0}):
        if not ticks or v / ticks[-1] >= min_ratio:
            ticks.append(v)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def coefficient_panel(ax: Any, entries: Sequence[tuple[str, float, float]], ylabel: str, title: str) -> None:
    """What a verdict on a fitted coefficient rests on: each (label, value, half-width of its 95% CI) as a
    point with its interval, the measured one first (C3), predictions after (C0), and 0 for reference."""
    for k, (_label, value, half) in enumerate(entries):
        ax.errorbar([k], [value], yerr=[half], fmt="s" if k == 0 else "o", ms=7, capsize=6,
                    color="C3" if k == 0 else "C0")
    ax.set_xticks(range(len(entries)), [e[0] for e in entries], fontsize=8)
    ax.set_xlim(-0.5, len(entries) - 0.5)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)


def save(fig: Any, path: Any) -> str:
    """Write ``fig`` as a PNG at ``path`` atomically; return the file name (relative to the output folder)."""
    return save_report_figure(fig, path)
