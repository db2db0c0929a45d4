"""One way to name a landscape: ``landscape("helix")``, ``landscape("mean-estimation:H=2,S=1")``, a JSON path.

Spec grammar (the same in Python and on every command line as ``--landscape``)::

    example                      the bundled two-weight finite landscape (no torch needed)
    PATH.json                    a finite landscape file (see :mod:`.finite`; no torch needed)
    NAME[:KEY=VALUE,...]         a built-in: gauss, helix, mean-estimation, mean-estimation-l2,
                                 {logistic,convnet}-{digits,fashion,cifar10} (torch)

Values are numbers; keys are checked against the built-in's parameters (:mod:`.registry`).  Finite
landscapes are returned in their exact form and built-ins in their sampled (torch) form;
:func:`~.conversions.as_exact` and :func:`~.conversions.as_sampled` convert wherever needed.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from ..catalog import BUILTIN_LANDSCAPES
from ..errors import SgdDiagramsError
from .finite import FiniteLandscape, landscape_from_json, load_landscape_file

__all__ = ["landscape", "load_landscape", "parse_landscape_spec", "example_landscape"]


def example_landscape() -> FiniteLandscape:
    """The bundled example: a two-weight finite landscape with three points (``data/example.json``)."""
    text = resources.files("sgd_diagrams.data").joinpath("example.json").read_text()
    return landscape_from_json(json.loads(text), name="example")


def parse_landscape_spec(spec: str) -> tuple[str, dict[str, float]]:
    """``"mean-estimation:H=2,S=1"`` → ``("mean-estimation", {"H": 2.0, "S": 1.0})`` (numbers only)."""
    if not isinstance(spec, str) or not spec.strip():
        raise SgdDiagramsError("a landscape is named by a non-empty string, e.g. 'helix' or 'mean-estimation:H=2'")
    name, _, rest = spec.partition(":")
    params: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not eq or not key or not math.isfinite(number):
            raise SgdDiagramsError(f"bad landscape parameter {item!r}; write KEY=number, e.g. mean-estimation:H=2,S=1")
        if key in params:
            raise SgdDiagramsError(f"landscape parameter {key} is given twice")
        params[key] = number
    return name.strip(), params


def load_landscape(path: str | Path) -> FiniteLandscape:
    """A finite landscape from a JSON file (parsed, never executed)."""
    return load_landscape_file(path)


def landscape(spec: str | Path = "example", *, data_dir: str | Path | None = None, dtype: Any = None,
              **params: Any):
    """The landscape named by ``spec`` (see module docstring); ``params`` add to the spec's ``KEY=VALUE``."""
    if isinstance(spec, Path):
        return load_landscape_file(spec)
    if not isinstance(spec, str):
        raise SgdDiagramsError(f"a landscape spec is a string or a path, got {type(spec).__name__}")
    if spec == "example" and not params:
        return example_landscape()
    name, spec_params = parse_landscape_spec(spec)
    both = {**spec_params, **params}
    if name in BUILTIN_LANDSCAPES:
        from .registry import resolve_landscape

        return resolve_landscape(name, data_dir=data_dir, dtype=dtype, **both)
    if Path(spec).suffix.lower() == ".json" or Path(spec).exists():
        if params:
            raise SgdDiagramsError("a landscape file takes no parameters; edit the file instead")
        return load_landscape_file(spec)
    raise SgdDiagramsError(
        f"unknown landscape {spec!r}; use example, a finite landscape .json file, or one of "
        f"{', '.join(BUILTIN_LANDSCAPES)}"
    )
