"""Pictures of diagrams and histories, drawn as seed 001 draws them.

:mod:`.layout` (node positions) and :mod:`.history` (finding a history;
checking one is :func:`sgd_diagrams.schedules.histories.check_history`,
re-exported here) need only numpy; :mod:`.render` and :mod:`.gallery` need matplotlib
(``pip install 'sgd-diagrams[plot]'``) and are imported on first use.
"""

from __future__ import annotations

from typing import Any

from ..schedules.histories import History, check_history
from .filenames import picture_filename
from .history import auto_history, parse_history
from .layout import Layout, diagram_layout

__all__ = [
    "History",
    "Layout",
    "auto_history",
    "check_history",
    "diagram_layout",
    "draw_diagram",
    "draw_gallery",
    "draw_history",
    "parse_history",
    "picture_filename",
]


def _render():
    try:
        from . import render
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from ..errors import SgdDiagramsError

        raise SgdDiagramsError(
            f"drawing needs matplotlib ({exc.name} is missing); install it with pip install 'sgd-diagrams[plot]'"
        ) from None
    return render


def draw_diagram(d: Any, path: Any, **kwargs: Any):
    """Draw a diagram to ``path`` (.svg or .png); see :func:`sgd_diagrams.drawing.render.draw_diagram`."""
    return _render().draw_diagram(d, path, **kwargs)


def draw_history(d: Any, schedule: Any, history: Any, path: Any, **kwargs: Any):
    """Draw a history in its grid; see :func:`sgd_diagrams.drawing.render.draw_history`."""
    return _render().draw_history(d, schedule, history, path, **kwargs)


def draw_gallery(edges: int, kind: str, outdir: Any, **kwargs: Any):
    """Draw every diagram up to ``edges`` edges plus ``index.md``; see :mod:`sgd_diagrams.drawing.gallery`."""
    _render()
    from .gallery import draw_gallery as _draw_gallery

    return _draw_gallery(edges, kind, outdir, **kwargs)
