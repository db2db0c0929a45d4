"""Where a report came from: commit, versions, machine, command, time, warnings.

:func:`provenance` gathers what the running process can know; :func:`capture_warnings` records every warning
a run raises (and shows it as usual afterwards).  Fields a re-rendered report cannot know are filled with
:data:`NOT_RECORDED` rather than guessed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import subprocess
import sys
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["NOT_RECORDED", "PROVENANCE_FIELDS", "capture_warnings", "git_state", "now_utc", "provenance"]

NOT_RECORDED = "not recorded (this report was written before provenance was recorded)"
PROVENANCE_FIELDS = ("commit", "dirty", "version", "python", "numpy", "scipy", "torch", "cpu", "cpu_count",
                     "threads", "platform", "started", "argv", "wall_seconds", "cpu_seconds", "warnings")


def now_utc() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def git_state() -> dict[str, Any]:
    """The commit of the source tree this package is imported from, and whether the package's tracked source
    differs from it (``dirty``; output folders inside the checkout, such as docs/reproductions, do not count)."""
    package = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(package), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(package), "status", "--porcelain", "--untracked-files=no", "--",
                                 "."], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown (not run from a git checkout)", "dirty": "unknown"}
    return {"commit": head, "dirty": bool(status.strip())}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _threads() -> dict[str, Any]:
    out: dict[str, Any] = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset")}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = int(torch.get_num_threads())
    return out


def provenance() -> dict[str, Any]:
    """Commit, versions, machine and invocation of this process (the time fields are added by the runner)."""
    from ... import __version__

    return {**git_state(), "version": __version__, "python": platform.python_version(),
            "numpy": _version("numpy"), "scipy": _version("scipy"), "torch": _version("torch"),
            "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "threads": _threads(),
            "platform": platform.platform(), "argv": " ".join(["sgd-diagrams", *sys.argv[1:]])
            if Path(sys.argv[0]).name in ("sgd-diagrams", "__main__.py", "cli") else " ".join(sys.argv)}


@contextlib.contextmanager
def capture_warnings() -> Iterator[list[str]]:
    """Record every warning raised inside (as "Category: message", once each), then show them as usual."""
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield seen
        finally:
            pending = list(caught)
    for w in pending:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.append(text)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
