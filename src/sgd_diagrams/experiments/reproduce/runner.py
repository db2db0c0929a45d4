"""Run reproductions, write their reports atomically, and gather them into ``index.html``."""

from __future__ import annotations

import html
import importlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ... import __version__
from ...errors import SgdDiagramsError
from ...io import atomic_write_text, dumps, to_jsonable
from .base import Context, Outcome, clear_partial, render_markdown

__all__ = ["CATALOG", "Entry", "check_outputs", "load", "run_reproduction", "write_index"]


@dataclass(frozen=True)
class Entry:
    """One reproduction: its command name, its module (in this package) and a one-line summary."""

    name: str
    module: str
    summary: str


CATALOG: dict[str, Entry] = {e.name: e for e in (
    Entry("helix", "helix", "Cor 1 / Fig 3: SGD drifts along HELIX' valley at +η²/6 per step; SDE analyses predict 0"),
    Entry("helix-loop", "helix_loop", "HELIX wrapped in a loop: SGD circulates (curl of the velocity field)"),
    Entry("gauss-sde", "gauss_sde", "Cor 5: SGD vs SDE differ at order η³ through non-Gaussian noise"),
    Entry("mean-estimation", "mean_estimation",
          "Fig 6: overfitting after fixed-T GD is non-monotonic in H; gen gap → C/(NH)"),
    Entry("stic", "stic", "STIC selects the l2 strength from statistics at initialization"),
    Entry("convnet-test-loss", "convnet_test_loss",
          "Fig 6: order-3 test-loss prediction agrees with SGD on a convnet through ηT ≈ 1"),
    Entry("convnet-gen-gap", "convnet_gen_gap",
          "Fig 6: degree-2 generalization-gap prediction agrees through ηT ≈ 0.5"),
    Entry("gdc", "gdc", "Cor 2: GD − SGD ≈ T(N−1)/(4N)·∇C term; GD + GDC regularizer emulates SGD"),
    Entry("epochs", "epochs", "App A.1 / Cor 7: M epochs at η/M vs one epoch at η"),
    Entry("batch-size", "batch_size", "App A.7 / Prop 2: the effect of batch size at fixed epochs"),
    Entry("sde-ode", "sde_ode", "Cor 3/4: SGD vs ODE vs SDE at order η²"),
    Entry("nongaussian", "nongaussian", "App A: Gaussian vs non-Gaussian gradient noise at a minimum, order η³"),
    Entry("cubic-chi", "cubic_chi", "The authors' CubicChi landscape w³ − w(x² − 1): SGD vs theory"),
)}


def load(name: str) -> ModuleType:
    """The module of reproduction ``name`` (one of :data:`CATALOG`)."""
    if name not in CATALOG:
        raise SgdDiagramsError(
            f"unknown reproduction {name!r}; choose one of {', '.join(CATALOG)} or 'all' (see reproduce --list)"
        )
    return importlib.import_module(f"{__package__}.{CATALOG[name].module}")


def run_reproduction(name: str, out_dir: str | Path, *, quick: bool = False, seed: int = 0,
                     data_dir: str | Path | None = None, device: str = "cpu", backend: str = "local",
                     show_progress: bool = True, command: str | None = None) -> dict[str, Any]:
    """Run reproduction ``name``; write ``NAME.json`` and ``NAME.md`` into ``out_dir``; return the JSON.

    Finished pieces saved by the experiment (:meth:`Context.cached`) make a rerun after a kill resume
    where it stopped; they are removed once both reports are written.
    """
    module = load(name)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SgdDiagramsError(f"seed must be an integer in [0, 2^63), got {seed!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(name=name, out_dir=out, quick=quick, seed=int(seed),
                  data_dir=Path(data_dir) if data_dir else None, device=device, backend=backend,
                  show_progress=show_progress)
    start = time.perf_counter()
    outcome: Outcome = module.run(ctx)
    seconds = time.perf_counter() - start
    meta = {"name": name, "quick": quick, "seed": int(seed), "seconds": seconds, "version": __version__,
            "data_dir": str(data_dir) if data_dir else None, "device": device, "backend": backend,
            "command": command or f"sgd-diagrams reproduce {name}{' --quick' if quick else ''} --seed {seed}"}
    payload = to_jsonable({"name": name, "title": outcome.title, "claim": outcome.claim,
                           "measured": outcome.measured, "verdict": outcome.verdict, "reason": outcome.reason,
                           "figures": outcome.figures, "notes": outcome.notes, "meta": meta,
                           "data": outcome.data})
    atomic_write_text(out / f"{name}.json", dumps(payload) + "\n")
    atomic_write_text(out / f"{name}.md", render_markdown(name, outcome, meta))
    clear_partial(ctx)
    return payload


def check_outputs(name: str, out_dir: str | Path) -> list[str]:
    """Problems with ``NAME.json`` in ``out_dir``: missing fields, missing figures, or a claim's shape not met."""
    path = Path(out_dir) / f"{name}.json"
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{path}: cannot read ({exc})"]
    problems = [f"{name}: missing field {k!r}" for k in ("claim", "measured", "verdict", "reason", "data")
                if k not in payload]
    problems += [f"{name}: figure {f} was not written" for f in payload.get("figures", [])
                 if not (Path(out_dir) / f).exists()]
    if not problems:
        problems += [f"{name}: {p}" for p in load(name).check(payload["data"])]
    return problems


def _report(path: Path) -> dict[str, Any] | None:
    """A NAME.json report read as untrusted data: its text fields and safe relative figure names, or None.

    A file that does not parse, or whose fields have the wrong types, is skipped with a warning.
    """
    import warnings

    try:
        p = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        warnings.warn(f"{path} is not a readable report ({exc}); left out of index.html", RuntimeWarning, stacklevel=3)
        return None
    fields = ("title", "claim", "measured", "verdict", "reason")
    figures = p.get("figures", []) if isinstance(p, dict) else None
    if (not isinstance(p, dict) or not all(isinstance(p.get(k, ""), str) for k in fields)
            or not isinstance(figures, list)
            or not all(isinstance(f, str) and f.endswith(".png") and Path(f).name == f for f in figures)):
        warnings.warn(f"{path} does not look like a reproduction report (wrong field types); left out of "
                      "index.html", RuntimeWarning, stacklevel=3)
        return None
    return p


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
          "img{max-width:100%;border:1px solid #ddd}section{border-top:1px solid #ccc;padding-top:1rem}"
          ".confirmed{color:#1a7f37}.refuted{color:#b42318}.correction{color:#9a6700}"
          "td,th{padding:.2rem .6rem;text-align:left}pre{white-space:pre-wrap}")


def write_index(out_dir: str | Path, names: list[str] | None = None) -> tuple[Path, int]:
    """Write ``out_dir/index.html``: every figure, claim and verdict on one page (relative paths, no assets).

    Returns the page's path and how many reports it holds; reports that do not parse are left out (warning).
    """
    out = Path(out_dir)
    rows, sections = [], []
    for name in names or list(CATALOG):
        path = out / f"{name}.json"
        if not path.exists():
            continue
        p = _report(path)
        if p is None:
            continue
        verdict = str(p.get("verdict", "?"))
        css = "correction" if "correction" in verdict else verdict
        e = html.escape
        rows.append(f'<tr><td><a href="#{e(name)}">{e(name)}</a></td><td class="{css}">{e(verdict)}</td>'
                    f"<td>{e(CATALOG[name].summary if name in CATALOG else '')}</td></tr>")
        figs = "".join(f'<p><img src="{e(f)}" alt="{e(name)}"></p>' for f in p.get("figures", []))
        sections.append(
            f'<section id="{e(name)}"><h2>{e(name)} — {e(str(p.get("title", "")))}</h2>'
            f"<h3>Claim</h3><pre>{e(str(p.get('claim', '')))}</pre>"
            f"<h3>Measured</h3><pre>{e(str(p.get('measured', '')))}</pre>"
            f'<h3>Verdict: <span class="{css}">{e(verdict)}</span></h3><p>{e(str(p.get("reason", "")))}</p>'
            f'{figs}<p><a href="{e(name)}.md">{e(name)}.md</a> · <a href="{e(name)}.json">{e(name)}.json</a></p>'
            "</section>")
    if not rows:
        raise SgdDiagramsError(f"no readable reproduction reports in {out}; run sgd-diagrams reproduce all --out {out}")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>sgd-diagrams reproductions</title>"
            f"<style>{_STYLE}</style></head><body><h1>The papers' experiments, reproduced</h1>"
            "<table><tr><th>experiment</th><th>verdict</th><th>claim</th></tr>" + "".join(rows) + "</table>"
            + "".join(sections) + "</body></html>\n")
    target = out / "index.html"
    atomic_write_text(target, page)
    return target, len(rows)
