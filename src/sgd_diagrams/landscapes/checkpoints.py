"""Saved parameter vectors (checkpoints) read safely, to start predictions near a minimum (seed 001 Thm 2).

Accepted: a ``.npy`` array (read with ``allow_pickle=False``), or a torch file (``.pt``/``.pth``, read with
``torch.load(weights_only=True)``, which refuses pickled code) holding a flat tensor or the model's
``state_dict``.  The vector must have the landscape's ``dim`` entries, a real floating or integer dtype,
and finite values; anything else is a one-line :class:`SgdDiagramsError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SgdDiagramsError
from ..io import atomic_write

__all__ = ["load_parameter_vector", "save_parameter_vector"]


def _from_array(array: Any, path: Path, dim: int) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind not in "fiu":
        raise SgdDiagramsError(f"checkpoint {path} holds {a.dtype} values; it must hold real numbers")
    a = a.astype(np.float64).reshape(-1)
    if a.shape != (dim,):
        raise SgdDiagramsError(f"checkpoint {path} has {a.size} numbers but the model has {dim} parameters")
    if not np.all(np.isfinite(a)):
        raise SgdDiagramsError(f"checkpoint {path} contains NaN or infinity; give finite weights")
    return a


def load_parameter_vector(path: str | Path, landscape: Any) -> np.ndarray:
    """θ read from ``path`` for ``landscape`` (its ``dim``; a state_dict needs a torch landscape)."""
    path = Path(path)
    dim = int(landscape.dim)
    if not path.is_file():
        raise SgdDiagramsError(f"checkpoint {path} does not exist or is not a file")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise SgdDiagramsError(f"checkpoint {path} is not a readable .npy array ({_first(exc)})") from None
        return _from_array(array, path, dim)
    if path.suffix not in (".pt", ".pth"):
        raise SgdDiagramsError(f"checkpoint {path} must be a .npy, .pt or .pth file")
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # malformed zip, pickled code refused by weights_only, …
        raise SgdDiagramsError(f"checkpoint {path} is not a weights-only torch file ({_first(exc)})") from None
    if isinstance(obj, torch.Tensor):
        if obj.is_complex() or obj.dtype == torch.bool:
            raise SgdDiagramsError(f"checkpoint {path} holds {obj.dtype} values; it must hold real numbers")
        return _from_array(obj.detach().to(torch.float64).numpy(), path, dim)
    if isinstance(obj, dict):
        if not hasattr(landscape, "flatten_state_dict"):
            raise SgdDiagramsError(f"checkpoint {path} is a state_dict; that needs a torch model landscape")
        return _from_array(landscape.flatten_state_dict(obj), path, dim)
    raise SgdDiagramsError(f"checkpoint {path} must hold a tensor or a state_dict, not {type(obj).__name__}")


def save_parameter_vector(path: str | Path, theta: Any) -> None:
    """Write θ as a ``.npy`` array (atomically)."""
    vector = np.asarray(theta, dtype=np.float64).reshape(-1)
    atomic_write(path, lambda fh: np.save(fh, vector, allow_pickle=False))


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
