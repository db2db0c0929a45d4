"""Landscapes: distributions over per-sample losses, with an initialization θ0.

Two kinds, two declared types: :class:`ExactLandscape` (exact derivative tensors: a
:class:`FiniteLandscape`) feeds the exact theory; :class:`SampledLandscape` (per-sample torch losses:
the built-in artificial landscapes, :class:`TorchLandscape` for any model) feeds the simulators and the
estimators.  :func:`as_exact` and :func:`as_sampled` convert between them; :func:`landscape` names any
of them.  Importing this package does not import torch; the torch classes load on first use.
"""

from typing import Any

from ..values.protocol import ExactLandscape
from .conversions import as_exact, as_sampled, is_exact, is_sampled
from .finite import FiniteLandscape, landscape_from_json, load_landscape_file
from .loading import example_landscape, landscape, load_landscape, parse_landscape_spec
from .protocol import Landscape, SampledLandscape

__all__ = [
    "ExactLandscape",
    "FiniteLandscape",
    "FiniteTorchLandscape",
    "Landscape",
    "SampledLandscape",
    "TorchLandscape",
    "as_exact",
    "as_sampled",
    "example_landscape",
    "is_exact",
    "is_sampled",
    "landscape",
    "landscape_from_json",
    "load_landscape",
    "load_landscape_file",
    "parse_landscape_spec",
    "resolve_landscape",
]

_LAZY = {
    "TorchLandscape": ".torch_models",
    "FiniteTorchLandscape": ".sampled",
    "resolve_landscape": ".registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        try:
            module = import_module(_LAZY[name], __name__)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            from ..errors import SgdDiagramsError

            raise SgdDiagramsError(
                f"{name} needs torch ({exc.name} is missing); install it with "
                "pip install -c constraints.txt 'sgd-diagrams[torch]'"
            ) from None
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
