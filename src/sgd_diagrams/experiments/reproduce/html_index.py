"""``index.html``: every reproduction's verdict, figure, rule, claim, measurement and provenance on one page.

Reports (``NAME.json``) are read as untrusted data (:func:`sgd_diagrams.io.read_untrusted_json`): every field
that reaches the page is HTML-escaped; Markdown is rendered by Python-Markdown with raw HTML, links and
images switched off (so a report's text can only ever be text); a verdict maps to one of a fixed set of CSS
classes; figures must be plain local file names (no ``/``, ``\\``, ``:`` or ``..``).  ``inline=True`` embeds
figures and CSVs as data URIs, so the one file works when mailed alone.  ``compare`` marks verdicts and key
numbers that changed against a reference folder of reports.
"""

from __future__ import annotations

import base64
import html
import math
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from ...errors import SgdDiagramsError
from ...io import atomic_write_text
from .provenance import NOT_RECORDED
from .report import fmt_seconds, key_row, meta_lines, render_csv
from .verdicts import RULE_TEXT, VERDICTS

__all__ = ["PAPERS", "VERDICT_CLASS", "is_safe_figure_name", "markdown_to_html", "read_reports", "write_index"]

PAPERS = (
    ("001", "A Perturbative Analysis of Stochastic Gradient Descent", "Samuel C. Tenka (MIT, CSAIL)",
     "the fuller version: main text, App. A diagrams, B proofs, C experimental methods"),
    ("000", "A Space-Time Approach to Analyzing Stochastic Gradient Descent", "Anonymous Authors¹",
     "the earlier, shorter draft: GDC, STIC, epochs, HELIX"),
)
VERDICT_CLASS = {"confirmed": "v-confirmed", "confirmed with a correction": "v-correction",
                 "refuted": "v-refuted", "inconclusive": "v-inconclusive"}
_SAFE_FIGURE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.(?:png|svg)")
_TEXT_FIELDS = ("title", "claim", "measured", "verdict", "reason")

_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:64rem;margin:1.5rem auto;padding:0 1rem;
line-height:1.5;color:#1f2328;overflow-wrap:anywhere}
h1{font-size:1.7rem}h2{font-size:1.35rem;margin-top:0}h3{font-size:1.05rem}
img{max-width:100%;height:auto;border:1px solid #ddd;display:block}
section{border-top:2px solid #d0d7de;padding-top:1rem;margin-top:2rem}
.v-confirmed{color:#1a7f37}.v-correction{color:#9a6700}.v-refuted{color:#b42318}.v-inconclusive{color:#57606a}
.v-unknown{color:#57606a}.badge{font-weight:700}
.banner{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem .9rem;border-radius:6px;font-weight:600}
.box{background:#f6f8fa;border:1px solid #d0d7de;padding:.5rem .9rem;border-radius:6px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.92rem}td,th{padding:.25rem .55rem;text-align:left;
border-bottom:1px solid #eaeef2;vertical-align:top}
pre,code{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.9em}
details{margin:.6rem 0}summary{cursor:pointer;font-weight:600}
blockquote{margin:.5rem 0;padding-left:.8rem;border-left:3px solid #d0d7de;color:#444}
.changed{background:#ffebe9}
figure{margin:.5rem 0}figcaption{font-size:.85rem;color:#57606a}
.box th{white-space:nowrap;overflow-wrap:normal}#summary{min-width:46rem}
td,th{overflow-wrap:normal;word-break:normal}#summary td:first-child,#summary td:last-child{white-space:nowrap}
#provenance td{overflow-wrap:anywhere}
@media print{details{display:block}details>*{display:block}section{break-inside:auto}
.keep{break-inside:avoid;page-break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


def is_safe_figure_name(name: Any) -> bool:
    """A figure name that can only mean a file beside index.html: letters, digits, '.', '_', '-'; .png/.svg."""
    return (isinstance(name, str) and _SAFE_FIGURE.fullmatch(name) is not None and ".." not in name)


def markdown_to_html(text: str) -> str:
    """Markdown (with tables) to HTML, where raw HTML, links and images are treated as plain text.

    ``x_{ab}`` and ``x^{ab}`` become sub/superscripts (the reports' math is Unicode otherwise).
    """
    import markdown

    md = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    md.preprocessors.deregister("html_block")
    for pattern in ("html", "link", "image_link", "image_reference", "reference", "short_reference",
                    "short_image_ref", "autolink", "automail"):
        if pattern in md.inlinePatterns:
            md.inlinePatterns.deregister(pattern)
    out = md.convert(str(text))
    out = re.sub(r"_\{([^{}<>&]{1,40})\}", r"<sub>\1</sub>", out)
    out = re.sub(r"\^\{([^{}<>&]{1,40})\}", r"<sup>\1</sup>", out)
    return out.replace("<table>", '<div class="scroll"><table>').replace("</table>", "</table></div>")


def _valid(p: Any) -> bool:
    if not isinstance(p, dict) or not all(isinstance(p.get(k, ""), str) for k in _TEXT_FIELDS):
        return False
    figures, meta = p.get("figures", []), p.get("meta", {})
    return (isinstance(figures, list) and all(is_safe_figure_name(f) for f in figures) and isinstance(meta, dict)
            and isinstance(p.get("notes", []), list) and isinstance(p.get("rule", []), list)
            and isinstance(p.get("comparisons", []), list)
            and all(isinstance(r, dict) for r in p.get("comparisons", [])))


def read_reports(folder: str | Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """The readable, well-formed reports among ``folder/NAME.json`` (others are left out with a warning)."""
    from .runner import read_report

    out = {}
    for name in names:
        path = Path(folder) / f"{name}.json"
        if not path.exists():
            continue
        try:
            p = read_report(path)
        except SgdDiagramsError as exc:
            warnings.warn(f"{exc}; left out of index.html", RuntimeWarning, stacklevel=2)
            continue
        if not _valid(p):
            warnings.warn(f"{path} does not look like a reproduction report (wrong field types or unsafe figure "
                          "names); left out of index.html", RuntimeWarning, stacklevel=2)
            continue
        out[name] = p
    return out


def _num(x: Any, fmt: str = ".4g") -> str:
    return format(x, fmt) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else "—"


def _verdict_span(verdict: str) -> str:
    return f'<span class="badge {VERDICT_CLASS.get(verdict, "v-unknown")}">{html.escape(verdict)}</span>'


def _seconds(meta: dict[str, Any]) -> Any:
    return meta.get("wall_seconds", meta.get("seconds"))


def _key_text(p: dict[str, Any]) -> str:
    k = key_row(p)
    if k is None:
        return "—"
    return (f"{html.escape(str(k.get('point', '')))}: {_num(k.get('observed'))} vs {_num(k.get('predicted'))} "
            f"(z {_num(k.get('z'), '+.2f')})")


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _figure_html(out: Path, name: str, fig: str, inline: bool) -> str:
    e = html.escape
    path = out / fig
    mime = "image/svg+xml" if fig.endswith(".svg") else "image/png"
    if inline:
        if not path.is_file():
            return f"<p>figure {e(fig)} is missing</p>"
        src = _data_uri(path, mime)
        return f'<figure><img src="{src}" alt="{e(name)}: {e(fig)}"></figure>'
    return (f'<figure><a href="{e(fig)}"><img src="{e(fig)}" alt="{e(name)}: {e(fig)}"></a>'
            f"<figcaption>click the figure for the full-size image</figcaption></figure>")


def _section(out: Path, name: str, p: dict[str, Any], summary: str, differs: str, inline: bool,
             old: dict[str, Any] | None) -> str:
    e = html.escape
    meta = p.get("meta", {})
    verdict = str(p.get("verdict", "?"))
    change = ""
    if old is not None and str(old.get("verdict")) != verdict:
        change = f' <span class="changed">(reference run: {e(str(old.get("verdict")))})</span>'
    figs = "".join(_figure_html(out, name, f, inline) for f in p.get("figures", []))
    rule = markdown_to_html("\n".join(str(x) for x in p.get("rule", [])))
    run_text = "\n".join(meta_lines(meta, p.get("data")))
    notes = markdown_to_html("\n".join(f"- {n}" for n in p.get("notes", []))) if p.get("notes") else ""
    if inline:
        downloads = (f'<a download="{e(name)}.csv" href="{_data_uri_text(render_csv(p), "text/csv")}">'
                     f"{e(name)}.csv</a> (the numbers the verdict rests on)")
    else:
        downloads = (f'<a href="{e(name)}.csv">{e(name)}.csv</a> (the numbers the verdict rests on) · '
                     f'<a href="{e(name)}.md">{e(name)}.md</a> · <a href="{e(name)}.json">{e(name)}.json</a>')
    return (f'<section id="{e(name)}"><h2>{e(name)} — {e(str(p.get("title", "")))}</h2>'
            f'<div class="keep"><p>{e(summary)}</p><h3>Verdict: {_verdict_span(verdict)}{change}</h3>'
            f"{markdown_to_html(str(p.get('reason', '')))}{figs}</div>"
            f"<p><strong>Where we differ from the paper:</strong> {e(differs)}</p>"
            f"<details><summary>The rule and its numbers</summary>{rule}</details>"
            f"<details><summary>The paper's claim</summary>{markdown_to_html(str(p.get('claim', '')))}</details>"
            f"<details><summary>What we measured</summary>{markdown_to_html(str(p.get('measured', '')))}"
            f"{notes}</details>"
            f"<details><summary>Run (provenance)</summary>{markdown_to_html(run_text)}"
            f"</details><p>Download: {downloads}</p></section>")


def _data_uri_text(text: str, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def _provenance_block(reports: dict[str, dict[str, Any]]) -> str:
    e = html.escape

    def text(v: Any) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k} {w}" for k, w in v.items())
        return str(v)

    def values(key: str) -> str:
        seen = Counter(text(p.get("meta", {}).get(key, NOT_RECORDED)) for p in reports.values())
        if len(seen) == 1:
            return next(iter(seen))
        return "; ".join(f"{v} ({n} report{'s' if n > 1 else ''})" for v, n in seen.most_common())

    modes = sorted({"quick" if p.get("meta", {}).get("quick") else "default" for p in reports.values()})
    total = sum(s for p in reports.values() if isinstance(s := _seconds(p.get("meta", {})), (int, float)))
    rendered = sorted({str(p["meta"]["rendered"].get("commit")) + (" (with uncommitted changes)" if
                       p["meta"]["rendered"].get("dirty") is True else "") for p in reports.values()
                       if isinstance(p.get("meta", {}).get("rendered"), dict)})
    rows = [("mode", ", ".join(modes)), ("seed", values("seed")), ("commit", values("commit")),
            ("dirty tree", values("dirty")), ("started", values("started")),
            ("sgd-diagrams", values("version")), ("Python", values("python")), ("numpy", values("numpy")),
            ("scipy", values("scipy")), ("torch", values("torch")), ("CPU", values("cpu")),
            ("CPUs", values("cpu_count")), ("threads", values("threads")),
            ("wall time", f"{fmt_seconds(total)} over {len(reports)} experiments")]
    if rendered:
        rows.append(("re-rendered", "at commit " + ", ".join(rendered) + " (verdicts and figures re-derived from the "
                     "saved numbers; the numbers come from the original runs)"))
    missing = [k for k, v in rows if v == NOT_RECORDED]
    rows = [(k, v) for k, v in rows if k not in missing]
    if missing:
        rows.append(("not recorded", ", ".join(missing) + " — these reports were written before provenance was "
                     "recorded; they were re-rendered from their saved numbers, not rerun"))
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    return f'<div class="box" id="provenance"><h2>Provenance</h2><div class="scroll"><table>{body}</table></div></div>'


def write_index(out_dir: str | Path, names: list[str] | None = None, *, inline: bool = False,
                compare: str | Path | None = None, target: str | Path | None = None) -> tuple[Path, int]:
    """Write ``out_dir/index.html`` (or ``target``) from the reports in ``out_dir``; return its path and count.

    ``inline`` embeds figures and CSVs (one self-contained file); ``compare`` is a folder of reference
    reports whose verdicts and key numbers are shown beside these where they changed.
    """
    from .runner import CATALOG

    out = Path(out_dir)
    names = names or list(CATALOG)
    reports = read_reports(out, names)
    if not reports:
        raise SgdDiagramsError(f"no readable reproduction reports in {out}; run sgd-diagrams reproduce all --out {out}")
    olds: dict[str, dict[str, Any]] = {}
    if compare is not None:
        if not Path(compare).is_dir():
            raise SgdDiagramsError(f"--compare {compare} is not a folder; pass a folder of NAME.json reports")
        olds = read_reports(compare, list(reports))
    e = html.escape
    counts = Counter(str(p.get("verdict")) for p in reports.values())
    quick = any(p.get("meta", {}).get("quick") for p in reports.values())
    head = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>sgd-diagrams: the papers' experiments, reproduced</title><style>{_STYLE}</style></head><body>")
    parts = [head, "<h1>The papers' experiments, reproduced</h1>"]
    if quick:
        parts.append('<p class="banner" id="low-power">Quick run: few trials and few learning rates, so it is '
                     "low-powered — its verdicts are not final. The default mode (without --quick) gives the "
                     "verdicts to quote.</p>")
    papers = "".join(f"<li>Seed {e(s)}: <cite>{e(t)}</cite> — {e(a)} ({e(d)})</li>" for s, t, a, d in PAPERS)
    parts.append(f'<div id="papers"><h2>The papers</h2><ul>{papers}</ul><p>Each experiment below quotes the '
                 "section it tests (its claim names the seed and the corollary, figure or appendix).</p></div>")
    parts.append(_provenance_block(reports))
    summary = " · ".join(f'{_verdict_span(v)}: <span class="count" data-verdict="{e(v)}">{counts.get(v, 0)}</span>'
                         for v in VERDICTS)
    other = sum(n for v, n in counts.items() if v not in VERDICTS)
    parts.append(f'<div id="verdicts"><h2>Verdicts</h2><p>{summary}'
                 + (f" · other: {other}" if other else "") + f"</p>{markdown_to_html(RULE_TEXT)}</div>")
    header = ("<tr><th>experiment</th><th>verdict</th><th>key number: measured vs predicted (z)</th>"
              "<th>where we differ from the paper</th><th>time</th>" + ("<th>reference run</th>" if olds else "")
              + "</tr>")
    rows, sections = [], []
    for name, p in reports.items():
        entry = CATALOG.get(name)
        summary_line = entry.summary if entry else ""
        differs = entry.differs if entry else ""
        old = olds.get(name)
        ref = ""
        if olds:
            if old is None:
                ref = "<td>not in the reference</td>"
            else:
                changed = str(old.get("verdict")) != str(p.get("verdict")) or _key_text(old) != _key_text(p)
                ref = (f'<td class="{"changed" if changed else ""}">{_verdict_span(str(old.get("verdict")))}; '
                       f"{_key_text(old)}{' — changed' if changed else ' — same'}</td>")
        secs = _seconds(p.get("meta", {}))
        rows.append(f'<tr><td><a href="#{e(name)}">{e(name)}</a></td><td>{_verdict_span(str(p.get("verdict")))}</td>'
                    f"<td>{_key_text(p)}</td><td>{e(differs)}</td><td>{e(fmt_seconds(secs))}</td>{ref}</tr>")
        sections.append(_section(out, name, p, summary_line, differs, inline, old))
    parts.append(f'<h2>Summary</h2><div class="scroll"><table id="summary">{header}{"".join(rows)}</table></div>')
    parts += sections
    parts.append("</body></html>\n")
    path = Path(target) if target is not None else out / "index.html"
    atomic_write_text(path, "".join(parts))
    return path, len(reports)
