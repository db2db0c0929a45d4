"""The shared shape of a reproduction: its context, its outcome, and how both are written.

Each experiment of the papers is a module of :mod:`sgd_diagrams.experiments.reproduce` with

* ``run(ctx: Context) -> Outcome`` — does the work (theory beside simulation, with confidence
  intervals) and returns every number it plotted, the claim quoted by section, what was measured,
  and a verdict that follows from the numbers;
* ``check(data: dict) -> list[str]`` — the claim's quantitative shape, read back from the JSON that
  ``run`` wrote (an empty list when it holds).  CI runs every experiment with ``--quick`` and calls it;
* ``assess(data: dict) -> Judgement`` — the verdict, from the saved numbers alone, by the common rules of
  :mod:`.verdicts` (power, Holm over points); it overrides the verdict ``run`` proposed, and re-rendering
  a saved report (``reproduce NAME --rerender``) calls it again;
* optionally ``redraw(ctx, data) -> list[str]`` — draw the figures again from the saved numbers.

:func:`run_reproduction` writes ``NAME.json``, ``NAME.md`` (and the figures the run drew) atomically
into the output folder; work saved with :meth:`Context.cached` survives a kill and is reused.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import SgdDiagramsError
from ...io import atomic_write_text, dumps, progress_bar, read_untrusted_json, to_jsonable
from ...limits import MAX_INPUT_BYTES
from .verdicts import VERDICTS

__all__ = ["VERDICTS", "Context", "Outcome"]


@dataclass
class Context:
    """Where and how a reproduction runs.

    ``quick`` asks for a run of ≤ 3 minutes on 2 CPU cores (few trials, few η); the default mode uses
    enough trials that the verdict's confidence intervals are tight.  ``seed`` seeds everything;
    ``data_dir`` points at Fashion-MNIST / CIFAR-10 files for the convnet experiments (None: the
    offline digits data); ``device`` and ``backend`` pass through to simulations and estimates.

    **Cost.**  The run is priced by a pilot of its own work: the first progress counter it opens
    (:meth:`progress`) is the run's main loop, and when its first unit (or first ``price_after`` units, where
    a block of units shares work done before its first) finishes the whole run is estimated
    as the CPU seconds spent before that loop plus the loop's CPU per finished unit × its units
    (:meth:`price`).  Over the work budget the run stops there unless ``force`` (its finished pieces are
    saved, so a rerun with ``--force`` resumes); the estimate and the measured CPU go into ``NAME.json``.
    """

    name: str
    out_dir: Path
    quick: bool = False
    seed: int = 0
    data_dir: Path | None = None
    device: str = "cpu"
    backend: str = "local"
    show_progress: bool = True
    force: bool = False
    estimate: dict[str, Any] | None = None
    _started: float = field(default_factory=time.perf_counter, repr=False)
    _cpu_started: float = field(default_factory=time.process_time, repr=False)
    _invocation: str = field(default_factory=lambda: f"{time.time():.6f}", repr=False)
    _pilot_opened: bool = field(default=False, repr=False)

    @property
    def partial_dir(self) -> Path:
        """Folder of finished pieces of an interrupted run (removed after a successful run)."""
        mode = "quick" if self.quick else "full"
        return self.out_dir / ".partial" / f"{self.name}-{mode}-seed{self.seed}"

    def figure(self, suffix: str = "") -> Path:
        """Path of a figure of this reproduction: ``NAME.png`` or ``NAME-SUFFIX.png``."""
        return self.out_dir / (f"{self.name}-{suffix}.png" if suffix else f"{self.name}.png")

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``'s JSON-able result, saved under ``key`` so that a killed run resumes here.

        Pieces are stored as JSON (never pickled) in :attr:`partial_dir`; a file that does not parse is
        recomputed.  Use one key per finished unit of work (an η point, a chunk of trials).
        """
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = self.partial_dir / f"{digest}.json"
        if path.exists():
            try:  # a piece is untrusted data: a FIFO, a huge or malformed file is recomputed, never read blindly
                stored = read_untrusted_json(path, what="resumable piece", max_bytes=MAX_INPUT_BYTES, allow_nan=True)
                if isinstance(stored, dict) and stored.get("key") == key and "value" in stored:
                    return stored["value"]
            except SgdDiagramsError:
                pass
        value = to_jsonable(compute())
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, dumps({"key": key, "value": value}, indent=None))
        self.record_time()
        return value

    def record_time(self) -> None:
        """Save this invocation's wall and CPU seconds so far beside the pieces (a resumed run adds them up)."""
        ledger = self._ledger()
        ledger[self._invocation] = {"wall": self.elapsed, "cpu": time.process_time() - self._cpu_started}
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.partial_dir / "time-ledger.json", dumps(ledger, indent=None))

    def _ledger(self) -> dict[str, dict[str, float]]:
        try:
            stored = read_untrusted_json(self.partial_dir / "time-ledger.json", what="time ledger",
                                         max_bytes=MAX_INPUT_BYTES)
        except SgdDiagramsError:
            return {}
        if not isinstance(stored, dict):
            return {}
        return {k: v for k, v in stored.items() if isinstance(v, dict)
                and all(isinstance(v.get(f), (int, float)) for f in ("wall", "cpu"))}

    def total_time(self) -> dict[str, Any]:
        """Wall and CPU seconds of this invocation plus every earlier, interrupted one of the same run."""
        earlier = {k: v for k, v in self._ledger().items() if k != self._invocation}
        wall, cpu = self.elapsed, time.process_time() - self._cpu_started
        return {"wall_seconds": wall + sum(v["wall"] for v in earlier.values()),
                "cpu_seconds": cpu + sum(v["cpu"] for v in earlier.values()),
                "invocations": 1 + len(earlier), "this_invocation_wall_seconds": wall}

    def progress(self, total: float, desc: str, unit: str = "step", price_after: float = 1,
                 segments: Sequence[tuple[float, str, float]] | None = None, warmup: bool = False) -> Any:
        """A progress counter for ``total`` units (a bar or log line on stderr unless progress is off); the
        run's first counter prices the run (class docstring, :class:`_Progress`) once ``price_after`` units
        are done — more than one where a block of units shares work done before its first.  Where the units
        are not alike, ``segments`` lists them in the order they finish as runs ``(units, kind, work per
        unit)``: each kind (e.g. SGD points, SDE points) is priced from its own finished units, by work within
        it (e.g. trials × steps); ``warmup`` leaves each kind's first update out of its rate."""
        bar = progress_bar(total, f"{self.name}: {desc}", unit, enabled=self.show_progress)
        pilot = not self._pilot_opened
        self._pilot_opened = True
        return _Progress(self, bar, float(total), desc, unit, pilot, float(price_after), segments, warmup)

    def cpu_so_far(self) -> float:
        """CPU seconds of this run: this invocation plus every earlier, interrupted one."""
        return self.total_time()["cpu_seconds"]

    def price(self, seconds: float, done: float, total: float, what: str, detail: str) -> None:
        """Record the run's estimate (``seconds`` of CPU, from ``done`` of ``total`` units of its main loop;
        ``detail`` says how) and refuse it over the budget unless :attr:`force`."""
        from ...limits import check_work

        self.estimate = {"estimated_cpu_s": float(seconds), "estimate_from": f"first {done:g} of {total:g} {what}"
                                                                             f"{detail}"}
        check_work(seconds, f"reproduction {self.name}{' --quick' if self.quick else ''} (priced from {done:g} of "
                   f"{total:g} {what})", "run it with --quick (its finished pieces are kept)", self.force)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self._started


class _Progress:
    """A reproduction's progress counter: advances the visible bar (if any); the run's first one prices it.

    Pricing: the CPU of each update is charged to the units it finished; each kind of unit is extrapolated from
    its own finished units by work once every kind has finished some (and ``price_after`` units are done):
    estimate = CPU so far + Σ_kinds (CPU per work of that kind) × its work left.  ``segments`` describe the
    units in the order they finish as runs ``(units, kind, work per unit)`` (default: one kind, work 1 per
    unit) — a few numbers however many units.  With ``warmup`` a kind's first update (first-call set-up) is
    charged as spent but not used for its rate."""

    def __init__(self, ctx: Context, bar: Any, total: float, desc: str, unit: str, pilot: bool,
                 price_after: float = 1, segments: Sequence[tuple[float, str, float]] | None = None,
                 warmup: bool = False) -> None:
        plural = unit if unit.endswith("s") else f"{unit}s"
        self.ctx, self.bar, self.total, self.what, self.pilot = ctx, bar, total, f"{plural} of {desc!r}", pilot
        runs = [(float(total), "", 1.0)] if segments is None else [(float(n), str(k), float(w)) for n, k, w in segments]
        if (abs(sum(n for n, _, _ in runs) - float(total)) > 1e-9 or any(not n >= 0 or not w >= 0 for n, _, w in runs)
                or (total > 0 and sum(n * w for n, _, w in runs) <= 0)):
            raise ValueError(f"segments: (units, kind, work per unit) runs of non-negative numbers adding up to "
                             f"{total:g} units, not all without work")
        self.ends = np.cumsum([n for n, _, _ in runs])
        self.runs = runs
        self.left: dict[str, float] = {}
        for n, k, w in runs:
            self.left[k] = self.left.get(k, 0.0) + n * w
        self.cost = dict.fromkeys(self.left, 0.0)
        self.work = dict.fromkeys(self.left, 0.0)
        self.updates = dict.fromkeys(self.left, 0)
        self.warmup = warmup
        self.price_after = max(min(price_after, total), 1e-12)
        self.done = 0.0
        self.cpu_before = ctx.cpu_so_far() if pilot else 0.0
        self.last_cpu = self.cpu_before

    def _work_between(self, a: float, b: float) -> dict[str, float]:
        """Work of each kind in the units (a, b]."""
        out: dict[str, float] = {}
        start = 0.0
        for (_n, k, w), end in zip(self.runs, self.ends, strict=True):
            overlap = min(b, end) - max(a, start)
            if overlap > 0:
                out[k] = out.get(k, 0.0) + overlap * w
            start = end
        return out

    def update(self, n: float = 1) -> None:
        first = self.done
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if not (self.pilot and self.ctx.estimate is None and self.total > 0):
            return
        cpu = self.ctx.cpu_so_far()
        cost, self.last_cpu = cpu - self.last_cpu, cpu
        works = self._work_between(first, min(self.done, self.total))
        finished = sum(works.values())
        for kind, work in works.items():
            self.left[kind] -= work
            if not (self.warmup and self.updates[kind] == 0):
                self.cost[kind] += cost * work / finished
                self.work[kind] += work
            self.updates[kind] += 1
        if self.done < self.price_after or any(v <= 0 for v in self.work.values()):
            return
        remaining = sum(self.cost[k] / self.work[k] * max(self.left[k], 0.0) for k in self.left)
        loop = cpu - self.cpu_before
        detail = ""
        if len(self.left) > 1 or self.warmup or len({w for _, _, w in self.runs}) > 1:
            share = loop / max(loop + remaining, 1e-12)
            detail = (f", {100 * share:.3g} % of the work by {len(self.left)} kind(s)"
                      f"{' after each kind' + chr(39) + 's first (set-up)' if self.warmup else ''}")
        self.ctx.price(cpu + remaining, self.done, self.total, self.what,
                       f"{detail} ({loop:.3g} s CPU) + {self.cpu_before:.3g} s before them")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class Outcome:
    """What a reproduction found.

    ``claim`` quotes the paper (with seed and section), ``measured`` says in markdown what we ran and
    found (with numbers), ``verdict`` is one of :data:`VERDICTS` and ``reason`` says why in one or two
    sentences with numbers (and, for a correction, which one).  ``data`` holds every number plotted,
    with trials, seeds and settings; ``figures`` are the file names (in the output folder) drawn.
    """

    title: str
    claim: str
    measured: str
    verdict: str
    reason: str
    data: dict[str, Any]
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise SgdDiagramsError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def clear_partial(ctx: Context) -> None:
    """Remove the finished pieces of ``ctx`` once its outputs are written."""
    shutil.rmtree(ctx.partial_dir, ignore_errors=True)
    parent = ctx.partial_dir.parent
    if parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
