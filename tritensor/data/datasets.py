"""Datasets on disk or bundled with a library: an IDX-format reader (MNIST's format), FashionMNIST and
Digits (scikit-learn's 8x8 digits). Each is a map-style dataset with `.data` (uint8 images) and
`.targets` (int64 labels) tensors; a sample is (image, label) with optional transforms, as torchvision's.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor
from .dataset import Dataset

# IDX type codes (the third byte of the magic number) and their big-endian NumPy types.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_APT = "dataset-fashion-mnist"
FASHION_MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot"]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as a NumPy array in native byte order."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'})")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if len(raw) - header != count * dtype.itemsize:
        raise ValueError(f"{path}: expected {count * dtype.itemsize} bytes of data for shape {shape}, found "
                         f"{len(raw) - header}")
    return np.frombuffer(raw, dtype, count, header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


class _ImageDataset(Dataset):
    data: Tensor
    targets: Tensor
    classes: list[str]

    def __init__(self, transform: Callable | None, target_transform: Callable | None) -> None:
        self.transform = transform
        self.target_transform = target_transform

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Split: {split}"


class FashionMNIST(_ImageDataset):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 clothing classes (60000 train, 10000 test).

    Read from IDX files under `root` (plain or .gz); the default is where Debian's package puts them
    (`apt-get install dataset-fashion-mnist`). `.data`: uint8 (N, 28, 28); `.targets`: int64 (N,).
    """

    def __init__(self, root: str | os.PathLike = FASHION_MNIST_ROOT, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(transform, target_transform)
        if download:
            raise RuntimeError("FashionMNIST does not download; install Debian's package "
                               f"(apt-get install {FASHION_MNIST_APT}) or pass root= a folder with the IDX files")
        self.root = Path(root)
        self.train = train
        self.classes = list(FASHION_MNIST_CLASSES)
        image_name, label_name = FASHION_MNIST_FILES[bool(train)]
        images, labels = _find(self.root, image_name), _find(self.root, label_name)
        if images is None or labels is None:
            missing = image_name if images is None else label_name
            raise FileNotFoundError(
                f"Fashion-MNIST not found: no {missing}[.gz] in {self.root}. Install it with "
                f"`apt-get install {FASHION_MNIST_APT}` (Debian/Ubuntu; files go to {FASHION_MNIST_ROOT}), or pass "
                "root= a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                "and t10k-labels-idx1-ubyte (optionally .gz).")
        x, y = read_idx(images), read_idx(labels)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"Fashion-MNIST files disagree: images {x.shape}, labels {y.shape}")
        self.data = from_numpy(np.ascontiguousarray(x, dtype=np.uint8))
        self.targets = from_numpy(y.astype(np.int64))


class Digits(_ImageDataset):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, values 0..16, 10 classes).

    A fixed split (a seeded permutation; test_fraction of the samples: 1438 train, 359 test by default) makes train and
    test identical on every machine. `.data`: uint8 (N, 8, 8); `.targets`: int64 (N,). Needs
    scikit-learn: `pip install tritensor[datasets]`.
    """

    SPLIT_SEED = 0

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, test_fraction: float = 0.2) -> None:
        super().__init__(transform, target_transform)
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:
            raise ImportError("Digits needs scikit-learn (it ships the data): pip install tritensor[datasets] "
                              "(or pip install scikit-learn)") from exc
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
        self.root = root
        self.train = train
        self.classes = [str(i) for i in range(10)]
        bunch = load_digits()
        images = bunch.images.astype(np.uint8)
        labels = bunch.target.astype(np.int64)
        order = np.random.default_rng(self.SPLIT_SEED).permutation(len(labels))
        n_test = int(round(len(labels) * test_fraction))
        chosen = np.sort(order[n_test:] if train else order[:n_test])
        self.data = from_numpy(np.ascontiguousarray(images[chosen]))
        self.targets = from_numpy(labels[chosen])
