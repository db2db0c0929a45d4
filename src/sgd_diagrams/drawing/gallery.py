"""A gallery: one picture per diagram and an ``index.md`` table (seed 001 App. A.3 lists them).

:func:`draw_gallery` draws every diagram of a kind with at most ``edges``
edges (0 edges included) into a directory, named by
:func:`~sgd_diagrams.drawing.filenames.picture_filename`, and writes
``index.md`` with notation, edges, parts, |Aut(D)|, the value in the paper's
index notation and the picture.  :func:`draw_pictures` draws a given list of
diagrams (used by coefficient tables with pictures).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..diagrams import KINDS, Diagram, enumerate_diagrams
from ..diagrams.value_names import value_latex
from ..errors import SgdDiagramsError
from .filenames import picture_filename
from .render import SUFFIXES, diagram_figure, save_figure

__all__ = ["draw_gallery", "draw_pictures", "MAX_GALLERY_EDGES"]

MAX_GALLERY_EDGES = 5


def _prepare_dir(outdir: str | Path) -> Path:
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise SgdDiagramsError(f"{out} is a file; give a directory for the pictures")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SgdDiagramsError(f"cannot create directory {out}: {exc.strerror}") from None
    return out


def draw_pictures(diagrams: Iterable[Diagram], outdir: str | Path, suffix: str = ".png") -> dict[Diagram, Path]:
    """Draw each diagram to ``outdir/<picture_filename>``; returns {diagram: path}."""
    return {d: path for d, (path, _) in _draw_all(diagrams, outdir, suffix).items()}


def _draw_all(diagrams: Iterable[Diagram], outdir: str | Path, suffix: str) -> dict[Diagram, tuple[Path, float]]:
    """{diagram: (path, figure width in inches)}."""
    if suffix not in SUFFIXES:
        raise SgdDiagramsError(f"picture format {suffix!r} is not supported; use .png or .svg")
    out = _prepare_dir(outdir)
    drawn = {}
    for d in diagrams:
        fig = diagram_figure(d)
        drawn[d] = (save_figure(fig, out / picture_filename(d, suffix)), float(fig.get_size_inches()[0]))
    return drawn


_PIXELS_PER_INCH_IN_INDEX = 80  # one scale for every picture in index.md


def draw_gallery(edges: int, kind: str, outdir: str | Path, suffix: str = ".png") -> Path:
    """Draw every ``kind`` diagram with ≤ ``edges`` edges into ``outdir``; write and return ``index.md``."""
    if isinstance(edges, bool) or not isinstance(edges, int) or edges < 0:
        raise SgdDiagramsError(f"edges must be a non-negative integer, got {edges!r}")
    if edges > MAX_GALLERY_EDGES:
        raise SgdDiagramsError(f"a gallery up to {edges} edges is too large; use at most {MAX_GALLERY_EDGES}")
    if kind not in KINDS:
        raise SgdDiagramsError(f"unknown diagram kind {kind!r}; use one of {', '.join(KINDS)}")
    diagrams = [d for k in range(edges + 1) for d in enumerate_diagrams(k, kind)]
    drawn = _draw_all(diagrams, outdir, suffix)
    root = "displacement" if kind == "displacement" else "loss"
    lines = [
        f"# {kind.capitalize()} diagrams with at most {edges} edges",
        "",
        f"{len(diagrams)} diagrams, drawn by `sgd-diagrams draw --all --edges {edges} --kind {kind}`: "
        "children left of parents, the root rightmost (black when alone in its part), "
        "one colour per part, fuzzy outlines around parts of two or more nodes (seed 001 App. A).",
        "",
        "| notation | edges | parts | \\|Aut\\| | value | picture |",
        "|---|---|---|---|---|---|",
    ]
    for d in diagrams:
        value = value_latex(d, root)
        path, inches = drawn[d]
        lines.append(
            f"| `{d}` | {d.n_edges} | {d.n_parts} | {d.automorphisms} | ${value}$ "
            f'| <img src="{path.name}" alt="{d}" width="{round(inches * _PIXELS_PER_INCH_IN_INDEX)}"> |'
        )
    index = Path(outdir) / "index.md"
    try:
        index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SgdDiagramsError(f"cannot write {index}: {exc.strerror}") from None
    return index
