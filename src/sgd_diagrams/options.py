"""The two small option sets of the front door: how diagram values are sampled, and how a job runs.

``predict``, ``measure``, ``simulate`` and ``whatif`` take the mathematics as their own arguments (landscape,
schedule, order, η, quantity, method) and everything else in two frozen dataclasses:

* :class:`Sampling` — how diagram values are *estimated* from sampled data points (seed 001 App. C.6):
  ``samples`` K, ``seed``, ``replications`` R (standard errors), an opt-in ``cache`` directory, and for the
  resummed form from samples the ``krylov_dim`` and the ``resummation`` path (``auto``, ``dense``,
  ``matrix-free``);
* :class:`Execution` — where and how the job runs: ``backend`` (``local`` or ``ray``) and its ``address``,
  ``workers`` (local processes for simulation chunks and estimation replications; default 1), the torch
  ``device``, a ``progress`` bar on stderr, and ``force`` past the time budget.

Both validate their fields on construction (one-line :class:`~sgd_diagrams.errors.SgdDiagramsError`), so a
bad option fails where it is written.  :func:`split_legacy` maps the keyword arguments of the previous release
(``samples=``, ``backend=``, …) onto them with a ``DeprecationWarning``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .backends import check_backend, check_workers
from .errors import SgdDiagramsError
from .limits import MAX_SAMPLES

__all__ = ["RESUMMATIONS", "Execution", "Sampling", "split_legacy"]

RESUMMATIONS = ("auto", "dense", "matrix-free")
"""How a resummed prediction from samples is computed: chosen by the cost model, dense tensors, or Krylov."""


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Sampling:
    """How diagram values are estimated from sampled data points (seed 001 App. C.6); see the module docstring.

    ``samples=None`` means the exact theory (nothing is drawn); ``seed`` defaults to 0 when samples are drawn.
    """

    samples: int | None = None
    seed: int | None = None
    replications: int | None = None
    cache: str | Path | None = None
    krylov_dim: int | None = None
    resummation: str = "auto"

    def __post_init__(self) -> None:
        for name, low in (("samples", 1), ("seed", 0)):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < low):
                raise SgdDiagramsError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.samples is not None and self.samples > MAX_SAMPLES:
            raise SgdDiagramsError(f"samples={self.samples:.3g} exceeds the limit {MAX_SAMPLES:.0e}; use fewer "
                                   "samples (the standard error falls like 1/sqrt(samples))")
        if self.replications is not None and (not _is_int(self.replications) or self.replications < 2):
            raise SgdDiagramsError(f"replications must be an integer >= 2, got {self.replications!r}")
        if self.cache is not None and not isinstance(self.cache, (str, os.PathLike)):
            raise SgdDiagramsError(f"cache must be a directory path, got {type(self.cache).__name__}")
        if self.krylov_dim is not None and (not _is_int(self.krylov_dim) or self.krylov_dim < 1):
            raise SgdDiagramsError(f"krylov_dim must be a positive integer, got {self.krylov_dim!r}")
        if self.resummation not in RESUMMATIONS:
            raise SgdDiagramsError(f"resummation must be one of {', '.join(RESUMMATIONS)}, got {self.resummation!r}")


@dataclass(frozen=True)
class Execution:
    """Where and how a job runs: ``backend`` (local, ray) and ``address``, ``device``, ``progress``, ``force``,
    and ``workers``: local processes (one torch thread each) for simulation chunks and matrix-free estimation
    replications — the same numbers as one process."""

    backend: str = "local"
    address: str | None = None
    device: str | None = None
    progress: bool = False
    force: bool = False
    workers: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str):
            raise SgdDiagramsError(f"backend must be a string (local or ray), got {type(self.backend).__name__}")
        check_backend(self.backend, self.address)
        check_workers(self.workers, self.backend)
        if self.device is not None and not isinstance(self.device, str):
            raise SgdDiagramsError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        for name in ("progress", "force"):
            if not isinstance(getattr(self, name), bool):
                raise SgdDiagramsError(f"{name} must be True or False, got {getattr(self, name)!r}")


SAMPLING_FIELDS = tuple(f.name for f in fields(Sampling))
EXECUTION_FIELDS = tuple(f.name for f in fields(Execution))


def split_legacy(verb: str, sampling: Sampling | None, execution: Execution | None, options: Mapping[str, Any],
                 allowed: tuple[str, ...], stacklevel: int = 3) -> tuple[Sampling, Execution, dict[str, Any]]:
    """(sampling, execution, the remaining options): old keywords folded into the dataclasses, with a warning.

    ``options`` are the keyword arguments a verb received beyond its own parameters: names of ``allowed`` pass
    through; :class:`Sampling` or :class:`Execution` field names given the old way (``samples=K``) are folded in
    with one ``DeprecationWarning`` (refused when the dataclass passed sets the same field); anything else is
    the ``TypeError`` Python raises for an unknown keyword.
    """
    if sampling is not None and not isinstance(sampling, Sampling):
        raise SgdDiagramsError(f"sampling must be sd.Sampling(...), got {type(sampling).__name__}")
    if execution is not None and not isinstance(execution, Execution):
        raise SgdDiagramsError(f"execution must be sd.Execution(...), got {type(execution).__name__}")
    rest: dict[str, Any] = {}
    old_sampling: dict[str, Any] = {}
    old_execution: dict[str, Any] = {}
    for name, value in options.items():
        if name in allowed:
            rest[name] = value
        elif name in SAMPLING_FIELDS:
            old_sampling[name] = value
        elif name in EXECUTION_FIELDS:
            old_execution[name] = value
        else:
            raise TypeError(f"{verb}() got an unexpected keyword argument {name!r}")
    if old_sampling or old_execution:
        given = ", ".join(f"{k}=" for k in [*old_sampling, *old_execution])
        new = " and ".join(x for x, used in (("sampling=sd.Sampling(...)", old_sampling),
                                             ("execution=sd.Execution(...)", old_execution)) if used)
        warnings.warn(f"{verb}({given}) is deprecated and will be removed in the next release; pass {new}",
                      DeprecationWarning, stacklevel=stacklevel)
    return (_merged(Sampling, sampling, old_sampling, "sampling"), _merged(Execution, execution, old_execution,
                                                                           "execution"), rest)


def _merged(cls, given, old: dict[str, Any], name: str):
    if given is None:
        return cls(**old)
    clash = [k for k in old if getattr(given, k) != getattr(cls(), k)]
    if clash:
        raise SgdDiagramsError(f"{', '.join(clash)} given both in {name}= and as a keyword; give it once, in {name}=")
    return replace(given, **old) if old else given
