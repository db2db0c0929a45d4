"""Saved parameter vectors (checkpoints) read safely, to start predictions near a minimum (seed 001 Thm 2).

Accepted: a ``.npy`` array (read with ``allow_pickle=False``), or a torch file (``.pt``/``.pth``, zip format,
read with ``torch.load(weights_only=True)``, which refuses pickled code) holding a flat tensor or the model's
``state_dict``.  The vector must have the landscape's ``dim`` entries, a real floating or integer dtype,
and finite values; anything else is a one-line :class:`SgdDiagramsError`.

A checkpoint is untrusted input, so sizes are checked before anything is materialised: the file is read
through :func:`~sgd_diagrams.io.read_untrusted_bytes` (a regular file, at most a few bytes per parameter);
a ``.npy`` header's shape and dtype are checked before the array is read; a torch file's zip members'
uncompressed sizes are checked before ``torch.load`` (a small file inflating to gigabytes is refused); and
every tensor must be dense, strided, on the CPU, real, with the expected element count *before* it is
converted to float64 (a stride-0 view of 10⁸ elements is refused without allocating them).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SgdDiagramsError
from ..io import atomic_write, read_untrusted_bytes, terminal_safe

__all__ = ["load_parameter_vector", "save_parameter_vector"]

_SLACK_BYTES = 4 * 2**20  # headers, pickled key names, buffers (BatchNorm statistics) beside the parameters


def _from_array(array: Any, path: str, dim: int) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind not in "fiu":
        raise SgdDiagramsError(f"checkpoint {path} holds {a.dtype} values; it must hold real numbers")
    _check_shape(tuple(a.shape), path, dim)
    with np.errstate(all="ignore"):
        a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise SgdDiagramsError(f"checkpoint {path} contains NaN or infinity; give finite weights")
    return a


def _check_shape(shape: tuple[int, ...], path: str, dim: int) -> None:
    """θ is a flat vector of ``dim`` numbers: a (2, 325) array is not a 650-vector."""
    if shape == (dim,):
        return
    count = int(np.prod(shape, dtype=object))
    if count == dim:
        raise SgdDiagramsError(f"checkpoint {path} holds an array of shape {list(shape)}, not a flat vector of the "
                               f"model's {dim} parameters; save array.reshape(-1)")
    raise SgdDiagramsError(f"checkpoint {path} has {count} numbers but the model has {dim} parameters; save the flat "
                           "vector of this model's parameters")


def _npy_vector(data: bytes, path: str, dim: int) -> np.ndarray:
    """A ``.npy`` file's array, its header (shape, dtype) checked before the data is read."""
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                  np.lib.format.read_array_header_2_0)(fh, max_header_size=10_000)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise SgdDiagramsError(f"checkpoint {path} is not a readable .npy array ({_first(exc)})") from None
    shape, _fortran, dtype = header
    if dtype.hasobject or dtype.kind not in "fiu":
        raise SgdDiagramsError(f"checkpoint {path} is not a readable .npy array of real numbers (it holds {dtype} "
                               "values); save a float array with numpy.save")
    _check_shape(tuple(shape), path, dim)
    if len(data) - fh.tell() != dim * dtype.itemsize:
        raise SgdDiagramsError(f"checkpoint {path} is truncated or padded: its header declares {dim} values of "
                               f"{dtype}; save it again with numpy.save")
    fh.seek(0)
    try:
        array = np.load(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SgdDiagramsError(f"checkpoint {path} is not a readable .npy array ({_first(exc)})") from None
    return _from_array(array, path, dim)


def _check_zip(data: bytes, path: str, max_bytes: int) -> None:
    """Refuse a torch file that is not a zip archive, or whose members inflate beyond ``max_bytes``."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise SgdDiagramsError(f"checkpoint {path} is not a zip-format, weights-only torch file; save it with "
                               "torch.save (PyTorch >= 1.6) or as a .npy vector") from None
    total = sum(m.file_size for m in members)
    if len(members) > 100_000 or total > max_bytes:
        raise SgdDiagramsError(f"checkpoint {path} inflates to {total} bytes, more than the model's parameters "
                               f"need ({max_bytes}); save only the parameters (model.state_dict())")


def _check_tensor(t: Any, where: str, max_numel: int) -> None:
    """A dense strided CPU tensor of real numbers with at most ``max_numel`` elements (checked before use)."""
    import torch

    if t.layout != torch.strided or t.is_quantized:
        kind = "quantized" if t.is_quantized else str(t.layout).replace("torch.", "")
        raise SgdDiagramsError(f"{where} is a {kind} tensor; save dense tensors (tensor.to_dense() / dequantize())")
    if t.device.type != "cpu":
        raise SgdDiagramsError(f"{where} is on the {t.device.type} device; save CPU tensors (tensor.cpu())")
    if t.is_complex() or t.dtype == torch.bool:
        raise SgdDiagramsError(f"{where} holds {t.dtype} values; it must hold real numbers")
    if t.numel() > max_numel:
        raise SgdDiagramsError(f"{where} has {t.numel()} elements, more than the model's {max_numel} parameters")


def _torch_vector(data: bytes, path: str, landscape: Any, dim: int, max_bytes: int) -> np.ndarray:
    import torch

    _check_zip(data, path, max_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own warnings are not ours to print; errors are
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # malformed zip, pickled code refused by weights_only, …
            raise SgdDiagramsError(f"checkpoint {path} is not a weights-only torch file ({_first(exc)})") from None
    if isinstance(obj, torch.Tensor):
        _check_tensor(obj, f"checkpoint {path}", dim)
        return _from_array(obj.detach().to(torch.float64).numpy(), path, dim)
    if isinstance(obj, dict):
        if not hasattr(landscape, "flatten_state_dict"):
            raise SgdDiagramsError(f"checkpoint {path} is a state_dict; that needs a torch model landscape")
        for key, value in obj.items():
            if isinstance(value, torch.Tensor):
                _check_tensor(value, f"checkpoint {path} entry {terminal_safe(str(key))[:60]!r}", dim)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _from_array(landscape.flatten_state_dict(obj), path, dim)
    raise SgdDiagramsError(f"checkpoint {path} must hold a tensor or a state_dict, not {type(obj).__name__}")


def load_parameter_vector(path: str | Path, landscape: Any) -> np.ndarray:
    """θ read from ``path`` for ``landscape`` (its ``dim``; a state_dict needs a torch landscape)."""
    if isinstance(path, bool) or not isinstance(path, (str, Path)):
        raise SgdDiagramsError(f"checkpoint must be a file path, got {type(path).__name__}")
    path = Path(path)
    shown = terminal_safe(str(path))
    dim = int(landscape.dim)
    if path.suffix not in (".npy", ".pt", ".pth"):
        raise SgdDiagramsError(f"checkpoint {shown} must be a .npy, .pt or .pth file")
    max_bytes = 16 * dim + _SLACK_BYTES
    data = read_untrusted_bytes(path, what="checkpoint", max_bytes=max_bytes)
    if path.suffix == ".npy":
        return _npy_vector(data, shown, dim)
    return _torch_vector(data, shown, landscape, dim, max_bytes)


def save_parameter_vector(path: str | Path, theta: Any) -> None:
    """Write θ as a ``.npy`` array (atomically)."""
    vector = np.asarray(theta, dtype=np.float64).reshape(-1)
    atomic_write(path, lambda fh: np.save(fh, vector, allow_pickle=False))


def _first(exc: BaseException) -> str:
    text = terminal_safe(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
    return text[:160]
