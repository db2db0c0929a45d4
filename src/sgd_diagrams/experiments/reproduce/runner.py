"""Run reproductions (or re-render saved ones) and write their reports atomically: NAME.json, .md, .csv."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ... import __version__
from ...errors import SgdDiagramsError
from ...io import atomic_write_text, dumps, read_untrusted_json, to_jsonable
from .base import Context, Outcome, clear_partial
from .provenance import NOT_RECORDED, PROVENANCE_FIELDS, capture_warnings, git_state, now_utc, provenance
from .report import comparison_rows, render_csv, render_markdown
from .verdicts import Judgement

__all__ = ["CATALOG", "Entry", "check_outputs", "load", "read_report", "rerender_reproduction", "run_reproduction"]


@dataclass(frozen=True)
class Entry:
    """One reproduction: its command name, its module (in this package), a one-line summary (which section of
    which seed it tests) and where our setting differs from the paper's."""

    name: str
    module: str
    summary: str
    differs: str = ""


CATALOG: dict[str, Entry] = {e.name: e for e in (
    Entry("helix", "helix", "Cor 1 / Fig 3: SGD drifts along HELIX' valley at +η²/6 per step; SDE analyses predict 0",
          "our T, η grid and trial counts; the library's ODE flows on each step's sample loss "
          "(the paper's ODE is noiseless)"),
    Entry("helix-loop", "helix_loop", "HELIX wrapped in a loop: SGD circulates (curl of the velocity field)",
          "HELIX-RING, a loop in R³, instead of the paper's quotient of HELIX by Δz = 200π"),
    Entry("gauss-sde", "gauss_sde", "Cor 5: SGD vs SDE differ at order η³ through non-Gaussian noise",
          "our T, η grid and trial counts; the SDE is integrated with refined substeps"),
    Entry("mean-estimation", "mean_estimation",
          "Fig 6: overfitting after fixed-T GD is non-monotonic in H; gen gap → C/(NH)",
          "our H grid and trial counts.  STIC-descent, its l2 panel, is Fig. 13's procedure: GD on (θ, λ) of the "
          "training loss plus Cor. 6's gap estimate, so λ is descended together with θ in one run"),
    Entry("stic", "stic", "STIC selects the l2 strength from statistics at initialization",
          "STIC-grid: for each training set λ is picked from a grid by minimizing STIC before training (Fig. 13 "
          "descends on λ instead: mean-estimation's STIC-descent); μ = 3 rather than 10; TIC, GD and the oracle "
          "beside it"),
    Entry("convnet-test-loss", "convnet_test_loss",
          "Fig 6: order-3 test-loss prediction agrees with SGD on a convnet through ηT ≈ 1",
          "offline 8×8 digits instead of Fashion-MNIST; a small convnet, fewer steps and trials"),
    Entry("convnet-gen-gap", "convnet_gen_gap",
          "Fig 6: degree-2 generalization-gap prediction agrees through ηT ≈ 0.5",
          "offline 8×8 digits instead of CIFAR-10; a small convnet, fewer steps and trials"),
    Entry("gdc", "gdc", "Cor 2: GD − SGD ≈ T(N−1)/(4N)·∇C term; GD + GDC regularizer emulates SGD",
          "our own small models, T and trial counts"),
    Entry("epochs", "epochs", "App A.1 / Cor 7: M epochs at η/M vs one epoch at η",
          "our landscape, η grid, epoch counts M and trial counts"),
    Entry("batch-size", "batch_size", "App A.7 / Prop 2: the effect of batch size at fixed epochs",
          "our landscape, batch sizes and trial counts"),
    Entry("sde-ode", "sde_ode", "Cor 3/4: SGD vs ODE vs SDE at order η²",
          "our landscape, T and trial counts; the η² coefficient is fitted over an η sweep"),
    Entry("nongaussian", "nongaussian", "App A: Gaussian vs non-Gaussian gradient noise at a minimum, order η³",
          "our landscape, T and trial counts"),
    Entry("curves", "curves", "Predicted training curves (every step) vs simulated curves: mean estimation, "
          "HELIX, digits convnet", "our settings; convnet trials evaluated on 256 random test images; no estimated "
          "resummed convnet curve"),
    Entry("cubic-chi", "cubic_chi", "The authors' CubicChi landscape w³ − w(x² − 1): SGD vs theory",
          "the authors' landscape and code; our T, η grid and trial counts"),
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
                     show_progress: bool = True, command: str | None = None, force: bool = False) -> dict[str, Any]:
    """Run reproduction ``name``; write ``NAME.json``, ``NAME.md`` and ``NAME.csv`` into ``out_dir``; return the JSON.

    The verdict comes from the experiment's ``assess`` (the common rules of :mod:`.verdicts`) applied to the
    saved numbers.  Finished pieces saved by the experiment (:meth:`Context.cached`) make a rerun after a kill
    resume where it stopped (its time is added up over the pieces); they are removed once the reports are written.
    The run is priced from a pilot of its own main loop (:class:`~.base.Context`) and stops over the work budget
    unless ``force``; ``meta`` records ``estimated_cpu_s`` (and ``estimate_from``) beside ``measured_cpu_s``.
    """
    module = load(name)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SgdDiagramsError(f"seed must be an integer in [0, 2^63), got {seed!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(name=name, out_dir=out, quick=quick, seed=int(seed),
                  data_dir=Path(data_dir) if data_dir else None, device=device, backend=backend,
                  show_progress=show_progress, force=bool(force))
    started = now_utc()
    with capture_warnings() as caught:
        outcome: Outcome = module.run(ctx)
        judgement = assess(module, outcome.data, outcome)
    times = ctx.total_time()
    meta = {"name": name, "quick": quick, "seed": int(seed), **provenance(), "started": started,
            "seconds": times["wall_seconds"], **times, "warnings": caught,
            **(ctx.estimate or {"estimated_cpu_s": None, "estimate_from": "no progress counter: not priced"}),
            "measured_cpu_s": times["cpu_seconds"],
            "data_dir": str(data_dir) if data_dir else None, "device": device, "backend": backend,
            "command": command or f"sgd-diagrams reproduce {name}{' --quick' if quick else ''} --seed {seed}"}
    payload = _payload(name, outcome.title, outcome.claim, outcome.measured, judgement, outcome.figures,
                       outcome.notes, meta, outcome.data, {"verdict": outcome.verdict, "reason": outcome.reason})
    _write_reports(out, payload)
    clear_partial(ctx)
    return payload


def assess(module: ModuleType, data: dict[str, Any], outcome: Outcome | None = None) -> Judgement:
    """The experiment's verdict by the common rules (its ``assess(data)``), from the saved numbers alone."""
    return module.assess(data)


_OWN_RULES = ("\n\nRules: ", " Rules: ")
DIAGNOSTIC = ("Diagnostic thresholds of this experiment's first reading — they do not decide the verdict, which "
              "follows only the common rule (all points together by Holm, with power; see the rule and its "
              "numbers), so a point can pass one and not the other: ")
_EARLIER_DIAGNOSTIC = "Diagnostic thresholds of this experiment (the verdict follows only the common rule): "


def _payload(name: str, title: str, claim: str, measured: str, j: Judgement, figures: list[str], notes: list[str],
             meta: dict[str, Any], data: dict[str, Any], reading: dict[str, Any]) -> dict[str, Any]:
    for own in _OWN_RULES:  # an experiment's own thresholds, written before the common rule, are diagnostics now
        measured = measured.replace(own, own[: -len("Rules: ")] + DIAGNOSTIC)
    measured = measured.replace(_EARLIER_DIAGNOSTIC, DIAGNOSTIC)
    return to_jsonable({"name": name, "title": title, "claim": claim, "measured": measured, "verdict": j.verdict,
                        "reason": j.reason, "rule": j.lines(), "comparisons": comparison_rows(j),
                        "figures": figures, "notes": notes, "experiment_reading": reading, "meta": meta,
                        "data": data})


def _write_reports(out: Path, payload: dict[str, Any]) -> None:
    name = payload["name"]
    atomic_write_text(out / f"{name}.csv", render_csv(payload))
    atomic_write_text(out / f"{name}.md", render_markdown(payload))
    atomic_write_text(out / f"{name}.json", dumps(payload) + "\n")


MAX_REPORT_BYTES = 64 * 2**20


def read_report(path: str | Path) -> dict[str, Any]:
    """A NAME.json report read as untrusted data (one-line SgdDiagramsError when unreadable or not an object)."""
    obj = read_untrusted_json(path, what="report", max_bytes=MAX_REPORT_BYTES)
    if not isinstance(obj, dict):
        raise SgdDiagramsError(f"report {path} must hold a JSON object, got {type(obj).__name__}")
    return obj


def rerender_reproduction(name: str, out_dir: str | Path, *, show_progress: bool = False) -> dict[str, Any]:
    """Re-render ``out_dir/NAME.json`` by today's rules: verdict, text, figures, md, csv — without rerunning.

    The numbers (``data``) and the original run's provenance are kept; fields the original run did not record
    are marked as not recorded; ``meta.rendered`` says when, at which commit and how it was re-rendered.
    """
    module = load(name)
    out = Path(out_dir)
    old = read_report(out / f"{name}.json")
    data, old_meta = old.get("data"), old.get("meta")
    if not isinstance(data, dict) or not isinstance(old_meta, dict):
        raise SgdDiagramsError(f"{out / (name + '.json')} has no data or meta object; rerun the experiment")
    ctx = Context(name=name, out_dir=out, quick=bool(old_meta.get("quick")), seed=int(old_meta.get("seed", 0)),
                  show_progress=show_progress)
    with capture_warnings():
        judgement = module.assess(data)
        figures = module.redraw(ctx, data) if hasattr(module, "redraw") else list(old.get("figures", []))
    measured = module.describe(data) if hasattr(module, "describe") else str(old.get("measured", ""))
    meta = {k: old_meta.get(k, NOT_RECORDED) for k in PROVENANCE_FIELDS}
    meta.update({k: v for k, v in old_meta.items() if k not in ("rendered",)})
    if "wall_seconds" not in old_meta and isinstance(old_meta.get("seconds"), (int, float)):
        meta["wall_seconds"] = old_meta["seconds"]
        meta["invocations"] = "not recorded (the time is that of the last invocation only)"
    meta["rendered"] = {"at": now_utc(), **git_state(), "version": __version__,
                        "command": f"sgd-diagrams reproduce {name} --rerender --out {out}"}
    reading = old.get("experiment_reading") or {"verdict": old.get("verdict"), "reason": old.get("reason")}
    payload = _payload(name, str(old.get("title", "")), str(old.get("claim", "")), measured, judgement, figures,
                       list(old.get("notes", [])), meta, data, reading)
    _write_reports(out, payload)
    return payload


def check_outputs(name: str, out_dir: str | Path) -> list[str]:
    """Problems with ``NAME.json`` in ``out_dir``: missing fields, missing figures, or a claim's shape not met."""
    path = Path(out_dir) / f"{name}.json"
    try:
        payload = read_report(path)
    except SgdDiagramsError as exc:
        return [f"{path}: cannot read ({exc})"]
    problems = [f"{name}: missing field {k!r}" for k in ("claim", "measured", "verdict", "reason", "data")
                if k not in payload]
    problems += [f"{name}: figure {f} was not written" for f in payload.get("figures", [])
                 if not (Path(out_dir) / f).exists()]
    if not problems:
        problems += [f"{name}: {p}" for p in load(name).check(payload["data"])]
    return problems
