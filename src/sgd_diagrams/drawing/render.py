"""Pictures of diagrams and histories in the style of seed 001's figures (matplotlib, no display).

Seed 001 draws a diagram as coloured dots joined by thin edges, children left
of parents and the root rightmost, with a *fuzzy outline* tying together the
nodes of one part (Figs. 1, 2, 4; App. A "How to identify the relevant
diagram histories"), and draws a history by placing those nodes in the shaded
cells of the N×T grid, rows = training points, columns = steps (Figs. 9–11).

Conventions here:

* each part gets one colour; a root alone in its part (test loss) is black and
  a little larger; a train root that shares its part wears its part's colour
  with a black ring;
* a part with two or more nodes gets a soft glow: translucent discs around its
  nodes and translucent bands joining them, each drawn several times with
  decreasing width so the overlaps build a blurred outline (SVG has no blur we
  can rely on, so the blur is layered transparency); a band bends away when a
  node of another part lies on the straight path;
* edges are thin black lines from child to parent.

Figures are :class:`matplotlib.figure.Figure` objects built without pyplot, so
no display or global backend is needed; :func:`save_figure` picks the format
from the file suffix (``.svg`` or ``.png``).  Every node is a circle patch with
SVG id ``node-<v>`` (v in the canonical labelling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from ..diagrams import Diagram, parse
from ..errors import SgdDiagramsError
from ..schedules.grid import Schedule, require_concrete
from .history import auto_history, check_history
from .layout import diagram_layout

__all__ = [
    "Style",
    "PALETTE",
    "part_colors",
    "diagram_figure",
    "history_figure",
    "save_figure",
    "draw_diagram",
    "draw_history",
]

PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2")
SUFFIXES = (".svg", ".png")


@dataclass(frozen=True)
class Style:
    """Sizes in layout units (one unit = one generation of the tree, or one grid cell)."""

    inches_per_unit: float = 0.75
    node_radius: float = 0.11
    root_radius: float = 0.14
    edge_width_pt: float = 1.1
    fuzz_radius: float = 0.34
    fuzz_band: float = 0.46
    fuzz_layers: int = 7
    fuzz_alpha: float = 0.07
    margin: float = 0.5
    dpi: int = 200


DIAGRAM_STYLE = Style()
HISTORY_STYLE = Style(inches_per_unit=0.36, node_radius=0.16, root_radius=0.2, edge_width_pt=1.0,
                      fuzz_radius=0.42, fuzz_band=0.5, margin=0.6)


def _as_diagram(d: Diagram | str) -> Diagram:
    if isinstance(d, Diagram):
        return d
    if isinstance(d, str):
        return parse(d)
    raise SgdDiagramsError("expected a Diagram or its notation, e.g. 'r(a(b))'")


def part_colors(d: Diagram) -> tuple[str, ...]:
    """One colour per part, in canonical part order: black for a lone root, then the palette."""
    colors = []
    k = 0
    for p in range(d.n_parts):
        if p == d.parts[0] and d.root_alone:
            colors.append("#111111")
        else:
            colors.append(PALETTE[k % len(PALETTE)])
            k += 1
    return tuple(colors)


# -- primitives ------------------------------------------------------------------------------------
def _points_per_unit(style: Style) -> float:
    return style.inches_per_unit * 72.0


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0.0, 1.0))
    return float(np.linalg.norm(a + t * ab - p))


def _tie_path(a: np.ndarray, b: np.ndarray, obstacles: Sequence[np.ndarray], clearance: float) -> MplPath:
    """A straight segment a→b, or a quadratic arc bending away from nodes lying on the segment."""
    blocked = [o for o in obstacles if _segment_distance(o, a, b) < clearance]
    if not blocked:
        return MplPath([a, b], [MplPath.MOVETO, MplPath.LINETO])
    mid = (a + b) / 2
    direction = b - a
    normal = np.array([-direction[1], direction[0]]) / max(np.linalg.norm(direction), 1e-9)
    best = None
    for sign in (-1.0, 1.0):
        for bulge in (0.5, 0.8, 1.2, 1.8):
            ctrl = mid + sign * bulge * normal * 2  # the curve's apex is halfway to the control point
            ts = np.linspace(0, 1, 25)[:, None]
            curve = (1 - ts) ** 2 * a + 2 * (1 - ts) * ts * ctrl + ts**2 * b
            gap = min((np.min(np.linalg.norm(curve - o, axis=1)) for o in obstacles), default=np.inf)
            score = (gap >= clearance, -bulge if gap >= clearance else gap)
            if best is None or score > best[0]:
                best = (score, ctrl)
    assert best is not None
    return MplPath([a, best[1], b], [MplPath.MOVETO, MplPath.CURVE3, MplPath.CURVE3])


def _draw_fuzz(ax, points: Sequence[np.ndarray], obstacles: Sequence[np.ndarray], color: str,
               style: Style, zorder: float = 1.0) -> list[np.ndarray]:
    """A blurred outline around one part: layered translucent discs and bands.

    Returns points whose bounding box (grown by the fuzz radius) contains the outline.
    """
    ppu = _points_per_unit(style)
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    pts = [points[i] for i in order]
    paths = [_tie_path(pts[i], pts[i + 1], obstacles, style.fuzz_band * 0.6) for i in range(len(pts) - 1)]
    for layer in range(style.fuzz_layers):
        f = 1.0 - layer / style.fuzz_layers  # from wide and faint to narrow
        for p in pts:
            ax.add_patch(Circle(p, style.fuzz_radius * f, facecolor=color, edgecolor="none",
                                alpha=style.fuzz_alpha, zorder=zorder))
        for path in paths:
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=color, alpha=style.fuzz_alpha,
                                   linewidth=2 * style.fuzz_band * f * ppu, capstyle="round",
                                   joinstyle="round", zorder=zorder))
    extent = list(pts)
    for path in paths:
        ts = np.linspace(0, 1, 25)[:, None]
        v = path.vertices
        curve = v[[0]] + 0 * ts if len(v) == 2 else (1 - ts) ** 2 * v[0] + 2 * (1 - ts) * ts * v[1] + ts**2 * v[2]
        extent.extend(curve)
    return extent


def _draw_node(ax, v: int, xy: np.ndarray, color: str, radius: float, ring: bool = False) -> None:
    patch = Circle(xy, radius, facecolor=color, edgecolor="#111111" if ring else color,
                   linewidth=1.6 if ring else 0.6, zorder=4)
    patch.set_gid(f"node-{v}")
    ax.add_patch(patch)


def _draw_tree(ax, d, pos, colors, style) -> None:
    """Thin edges, then a dot per node (the root larger; ringed when it shares its part)."""
    for v in range(1, d.n_nodes):
        _draw_edge(ax, pos[v], pos[d.parents[v]], style)
    for v in range(d.n_nodes):
        root = v == 0
        _draw_node(ax, v, pos[v], colors[d.parts[v]], style.root_radius if root else style.node_radius,
                   ring=root and not d.root_alone)


def _draw_edge(ax, a: np.ndarray, b: np.ndarray, style: Style) -> None:
    ax.plot([a[0], b[0]], [a[1], b[1]], color="#222222", linewidth=style.edge_width_pt,
            solid_capstyle="round", zorder=3)


def _new_figure(width_units: float, height_units: float, style: Style) -> tuple[Figure, object]:
    w = max(width_units, 1.0) * style.inches_per_unit
    h = max(height_units, 1.0) * style.inches_per_unit
    fig = Figure(figsize=(w, h), dpi=style.dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    return fig, ax


# -- diagrams -----------------------------------------------------------------------------------------
def diagram_figure(d: Diagram | str, style: Style = DIAGRAM_STYLE, label: bool = False) -> Figure:
    """A picture of one diagram (see module docstring); ``label`` writes its notation underneath."""
    d = _as_diagram(d)
    layout = diagram_layout(d)
    pos = [np.array(p, dtype=float) for p in layout.positions]
    colors = part_colors(d)
    fig = Figure(dpi=style.dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    extent = list(pos)
    for p, members in enumerate(d.part_members):
        if len(members) >= 2:
            others = [pos[v] for v in range(d.n_nodes) if d.parts[v] != p]
            extent += _draw_fuzz(ax, [pos[v] for v in members], others, colors[p], style)
    xs = [p[0] for p in extent]
    ys = [p[1] for p in extent]
    pad = max(style.margin, style.fuzz_band + 0.05)
    x0, x1 = min(xs) - pad, max(xs) + pad
    y0, y1 = min(ys) - pad - (0.35 if label else 0.0), max(ys) + pad
    fig.set_size_inches((x1 - x0) * style.inches_per_unit, (y1 - y0) * style.inches_per_unit)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    _draw_tree(ax, d, pos, colors, style)
    if label:
        ax.text((x0 + x1) / 2, y0 + 0.12, str(d), ha="center", va="bottom", fontsize=8,
                family="monospace", color="#333333")
    return fig


# -- histories ------------------------------------------------------------------------------------------
def _cell_offsets(k: int) -> list[tuple[float, float]]:
    """Offsets inside a cell for k nodes sharing it: stacked vertically (same step), or on a ring."""
    if k == 1:
        return [(0.0, 0.0)]
    if k == 2:
        return [(0.0, 0.23), (0.0, -0.23)]
    angles = np.linspace(0, 2 * np.pi, k, endpoint=False) + np.pi / 2
    return [(0.27 * np.cos(a), 0.27 * np.sin(a)) for a in angles]


def history_figure(d: Diagram | str, schedule: Schedule, history: Mapping[int, tuple[int, int]] | None = None,
                   style: Style = HISTORY_STYLE, title: bool = True) -> Figure:
    """A history of ``d`` drawn in the grid (seed 001 Figs. 9–11): rows = points n, columns = steps t.

    Shaded cells are the grid's (n, t) pairs; each non-root node sits in its cell,
    a strip of bars above the grid shows the lr multipliers m_t when the schedule has them,
    the root sits outside the grid on the right; ``history=None`` picks one with
    :func:`~sgd_diagrams.drawing.history.auto_history`.
    """
    d = _as_diagram(d)
    if not isinstance(schedule, Schedule):
        raise SgdDiagramsError("history_figure needs a Schedule (see sgd_diagrams.schedules)")
    if schedule.N > 60 or schedule.T > 120:
        raise SgdDiagramsError(
            f"grid {schedule.N}x{schedule.T} is too large to draw legibly; use at most 60 points and 120 steps"
        )
    hist = auto_history(d, schedule) if history is None else check_history(d, schedule, history)
    N, T = schedule.N, schedule.T
    grid = schedule.grid()
    colors = part_colors(d)

    # node positions: cell centres, spread when several nodes share a cell
    by_cell: dict[tuple[int, int], list[int]] = {}
    for v in range(1, d.n_nodes):
        by_cell.setdefault(hist[v], []).append(v)
    pos: dict[int, np.ndarray] = {}
    for (n, t), vs in by_cell.items():
        for v, (dx, dy) in zip(vs, _cell_offsets(len(vs)), strict=True):
            pos[v] = np.array([t + 0.5 + dx, -(n + 0.5) + dy])
    root_x = T + 1.1
    if not d.root_alone:
        root_row = next(hist[v][0] for v in range(1, d.n_nodes) if d.parts[v] == d.parts[0])
        pos[0] = np.array([root_x, -(root_row + 0.5)])
    elif d.children[0]:
        pos[0] = np.array([root_x, float(np.mean([pos[c][1] for c in d.children[0]]))])
    else:
        pos[0] = np.array([root_x, -N / 2])

    head = 0.55 if title else 0.15
    strip = 0.8 if schedule.lr is not None else 0.0  # a bar per step: the lr multiplier m_t
    head += strip
    x0, x1 = -0.9, T + 1.8
    y0, y1 = -N - 0.75, head
    fig, ax = _new_figure(x1 - x0, y1 - y0, style)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    for n in range(N):
        for t in range(T):
            ax.add_patch(Rectangle((t, -(n + 1)), 1, 1, facecolor="#d4d4d4" if grid[n, t] else "white",
                                   edgecolor="#9a9a9a", linewidth=0.5, zorder=0))
    ax.add_patch(FancyBboxPatch((0, -N), T, N, boxstyle="square,pad=0", facecolor="none",
                                edgecolor="#555555", linewidth=0.9, zorder=0.5))
    step = 1 if T <= 24 else 5
    for t in range(0, T, step):
        ax.text(t + 0.5, -N - 0.25, str(t), ha="center", va="top", fontsize=5.5, color="#555555")
    rstep = 1 if N <= 24 else 5
    for n in range(0, N, rstep):
        ax.text(-0.2, -(n + 0.5), str(n), ha="right", va="center", fontsize=5.5, color="#555555")
    ax.text(-0.75, -N / 2, "n", ha="center", va="center", fontsize=7, color="#333333", style="italic")
    ax.text(T / 2, -N - 0.62, "t", ha="center", va="center", fontsize=7, color="#333333", style="italic")
    if strip:
        m = schedule.lr_multipliers()
        top = float(np.max(m)) or 1.0
        for t in range(T):
            ax.add_patch(Rectangle((t + 0.1, 0.1), 0.8, 0.6 * m[t] / top, facecolor="#8fb3d9",
                                   edgecolor="none", zorder=0))
        ax.text(-0.2, 0.4, "lr", ha="right", va="center", fontsize=5.5, color="#555555", style="italic")
    if title:
        ax.text(0, 0.12 + strip, f"{d}  in  {schedule!r}", ha="left", va="bottom", fontsize=6.5,
                family="monospace", color="#333333")

    for p, members in enumerate(d.part_members):
        if len(members) >= 2:
            others = [pos[v] for v in range(d.n_nodes) if d.parts[v] != p]
            _draw_fuzz(ax, [pos[v] for v in members], others, colors[p], style)
    _draw_tree(ax, d, pos, colors, style)
    return fig


# -- files -----------------------------------------------------------------------------------------------
def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as SVG or PNG according to the suffix of ``path``; returns the path."""
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        raise SgdDiagramsError(f"cannot write {p.name!r}: use a .svg or .png file name")
    if p.parent and not p.parent.exists():
        raise SgdDiagramsError(f"directory {p.parent} does not exist; create it first")
    fmt = p.suffix.lower()[1:]
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "sgd-diagrams", "svg.fonttype": "none"}):
        try:
            fig.savefig(p, format=fmt, metadata=metadata, facecolor="white")
        except OSError as exc:
            raise SgdDiagramsError(f"cannot write {p}: {exc.strerror}") from None
    return p


def draw_diagram(d: Diagram | str, path: str | Path, style: Style = DIAGRAM_STYLE, label: bool = False) -> Path:
    """Draw diagram ``d`` to ``path`` (``.svg`` or ``.png``)."""
    return save_figure(diagram_figure(d, style, label), path)


def draw_history(d: Diagram | str, schedule: Schedule, history: Mapping[int, tuple[int, int]] | None,
                 path: str | Path, style: Style = HISTORY_STYLE) -> Path:
    """Draw a history of ``d`` in ``schedule``'s grid to ``path``; ``history=None`` picks one."""
    require_concrete(schedule, "drawing a history")
    return save_figure(history_figure(d, schedule, history, style), path)
