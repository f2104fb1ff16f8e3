"""torchvision's CIFAR10, CIFAR100 and SVHN for tritensor, read from the files torchvision downloads.

The files are checked against the md5s torchvision publishes (the class tables `train_list`, `test_list`, `meta`,
`split_list`, with torchvision's names and layout) before anything is unpickled or parsed, as torchvision does: a
missing, truncated or foreign file raises torchvision's "Dataset not found or corrupted" RuntimeError. Nothing is
ever downloaded: `download=True` uses what is already in root (CIFAR's .tar.gz archive is extracted when it is
there and verified) and otherwise raises, saying what to fetch and where to put it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .vision_dataset import VisionDataset, _to_image

__all__ = ["CIFAR10", "CIFAR100", "SVHN"]

_CHUNK = 1 << 20


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_problem(path: str, md5: str) -> str | None:
    """Why the file at path is not the published one (None when it is): torchvision's check_integrity, worded."""
    if not os.path.isfile(path):
        return f"no file {path}"
    got = _md5(path)
    if got != md5:
        return f"{path} has md5 {got}, not the published {md5}"
    return None


def _verify_str_arg(value: Any, arg: str, valid_values: Iterable[str]) -> str:
    """torchvision's verify_str_arg: value must be one of valid_values, with its ValueError messages."""
    if not isinstance(value, str):
        raise ValueError(f"Expected type str for argument {arg}, but got type {type(value)}.")
    valid_values = tuple(valid_values)
    if value not in valid_values:
        listed = "'" + "', '".join(valid_values) + "'"
        raise ValueError(f"Unknown value '{value}' for argument {arg}. Valid values are {{{listed}}}.")
    return value


class CIFAR10(VisionDataset):
    """Krizhevsky's CIFAR-10: 32x32 colour images of 10 classes (50000 train in five batches, 10000 test).

    Read from torchvision's layout, `root/cifar-10-batches-py/` (the extracted cifar-10-python.tar.gz):
    `data_batch_1`..`data_batch_5` or `test_batch`, pickles of N x 3072 uint8 rows (channel planes, row-major)
    and their labels, and `batches.meta` for the class names. `.data`: uint8 NumPy (N, 32, 32, 3) (HWC);
    `.targets`: list of int; `.classes`, `.class_to_idx`. A sample is (image, int label), the image a PIL RGB image
    when Pillow is installed, else the uint8 (32, 32, 3) array.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        problem = self._integrity_problem()
        if problem is not None and download:
            self._extract_archive(problem)
            problem = self._integrity_problem()
        if problem is not None:
            raise RuntimeError(f"Dataset not found or corrupted: {problem}. {self._fetch_hint()}")
        data, self.targets = [], []
        for file_name, _ in self.train_list if self.train else self.test_list:
            # Unpickling is safe here: the md5 check above admitted only the published files.
            with open(os.path.join(self.root, self.base_folder, file_name), "rb") as f:
                entry = pickle.load(f, encoding="latin1")
            data.append(entry["data"])
            self.targets.extend(int(t) for t in entry["labels" if "labels" in entry else "fine_labels"])
        # Rows are CHW planes; HWC once here so every __getitem__ hands PIL a contiguous image.
        self.data: np.ndarray = np.ascontiguousarray(np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self._load_meta()

    def _load_meta(self) -> None:
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        problem = _file_problem(path, self.meta["md5"])
        if problem is not None:
            raise RuntimeError(f"Dataset metadata file not found or corrupted: {problem}. {self._fetch_hint()}")
        with open(path, "rb") as f:
            self.classes: list[str] = list(pickle.load(f, encoding="latin1")[self.meta["key"]])
        self.class_to_idx: dict[str, int] = {name: i for i, name in enumerate(self.classes)}

    def _integrity_problem(self) -> str | None:
        # Both splits, as torchvision: a half-extracted folder is reported whichever split is asked for.
        for file_name, md5 in self.train_list + self.test_list:
            problem = _file_problem(os.path.join(self.root, self.base_folder, file_name), md5)
            if problem is not None:
                return problem
        return None

    def _fetch_hint(self) -> str:
        return (f"tritensor downloads nothing: fetch {self.url} and extract it in {self.root} (giving "
                f"{os.path.join(self.root, self.base_folder)}), or put {self.filename} in {self.root} and pass "
                "download=True to extract it.")

    def download(self) -> None:
        """torchvision's download without the network: nothing to do when the files are in place and verified,
        else extract `filename` from root when it is there with the published md5, else raise."""
        problem = self._integrity_problem()
        if problem is not None:
            self._extract_archive(problem)

    def _extract_archive(self, problem: str) -> None:
        archive = os.path.join(self.root, self.filename)
        archive_problem = _file_problem(archive, self.tgz_md5)
        if archive_problem is not None:
            raise RuntimeError(f"Dataset not found or corrupted: {problem}, and download=True cannot fetch it "
                               f"({archive_problem}). {self._fetch_hint()}")
        with tarfile.open(archive, "r:gz") as tar:
            # The "data" filter (Python 3.11.4+) refuses members landing outside root (absolute paths, .., links).
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(self.root, **safe)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], self.targets[index]
        return self._apply(_to_image(img), target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        """The split."""
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """Krizhevsky's CIFAR-100: CIFAR-10's format with 100 fine classes (50000 train, 10000 test).

    Read from `root/cifar-100-python/` (the extracted cifar-100-python.tar.gz): `train` or `test` with their
    "fine_labels", and `meta` for "fine_label_names". Attributes and samples as CIFAR10's.
    """

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}


class SVHN(VisionDataset):
    """Street View House Numbers: 32x32 colour crops of digits (73257 train, 26032 test, 531131 extra).

    Read from `root/{split}_32x32.mat` (MATLAB files, parsed by scipy.io). `.data`: uint8 NumPy (N, 3, 32, 32)
    (NCHW, as torchvision transposes it); `.labels`: int64 NumPy (N,), the files' label 10 (digit 0) mapped to 0.
    A sample is (image, int label), the image a PIL RGB image when Pillow is installed, else uint8 (32, 32, 3).
    """

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat",
                  "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat",
                 "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat", "extra_32x32.mat",
                  "a93ce644f1a588dc4d68dda5feec44a7"],
    }

    def __init__(self, root: str | os.PathLike, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.split = _verify_str_arg(split, "split", self.split_list)
        self.url, self.filename, self.file_md5 = self.split_list[split]
        problem = _file_problem(os.path.join(self.root, self.filename), self.file_md5)
        if problem is not None:
            # The .mat file is the download itself: download=True has nothing else to try.
            why = ", and download=True cannot fetch it" if download else ""
            raise RuntimeError(f"Dataset not found or corrupted: {problem}{why}. {self._fetch_hint()}")
        import scipy.io  # pylint: disable=import-outside-toplevel  # only SVHN needs it: keep it off import time

        loaded = scipy.io.loadmat(os.path.join(self.root, self.filename))
        # X is (H, W, C, N); NCHW as torchvision, made contiguous once rather than per sample.
        self.data: np.ndarray = np.ascontiguousarray(np.transpose(loaded["X"], (3, 2, 0, 1)))
        labels = loaded["y"].astype(np.int64).reshape(-1)
        labels[labels == 10] = 0  # the files label digit 0 as 10; losses want classes in [0, 10)
        self.labels: np.ndarray = labels

    def _fetch_hint(self) -> str:
        return f"tritensor downloads nothing: fetch {self.url} into {self.root}."

    def download(self) -> None:
        """torchvision's download without the network: nothing to do when the split's file is in place and
        verified, else raise saying what to fetch."""
        problem = _file_problem(os.path.join(self.root, self.filename), self.file_md5)
        if problem is not None:
            raise RuntimeError(f"Dataset not found or corrupted: {problem}, and download=True cannot fetch it. "
                               f"{self._fetch_hint()}")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.labels[index])
        return self._apply(_to_image(np.transpose(img, (1, 2, 0))), target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        """The split."""
        return f"Split: {self.split}"
