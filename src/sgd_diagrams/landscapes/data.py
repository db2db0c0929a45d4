"""Image data sets for the classification landscapes (seed 001 App. C.2), read offline.

* ``digits`` — scikit-learn's bundled 8×8 handwritten digits (1797 images); always available.
* ``fashion`` — Fashion-MNIST from its standard IDX files (gzip or raw) in a directory you name:
  ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``.
* ``cifar10`` — CIFAR-10 "python version" pickle batches ``data_batch_1..5`` and
  ``test_batch`` in a directory you name (or its ``cifar-10-batches-py`` subfolder).

Following App. C.2 the union of all available images is treated as the true
distribution D (train and test files are pooled); training sets are drawn
from it i.i.d. with replacement.  Nothing is ever downloaded: a missing file
raises :class:`SgdDiagramsError` saying where to get it.
Pixels are scaled to [0, 1]; inputs have shape (n, channels, height, width).
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SgdDiagramsError
from ..io import read_untrusted_bytes

__all__ = [
    "ImageDataset",
    "load_digits_dataset",
    "load_fashion_mnist",
    "load_cifar10",
    "read_idx",
    "load_dataset",
]

FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
FASHION_URL = "https://github.com/zalandoresearch/fashion-mnist (folder data/fashion)"
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_IDX_BYTES = 64 * 2**20  # Fashion-MNIST's training images are 47 MB inflated
_CIFAR_BATCH_BYTES = 64 * 2**20  # one python-pickle batch is ~31 MB (10000 images of 3072 bytes)
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (extract it)"


@dataclass(frozen=True)
class ImageDataset:
    """Images (n, c, h, w) as float32 in [0, 1], integer labels (n,), and the class count."""

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    n_classes: int

    def __post_init__(self) -> None:
        if self.inputs.ndim != 4 or self.targets.shape != (self.inputs.shape[0],):
            raise SgdDiagramsError(
                f"data set {self.name} has inputs {self.inputs.shape} "
                f"and labels {self.targets.shape}; "
                "expected (n, c, h, w) and (n,)"
            )
        if self.inputs.shape[0] == 0:
            raise SgdDiagramsError(f"data set {self.name} is empty; supply at least one image")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width)."""
        c, h, w = self.inputs.shape[1:]
        return int(c), int(h), int(w)


def load_digits_dataset() -> ImageDataset:
    """scikit-learn's bundled 8×8 digits (offline), scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    return ImageDataset("digits", images, bunch.target.astype(np.int64), 10)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (unsigned-byte data, gzip-compressed or raw) into a uint8 array.

    The file is read through :func:`~sgd_diagrams.io.read_untrusted_bytes` (a regular file, bounded) and a
    gzip stream is inflated to at most :data:`_IDX_BYTES` bytes (a small file cannot inflate to gigabytes).
    """
    try:
        raw = read_untrusted_bytes(path, what="IDX", max_bytes=_IDX_BYTES)
        if path.suffix == ".gz":
            raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read(_IDX_BYTES + 1)
            if len(raw) > _IDX_BYTES:
                raise SgdDiagramsError(f"IDX file {path} inflates to more than {_IDX_BYTES} bytes; re-obtain it "
                                       f"from {FASHION_URL}")
    except (OSError, EOFError) as exc:
        raise SgdDiagramsError(
            f"cannot read IDX file {path}: {exc}; re-obtain it from {FASHION_URL}"
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise SgdDiagramsError(
            f"{path} is not an unsigned-byte IDX file (bad magic); re-obtain it from {FASHION_URL}"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise SgdDiagramsError(
            f"{path} has a truncated IDX header; re-obtain it from {FASHION_URL}"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = math.prod(shape)  # exact: np.prod would wrap around at 2**64
    if len(raw) - header != count:
        raise SgdDiagramsError(
            f"{path} should hold {count} bytes of data for shape {shape} "
            f"but holds {len(raw) - header}; "
            f"re-obtain it from {FASHION_URL}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(directory: Path, stem: str, subdirs: tuple[str, ...]) -> Path | None:
    for sub in ("",) + subdirs:
        for name in (stem + ".gz", stem):
            candidate = directory / sub / name
            if candidate.is_file():
                return candidate
    return None


def load_fashion_mnist(directory: str | Path) -> ImageDataset:
    """Fashion-MNIST (train and t10k pooled) from its standard IDX files in ``directory``."""
    root = Path(directory)
    subdirs = ("fashion", "FashionMNIST/raw", "fashion-mnist")
    paths = {stem: _find(root, stem, subdirs) for stem in FASHION_FILES}
    missing = [stem for stem, p in paths.items() if p is None]
    if missing:
        raise SgdDiagramsError(
            f"Fashion-MNIST file {missing[0]}(.gz) not found in {root}; "
            f"download the four IDX files from {FASHION_URL} "
            "into that directory (no automatic download)"
        )
    images, labels = [], []
    for split in ("train", "t10k"):
        x = read_idx(paths[f"{split}-images-idx3-ubyte"])
        y = read_idx(paths[f"{split}-labels-idx1-ubyte"])
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise SgdDiagramsError(
                f"Fashion-MNIST {split} images {x.shape} and labels {y.shape} do not match; "
                "re-obtain the files"
            )
        images.append(x)
        labels.append(y)
    inputs = (np.concatenate(images).astype(np.float32) / 255.0)[:, None, :, :]
    targets = np.concatenate(labels).astype(np.int64)
    if targets.max(initial=0) > 9:
        raise SgdDiagramsError(
            "Fashion-MNIST labels must lie in 0..9; the label files look corrupt"
        )
    return ImageDataset("fashion", inputs, targets, 10)


# The only globals a genuine CIFAR-10 batch references: numpy's array reconstruction (numpy 1 and 2
# spellings) and the byte-string codec Python 3 uses for protocol-2 bytes.  Anything else is refused.
_CIFAR_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain data (dict, list, bytes, str, int, numpy arrays and dtypes) and nothing else."""

    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) in _CIFAR_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: data files may only hold data")


def load_cifar10(directory: str | Path) -> ImageDataset:
    """CIFAR-10 (all five training batches and the test batch pooled) from the python pickles."""
    root = Path(directory)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    missing = [name for name in CIFAR_FILES if not (root / name).is_file()]
    if missing:
        raise SgdDiagramsError(
            f"CIFAR-10 batch {missing[0]} not found in {root}; "
            f"download {CIFAR_URL} into that directory (no automatic download)"
        )
    images, labels = [], []
    for name in CIFAR_FILES:
        try:
            raw = read_untrusted_bytes(root / name, what="CIFAR-10 batch", max_bytes=_CIFAR_BATCH_BYTES)
            batch = _DataOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                IndexError, KeyError, MemoryError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise SgdDiagramsError(f"cannot read CIFAR-10 batch {root / name}: {reason}; re-download it") from None
        if not isinstance(batch, dict):
            raise SgdDiagramsError(
                f"CIFAR-10 batch {root / name} is not a pickled dict; re-download it"
            )
        data = batch.get(b"data", batch.get("data"))
        lab = batch.get(b"labels", batch.get("labels"))
        if data is None or lab is None:
            raise SgdDiagramsError(
                f"CIFAR-10 batch {root / name} lacks data/labels; re-download it"
            )
        data = np.asarray(data, dtype=np.uint8)
        lab = np.asarray(lab, dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != lab.shape[0]:
            raise SgdDiagramsError(
                f"CIFAR-10 batch {root / name} has data {data.shape} and {lab.shape[0]} labels; "
                "expected (n, 3072) and n labels"
            )
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    inputs = np.concatenate(images).astype(np.float32) / 255.0
    targets = np.concatenate(labels)
    if targets.min(initial=0) < 0 or targets.max(initial=0) > 9:
        raise SgdDiagramsError("CIFAR-10 labels must lie in 0..9; the batches look corrupt")
    return ImageDataset("cifar10", inputs, targets, 10)


def load_dataset(name: str, data_dir: str | Path | None = None) -> ImageDataset:
    """Load ``digits``, ``fashion`` or ``cifar10`` (the latter two need ``data_dir``)."""
    if name == "digits":
        return load_digits_dataset()
    if name in ("fashion", "cifar10"):
        if data_dir is None:
            raise SgdDiagramsError(
                f"the {name} data set needs --data-dir pointing at its files; nothing is downloaded"
            )
        return load_fashion_mnist(data_dir) if name == "fashion" else load_cifar10(data_dir)
    raise SgdDiagramsError(f"unknown data set {name!r}; use digits, fashion or cifar10")
