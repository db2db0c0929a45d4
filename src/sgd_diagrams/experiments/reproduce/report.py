"""A report's payload (the NAME.json object) rendered as Markdown and CSV, from the saved numbers alone.

The payload holds the claim, what was measured, the verdict with its rule and the comparisons it rests on
(``comparisons``: one row per point), the run's provenance (``meta``) and every plotted number (``data``).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from .provenance import NOT_RECORDED
from .verdicts import Judgement

__all__ = ["comparison_rows", "fmt_seconds", "key_row", "meta_lines", "render_csv", "render_markdown"]

CSV_FIELDS = ("family", "point", "x", "observed", "se_observed", "predicted", "se_predicted", "z", "rejected",
              "effect", "effect_over_se", "dof")


def comparison_rows(j: Judgement) -> list[dict[str, Any]]:
    """Every point of every family of a judgement, as flat rows (the CSV and the summary table read these)."""
    rows = []
    for fam in j.families:
        for p, rej in zip(fam.points, fam.rejected, strict=True):
            rows.append({"family": fam.name, "point": p.label, "x": _num(p.x), "observed": p.observed,
                         "se_observed": p.se_obs, "predicted": p.predicted, "se_predicted": p.se_pred,
                         "z": _num(p.z), "rejected": rej, "effect": _num(p.effect),
                         "effect_over_se": _num(p.power_ratio), "dof": p.dof})
    return rows


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def key_row(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The summary table's number: the claim family's point with the largest |z| (None when there is none)."""
    rows = [r for r in payload.get("comparisons", []) if isinstance(r, dict)]
    if not rows:
        return None
    first = rows[0].get("family")
    claim = [r for r in rows if r.get("family") == first]
    return max(claim, key=lambda r: abs(r["z"]) if isinstance(r.get("z"), (int, float)) else math.inf)


def render_csv(payload: dict[str, Any]) -> str:
    """NAME.csv: the points the verdict rests on, one row each."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in payload.get("comparisons", []):
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_FIELDS})
    return buf.getvalue()


def fmt_seconds(s: Any) -> str:
    """Seconds as "42 s" or "7.5 min" (anything else as text)."""
    if not isinstance(s, (int, float)) or isinstance(s, bool):
        return str(s)
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def _sizes(data: Any) -> str:
    """Trials and samples named at the top of an experiment's data (or its settings), as one phrase."""
    if not isinstance(data, dict):
        return ""
    found = []
    for src in (data, data.get("settings") if isinstance(data.get("settings"), dict) else {}):
        for key in ("trials", "samples", "sde_trials"):
            v = src.get(key)
            if isinstance(v, (int, dict)) and not isinstance(v, bool) and key not in dict(found):
                found.append((key, v))
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in found)


def meta_lines(meta: dict[str, Any], data: Any = None) -> list[str]:
    """The run's provenance as Markdown bullets (fields a re-rendered report cannot know say so)."""
    g = meta.get
    mode = "quick (low-powered: few trials; verdicts are not final)" if g("quick") else "default (full)"
    warn = g("warnings", NOT_RECORDED)
    lines = [f"- rerun: `{g('command', NOT_RECORDED)}`",
             f"- mode {mode}, seed {g('seed', NOT_RECORDED)}" + (f"; {_sizes(data)}" if _sizes(data) else ""),
             f"- wall time {fmt_seconds(g('wall_seconds', g('seconds', NOT_RECORDED)))}, CPU time "
             f"{fmt_seconds(g('cpu_seconds', NOT_RECORDED))}"
             + (f", over {g('invocations')} invocations (resumed)" if isinstance(g("invocations"), int)
                and g("invocations") > 1 else ""),
             f"- started {g('started', NOT_RECORDED)}; commit {g('commit', NOT_RECORDED)}"
             + (" (with uncommitted changes)" if g("dirty") is True else ""),
             f"- sgd-diagrams {g('version', NOT_RECORDED)}, Python {g('python', NOT_RECORDED)}, numpy "
             f"{g('numpy', NOT_RECORDED)}, scipy {g('scipy', NOT_RECORDED)}, torch {g('torch', NOT_RECORDED)}",
             f"- machine: {g('cpu', NOT_RECORDED)}, {g('cpu_count', NOT_RECORDED)} CPUs, threads "
             f"{g('threads', NOT_RECORDED)}; device {g('device', 'cpu')}, backend {g('backend', 'local')}"]
    rendered = g("rendered")
    if isinstance(rendered, dict):
        lines.append(f"- re-rendered from the saved numbers on {rendered.get('at')} at commit "
                     f"{rendered.get('commit')} (`{rendered.get('command')}`); the verdict, text and figures "
                     "follow that commit's rules, the numbers come from the original run")
    if isinstance(warn, list):
        lines.append("- warnings raised: " + ("none" if not warn else "; ".join(f"`{w}`" for w in warn)))
    else:
        lines.append(f"- warnings raised: {warn}")
    return lines


def render_markdown(payload: dict[str, Any]) -> str:
    """The ``NAME.md`` report: verdict and figure first, then the rule's numbers, claim, measurement, run."""
    name, meta = payload["name"], payload.get("meta", {})
    lines = [f"# `{name}` — {payload['title']}", ""]
    if meta.get("quick"):
        lines += ["> **Quick run: low-powered (few trials, few η); its verdicts are not final.**", ""]
    lines += [f"## Verdict: **{payload['verdict']}**", "", payload["reason"], ""]
    for fig in payload.get("figures", []):
        lines += [f"[![{name}]({fig})]({fig})", ""]
    lines += ["### The rule and its numbers", ""] + list(payload.get("rule", [])) + [""]
    lines += ["## The paper's claim", "", payload["claim"], "", "## What we measured", "", payload["measured"], ""]
    if payload.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in payload["notes"]] + [""]
    lines += ["## Run", ""] + meta_lines(meta, payload.get("data")) + [""]
    return "\n".join(lines)
