"""Render a :class:`~sgd_diagrams.theory.symbolic.SymbolicSeries` as text, LaTeX, Markdown, HTML or JSON.

Every format lists, per diagram, the coefficient of η^d · value(D) in Theorem 1
(seed 001 Prop 2 style).  Markdown and HTML tables can show a picture of each
diagram: pass ``pictures`` = {diagram: relative path of its image}.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

import sympy as sp

from ..diagrams import Diagram
from ..errors import SgdDiagramsError
from .symbolic import SymbolicSeries, SymbolicTerm, in_steps

__all__ = ["FORMATS", "format_series", "describe"]

FORMATS = ("text", "latex", "markdown", "html", "json")
PICTURE_HEIGHT_PX = 48  # pictures in tables share one height

_MEASURED = {
    "test-loss": ("E[l(θ_T)]", r"\mathbb{E}[l(\theta_T)]"),
    "train-loss": ("E[(1/N) Σ_n l_n(θ_T)]", r"\mathbb{E}[\tfrac{1}{N}\textstyle\sum_n l_n(\theta_T)]"),
    "gen-gap": (
        "E[l(θ_T) − (1/N) Σ_n l_n(θ_T)]",
        r"\mathbb{E}[l(\theta_T) - \tfrac{1}{N}\textstyle\sum_n l_n(\theta_T)]",
    ),
    "displacement": ("E[θ_T − θ_0]^μ", r"\mathbb{E}[\theta_T - \theta_0]^\mu"),
}


def describe(series: SymbolicSeries) -> str:
    """One line saying what the table is: quantity, schedule family, symbols."""
    if series.family == "sgd":
        sched = "in-order SGD on N points, batch size B, E epochs (T = E·N/B steps)"
    else:
        sched = "full-batch GD on N points for T steps"
    measured = _MEASURED[series.quantity][0]
    if series.fixed:
        sched += " with " + ", ".join(f"{k} = {v}" for k, v in series.fixed)
    return (
        f"{measured} for {sched}, to order η^{series.order}: "
        "Σ_D η^d · coefficient(D) · value(D); an upper index is contracted through η"
    )


def _coefficient(series: SymbolicSeries, term: SymbolicTerm, steps: bool) -> sp.Expr:
    return in_steps(term.coefficient, dict(series.fixed)) if steps else term.coefficient


def _both_forms(series: SymbolicSeries, steps: bool) -> bool:
    """Show the sgd coefficient both in (N, B, E) and in (N, B, T) unless one was asked for."""
    return series.family == "sgd" and not steps


def _text(series: SymbolicSeries, steps: bool) -> str:
    both = _both_forms(series, steps)
    rows = [("η^d", "diagram", "coefficient") + (("with T = E·N/B",) if both else ()) + ("value",)]
    for t in series.terms:
        row = (str(t.edges), t.notation, str(_coefficient(series, t, steps)))
        if both:
            row += (str(in_steps(t.coefficient, dict(series.fixed))),)
        rows.append(row + (t.name,))
    ncol = len(rows[0])
    widths = [max(len(r[i]) for r in rows) for i in range(ncol)]
    lines = [describe(series)]
    for i, r in enumerate(rows):
        lines.append("  ".join(r[j].ljust(widths[j]) for j in range(ncol - 1)) + "  " + r[-1])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _latex(series: SymbolicSeries, steps: bool) -> str:
    lines = [r"\begin{align*}", _MEASURED[series.quantity][1]]
    first = True
    for k in range(series.order + 1):
        terms = series.terms_of_order(k)
        if not terms:
            continue
        eta = "" if k == 0 else (r"\eta" if k == 1 else rf"\eta^{{{k}}}")
        body = " + ".join(
            rf"\left({sp.latex(_coefficient(series, t, steps))}\right) {t.latex_name}" for t in terms
        ).replace("+ -", "- ")
        lead = "&= " if first else "&\\quad + "
        lines.append(rf"{lead}{eta}\Big[{body}\Big] \\")
        first = False
    lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"


def _markdown(series: SymbolicSeries, steps: bool, pictures: Mapping[Diagram, str] | None) -> str:
    both = _both_forms(series, steps)
    head = ["η^d", "diagram"] + (["picture"] if pictures else []) + ["coefficient"]
    head += (["with T = E·N/B"] if both else []) + ["value"]
    lines = [f"_{describe(series)}_", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in series.terms:
        cells = [str(t.edges), f"`{t.notation}`"]
        if pictures:
            path = pictures.get(t.diagram)
            cells.append(f'<img src="{path}" alt="{t.notation}" height="{PICTURE_HEIGHT_PX}">' if path else "")
        cells.append(f"${sp.latex(_coefficient(series, t, steps))}$")
        if both:
            cells.append(f"${sp.latex(in_steps(t.coefficient, dict(series.fixed)))}$")
        cells.append(f"${t.latex_name}$")
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _html(series: SymbolicSeries, steps: bool, pictures: Mapping[Diagram, str] | None) -> str:
    head = ["η^d", "diagram"] + (["picture"] if pictures else []) + ["coefficient", "value"]
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>sgd-diagrams coefficients</title>',
        "<style>table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        f"td.pic img{{height:{PICTURE_HEIGHT_PX}px}}</style></head><body>",
        f"<p>{html.escape(describe(series))}</p>",
        "<table>",
        "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>",
    ]
    for t in series.terms:
        cells = [f"<td>{t.edges}</td>", f"<td><code>{html.escape(t.notation)}</code></td>"]
        if pictures:
            path = pictures.get(t.diagram)
            img = f'<img src="{html.escape(path)}" alt="{html.escape(t.notation)}">' if path else ""
            cells.append(f'<td class="pic">{img}</td>')
        cells.append(f"<td><code>{html.escape(str(_coefficient(series, t, steps)))}</code></td>")
        cells.append(f"<td>{html.escape(t.name)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</table>", "</body></html>"]
    return "\n".join(out) + "\n"


def format_series(
    series: SymbolicSeries,
    fmt: str = "text",
    pictures: Mapping[Diagram, str] | None = None,
    steps: bool = False,
) -> str:
    """The series in ``fmt`` (one of :data:`FORMATS`).

    ``steps=True`` writes ``sgd`` coefficients in T = E·N/B instead of E;
    ``pictures`` (Markdown/HTML only) maps diagrams to image paths.
    """
    if fmt not in FORMATS:
        raise SgdDiagramsError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if pictures and fmt not in ("markdown", "html"):
        raise SgdDiagramsError("pictures can only be embedded in the markdown or html format")
    if steps and series.family != "sgd":
        steps = False  # GD is already written in T
    if fmt == "text":
        return _text(series, steps)
    if fmt == "latex":
        return _latex(series, steps)
    if fmt == "markdown":
        return _markdown(series, steps, pictures)
    if fmt == "html":
        return _html(series, steps, pictures)
    obj = series.to_json()
    if steps:
        for term, t in zip(obj["terms"], series.terms, strict=True):
            c = _coefficient(series, t, True)
            term["coefficient"], term["latex"] = str(c), sp.latex(c)
        obj["symbols"] = ["N", "B", "T"]
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
