"""Offline data readers: digits, Fashion-MNIST IDX files and CIFAR-10 pickles (tiny test files)."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.landscapes.data import (
    load_cifar10,
    load_dataset,
    load_digits_dataset,
    load_fashion_mnist,
    read_idx,
)


def _write_idx(path, array, compress=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def _fashion(directory, n_train=5, n_test=3, compress=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = rng.integers(0, 10, size=n)
        _write_idx(directory / f"{split}-images-idx3-ubyte{suffix}", images, compress)
        _write_idx(directory / f"{split}-labels-idx1-ubyte{suffix}", labels, compress)
    return rng


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_reader_roundtrip(tmp_path, compress):
    _fashion(tmp_path, compress=compress)
    data = load_fashion_mnist(tmp_path)
    assert data.inputs.shape == (8, 1, 28, 28) and data.targets.shape == (8,)
    assert 0.0 <= data.inputs.min() and data.inputs.max() <= 1.0
    raw = read_idx(tmp_path / ("train-images-idx3-ubyte" + (".gz" if compress else "")))
    np.testing.assert_allclose(data.inputs[:5, 0], raw / 255.0, rtol=1e-6)


def test_fashion_missing_files_explain_how_to_obtain(tmp_path):
    with pytest.raises(SgdDiagramsError, match="download") as info:
        load_fashion_mnist(tmp_path)
    assert "\n" not in str(info.value)


def test_idx_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "x"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(SgdDiagramsError, match="magic"):
        read_idx(bad)
    short = tmp_path / "y"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00\x01")
    with pytest.raises(SgdDiagramsError, match="should hold"):
        read_idx(short)


def _cifar(directory, n=4):
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, size=n).tolist(),
        }
        with open(directory / name, "wb") as fh:
            pickle.dump(batch, fh)


def test_cifar_reader_roundtrip(tmp_path):
    sub = tmp_path / "cifar-10-batches-py"
    sub.mkdir()
    _cifar(sub)
    data = load_cifar10(tmp_path)
    assert data.inputs.shape == (24, 3, 32, 32)
    with open(sub / "data_batch_1", "rb") as fh:
        first = pickle.load(fh)
    np.testing.assert_allclose(data.inputs[0].reshape(-1), first[b"data"][0] / 255.0, rtol=1e-6)
    assert data.targets[:4].tolist() == first[b"labels"]


def test_cifar_missing_and_corrupt(tmp_path):
    with pytest.raises(SgdDiagramsError, match="download"):
        load_cifar10(tmp_path)
    _cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(SgdDiagramsError, match="cannot read"):
        load_cifar10(tmp_path)


def test_digits_offline_and_data_dir_required():
    data = load_digits_dataset()
    assert data.inputs.shape == (1797, 1, 8, 8) and data.n_classes == 10
    with pytest.raises(SgdDiagramsError, match="--data-dir"):
        load_dataset("cifar10", None)


class _Payload:
    """A pickle that would run code on load (os.system creating a marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_pickles_are_data_never_code(tmp_path, protocol):
    """A crafted batch is refused in one line and nothing runs; genuine numpy-array batches still load."""
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": b"x", b"data": rng.integers(0, 256, size=(2, 3072), dtype=np.uint8),
                 b"labels": [1, 2], b"filenames": [b"a.png", b"b.png"]}
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=protocol)
    assert load_cifar10(tmp_path).inputs.shape == (12, 3, 32, 32)
    marker = tmp_path / "pwned"
    with open(tmp_path / "data_batch_3", "wb") as fh:
        pickle.dump({b"data": _Payload(marker), b"labels": [0]}, fh, protocol=protocol)
    with pytest.raises(SgdDiagramsError, match="refusing to load") as info:
        load_cifar10(tmp_path)
    assert "\n" not in str(info.value) and not marker.exists()
