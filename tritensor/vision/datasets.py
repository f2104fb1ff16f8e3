"""torchvision.datasets for tritensor: MNIST and FashionMNIST (IDX files on disk), CIFAR10, CIFAR100 and SVHN
(torchvision's files, md5-checked; in datasets_cifar), DatasetFolder and ImageFolder (one folder per class), FakeData
(random images, the same for an index every time).

Images come back as torchvision's do: PIL images when Pillow is installed (the `vision` extra), else uint8 NumPy
arrays (H x W for one channel, H x W x C otherwise), which `transforms.ToTensor` takes alike. Nothing is ever
downloaded: `download=True` loads files already in place and otherwise raises, saying where to put them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..creation import from_numpy, randint, randn
from ..data.datasets import (
    FASHION_MNIST_APT,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_FILES,
    FASHION_MNIST_ROOT,
    _find,
    read_idx,
)
from ..random import Generator
from ..tensor import Tensor
from .datasets_cifar import CIFAR10, CIFAR100, SVHN
from .vision_dataset import VisionDataset, _pil_image, _to_image

__all__ = ["VisionDataset", "MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "SVHN", "DatasetFolder", "ImageFolder",
           "FakeData", "IMG_EXTENSIONS", "default_loader", "pil_loader", "find_classes",
           "make_dataset", "has_file_allowed_extension"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class MNIST(VisionDataset):
    """LeCun's handwritten digits: 28x28 grey images of 10 classes (60000 train, 10000 test).

    Read from the four IDX files (plain or .gz) in `root` or in torchvision's layout `root/MNIST/raw`, so a folder
    torchvision downloaded into works as is. `.data`: uint8 (N, 28, 28); `.targets`: int64 (N,); a sample is
    (image, int label), the image a PIL image (mode L) when Pillow is installed, else a uint8 (28, 28) array.
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    # Where a Debian package puts the files (None: no package ships this dataset, root= is required).
    default_root: str | None = None
    apt_package: str | None = None

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        name = type(self).__name__
        if root is None:
            if self.default_root is None:
                raise ValueError(f"{name} has no default location (no Debian package ships it): pass root= a "
                                 f"folder holding its IDX files. {self._install_hint()}")
            root = self.default_root
        super().__init__(root, transform, target_transform)
        self.train = train
        image_name, label_name = FASHION_MNIST_FILES[bool(train)]  # MNIST's file names, which Fashion-MNIST reuses
        folders = [Path(root), Path(root) / name / "raw"]
        images = next((p for p in (_find(f, image_name) for f in folders) if p is not None), None)
        labels = next((p for p in (_find(f, label_name) for f in folders) if p is not None), None)
        if images is None or labels is None:
            # download=True with the files in place loads them, as torchvision does when they were downloaded before
            missing = image_name if images is None else label_name
            why = f"{name}: download=True cannot fetch them, tritensor downloads nothing. " if download else ""
            raise RuntimeError(f"{why}Dataset not found: no {missing}[.gz] in {folders[0]} or {folders[1]}. "
                               f"{self._install_hint()}")
        x, y = read_idx(images), read_idx(labels)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{name} files disagree: images {x.shape} ({images}), labels {y.shape} ({labels})")
        self.data: Tensor = from_numpy(np.ascontiguousarray(x, dtype=np.uint8))
        self.targets: Tensor = from_numpy(y.astype(np.int64))

    @classmethod
    def _install_hint(cls) -> str:
        files = ", ".join(FASHION_MNIST_FILES[True] + FASHION_MNIST_FILES[False])
        where = f"{files} (optionally .gz) in root= or in root/{cls.__name__}/raw (torchvision's layout)"
        if cls.apt_package is None:
            return f"Put {where}."
        return (f"Install the files with `apt-get install {cls.apt_package}` (Debian/Ubuntu; files go to "
                f"{cls.default_root}, the default root), or put {where}.")

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> label."""
        return {name: i for i, name in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, int]:
        img, target = self.data[index].numpy(), int(self.targets[index])
        return self._apply(_to_image(img), target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        """The split."""
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 clothing classes (60000 train, 10000 test), MNIST's format.

    The default root is where Debian's package puts the files (`apt-get install dataset-fashion-mnist`); otherwise
    `root` or `root/FashionMNIST/raw` as torchvision.
    """

    classes = list(FASHION_MNIST_CLASSES)
    default_root = FASHION_MNIST_ROOT
    apt_package = FASHION_MNIST_APT


def has_file_allowed_extension(filename: str, extensions: str | tuple[str, ...]) -> bool:
    """True if filename ends with one of extensions (case-insensitive)."""
    return filename.lower().endswith(extensions if isinstance(extensions, str) else tuple(extensions))


def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """The class folders of directory, sorted, and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {cls_name: i for i, cls_name in enumerate(classes)}


def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int] | None = None,
                 extensions: str | tuple[str, ...] | None = None, is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """(path, class index) of every valid file under directory/<class>/ (recursively, sorted), as torchvision."""
    directory = os.path.expanduser(directory)
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the same time")
    if extensions is not None:
        def is_valid_file(x: str) -> bool:
            return has_file_allowed_extension(x, extensions)

    instances = []
    available_classes = set()
    for target_class in sorted(class_to_idx.keys()):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    available_classes.add(target_class)
    empty_classes = set(class_to_idx.keys()) - available_classes
    if empty_classes and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty_classes))}. "
        if extensions is not None:
            msg += f"Supported extensions are: {extensions if isinstance(extensions, str) else ', '.join(extensions)}"
        raise FileNotFoundError(msg)
    return instances


def pil_loader(path: str | os.PathLike):
    """The image at path as an RGB PIL image (needs Pillow)."""
    image = _pil_image()
    if image is None:
        raise ImportError("Loading images needs Pillow: pip install tritensor[vision] (or pip install pillow)")
    with open(path, "rb") as f:
        return image.open(f).convert("RGB")


def default_loader(path: str | os.PathLike):
    """pil_loader (torchvision's default without accimage). Pillow is needed: matplotlib, the other image reader
    around, cannot stand in as it imports Pillow itself."""
    return pil_loader(path)


class DatasetFolder(VisionDataset):
    """Samples in root/<class>/**/<file>: (loader(path), class index), classes sorted by folder name.

    `classes`, `class_to_idx`, `samples` ((path, class index) pairs) and `targets` as torchvision's.
    """

    def __init__(self, root: str | os.PathLike, loader: Callable[[str], Any],
                 extensions: str | tuple[str, ...] | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None, is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx=class_to_idx, extensions=extensions,
                                    is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int],
                     extensions: str | tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        """The samples (override to change how files are collected)."""
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions=extensions, is_valid_file=is_valid_file,
                            allow_empty=allow_empty)

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        """The classes and their indices (override to change how classes are found)."""
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self) -> int:
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """A DatasetFolder of images (IMG_EXTENSIONS unless is_valid_file is given), loaded by default_loader."""

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None, loader: Callable[[str], Any] = default_loader,
                 is_valid_file: Callable[[str], bool] | None = None, allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform=transform,
                         target_transform=target_transform, is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples


class FakeData(VisionDataset):
    """size random images (standard normal pixels, as torchvision turns them into an image: x * 255 truncated to
    uint8 with wrap-around) and random labels; sample i is always the same, drawn from a generator seeded with
    i + random_offset (the global generator is not touched)."""

    def __init__(self, size: int = 1000, image_size: tuple[int, ...] = (3, 224, 224), num_classes: int = 10,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 random_offset: int = 0) -> None:
        super().__init__(None, transform, target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        g = Generator().manual_seed(index + self.random_offset)
        img = randn(*self.image_size, generator=g).numpy()
        target = int(randint(0, self.num_classes, (1,), generator=g)[0])
        # torchvision's ToPILImage: float * 255 -> byte; out-of-range values wrap (C truncation on x86).
        pixels = np.trunc(img * 255).astype(np.int64).astype(np.uint8)
        if pixels.ndim == 3:
            pixels = pixels.transpose(1, 2, 0)
            if pixels.shape[2] == 1:
                pixels = pixels[:, :, 0]
        return self._apply(_to_image(pixels), target)

    def __len__(self) -> int:
        return self.size
