"""Resolve a landscape name (or a finite-landscape JSON path) to a simulation landscape.

Names: ``gauss``, ``helix``, ``mean-estimation``, ``mean-estimation-l2`` (App. C.1); ``gauss-normal``
(GAUSS' Gaussian counterpart, App. A), ``cubic-chi`` (the authors' CubicChi), ``helix-ring`` (HELIX in a loop);
``logistic-digits``, ``convnet-digits`` (offline), ``logistic-fashion``,
``convnet-fashion``, ``logistic-cifar10``, ``convnet-cifar10`` (need ``data_dir``)
(App. C.2); anything else is read as a finite landscape JSON file.

Parameters (``params``): gauss, cubic-chi ``init``; gauss-normal ``init, scale``; helix ``u, v, z`` (init);
helix-ring ``turns, radius``; mean-estimation
``H, S, init``; models ``init_seed`` (standard-normal init from that seed; default 0
for convnets, the zero init for logistic models), ``eval_size``, ``population_size``.
``dtype`` is float64 for finite/artificial landscapes and float32 for models unless given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import SgdDiagramsError
from .artificial import CubicChi, Gauss, GaussNormal, Helix, HelixRing, MeanEstimation
from .data import load_dataset
from .finite import load_landscape_file
from .protocol import Landscape
from .sampled import FiniteTorchLandscape
from .torch_models import LogisticRegression, TanhConvNet, TorchModelLandscape, standard_normal_init

__all__ = ["BUILTIN_LANDSCAPES", "resolve_landscape"]

_ARTIFICIAL_PARAMS = {
    "gauss": {"init"},
    "gauss-normal": {"init", "scale"},
    "cubic-chi": {"init"},
    "helix": {"u", "v", "z"},
    "helix-ring": {"turns", "radius"},
    "mean-estimation": {"H", "S", "init"},
    "mean-estimation-l2": {"H", "S", "init"},
}
_MODEL_PARAMS = {"init_seed", "eval_size", "population_size"}
_MODELS = {"logistic": LogisticRegression, "convnet": TanhConvNet}
_DATASETS = ("digits", "fashion", "cifar10")
BUILTIN_LANDSCAPES = tuple(_ARTIFICIAL_PARAMS) + tuple(
    f"{m}-{d}" for m in _MODELS for d in _DATASETS
)


def _check_params(name: str, params: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        allowed_txt = ", ".join(sorted(allowed)) or "none"
        raise SgdDiagramsError(
            f"landscape {name} has no parameter {unknown[0]!r}; allowed: {allowed_txt}"
        )


def _int_param(params: dict[str, Any], key: str, default: int | None) -> int | None:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SgdDiagramsError(f"landscape parameter {key} must be an integer, got {value!r}")
    return value


def resolve_landscape(
    name_or_path: str,
    *,
    data_dir: str | Path | None = None,
    dtype: torch.dtype | None = None,
    **params: Any,
) -> Landscape:
    """The landscape called ``name_or_path`` (see module docstring), built with ``params``."""
    name = str(name_or_path)
    if name in _ARTIFICIAL_PARAMS:
        _check_params(name, params, _ARTIFICIAL_PARAMS[name])
        dt = dtype or torch.float64
        if name == "gauss":
            return Gauss(params.get("init", 0.0), dtype=dt)
        if name == "gauss-normal":
            return GaussNormal(params.get("init", 0.0), params.get("scale", 1.0), dtype=dt)
        if name == "cubic-chi":
            return CubicChi(params.get("init", 0.0), dtype=dt)
        if name == "helix-ring":
            return HelixRing(params.get("turns", 5), params.get("radius"), dtype=dt)
        if name == "helix":
            return Helix(
                (params.get("u", 0.0), params.get("v", 0.0), params.get("z", 0.0)), dtype=dt
            )
        return MeanEstimation(
            params.get("H", 1.0),
            params.get("S", 1.0),
            params.get("init", 0.0),
            l2=name.endswith("-l2"),
            dtype=dt,
        )
    model_name, _, data_name = name.partition("-")
    if model_name in _MODELS and data_name in _DATASETS:
        _check_params(name, params, _MODEL_PARAMS)
        dataset = load_dataset(data_name, data_dir)
        model = _MODELS[model_name](dataset.image_shape, dataset.n_classes)
        default_seed = None if model_name == "logistic" else 0
        init = standard_normal_init(model, _int_param(params, "init_seed", default_seed))
        return TorchModelLandscape(
            model,
            dataset,
            init=init,
            name=name,
            eval_size=_int_param(params, "eval_size", 4096) or 4096,
            population_size=_int_param(params, "population_size", 256) or 256,
            dtype=dtype or torch.float32,
        )
    path = Path(name)
    if path.suffix.lower() == ".json" or path.exists():
        _check_params(name, params, set())
        return FiniteTorchLandscape(load_landscape_file(path), dtype=dtype or torch.float64)
    raise SgdDiagramsError(
        f"unknown landscape {name!r}; use one of {', '.join(BUILTIN_LANDSCAPES)} "
        "or a finite landscape .json file"
    )
