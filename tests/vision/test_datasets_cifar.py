"""tritensor.vision.datasets CIFAR10/CIFAR100/SVHN on tiny files written here in torchvision's formats (pickled
batches, MATLAB .mat), the md5 check against the published table, archive extraction with download=True, and the
errors. The fake files cannot carry the published md5s, so each test pins the class's md5 table to its files
(monkeypatch), which exercises the real check; without the pin the same files are refused."""

import hashlib
import pickle
import struct
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

import tritensor as tt
from tritensor.data import DataLoader
from tritensor.vision import datasets, transforms
from tritensor.vision.datasets import CIFAR10, CIFAR100, SVHN, VisionDataset

NOT_FOUND = "^Dataset not found or corrupted"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def fake_cifar(root: Path, cls=CIFAR10, n_per_file=2, n_classes=10, seed=0):
    """root/<base_folder>/ with every batch of cls and its meta file; returns {train: (rows N x 3072, labels)}."""
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    g = np.random.default_rng(seed)
    label_key = "labels" if cls is CIFAR10 else "fine_labels"
    out = {}
    for train, files in [(True, cls.train_list), (False, cls.test_list)]:
        rows, labels = [], []
        for name, _ in files:
            data = g.integers(0, 256, (n_per_file, 3072), dtype=np.uint8)
            batch_labels = [int(t) for t in g.integers(0, n_classes, n_per_file)]
            entry = {"batch_label": name, "data": data, label_key: batch_labels,
                     "filenames": [f"{name}_{i}.png" for i in range(n_per_file)]}
            if cls is CIFAR100:
                entry["coarse_labels"] = [t // 5 for t in batch_labels]
            (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
            rows.append(data)
            labels += batch_labels
        out[train] = (np.vstack(rows), labels)
    names = [f"class_{i}" for i in range(n_classes)]
    meta = {"label_names": names} if cls is CIFAR10 else {"fine_label_names": names,
                                                          "coarse_label_names": [f"super_{i}" for i in range(20)]}
    (folder / cls.meta["filename"]).write_bytes(pickle.dumps(meta, protocol=2))
    return out


def pin_md5(monkeypatch, cls, root: Path) -> None:
    """The md5 table of cls set to the files under root (what the published md5s are to the real files)."""
    folder = root / cls.base_folder
    for table in ("train_list", "test_list"):
        monkeypatch.setattr(cls, table, [[name, md5(folder / name)] for name, _ in getattr(cls, table)])
    monkeypatch.setattr(cls, "meta", dict(cls.meta, md5=md5(folder / cls.meta["filename"])))


def test_cifar10_reads_batches(tmp_path, monkeypatch):
    ref = fake_cifar(tmp_path)
    pin_md5(monkeypatch, CIFAR10, tmp_path)
    for train, n in [(True, 10), (False, 2)]:
        ds = CIFAR10(tmp_path, train=train)
        rows, labels = ref[train]
        hwc = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        assert isinstance(ds, VisionDataset) and len(ds) == n
        assert isinstance(ds.data, np.ndarray) and ds.data.dtype == np.uint8 and ds.data.shape == (n, 32, 32, 3)
        np.testing.assert_array_equal(ds.data, hwc)
        assert ds.targets == labels and all(type(t) is int for t in ds.targets)
        img, target = ds[n - 1]
        assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
        np.testing.assert_array_equal(np.asarray(img), hwc[n - 1])
        assert target == labels[n - 1] and type(target) is int
    assert ds.classes == [f"class_{i}" for i in range(10)]
    assert ds.class_to_idx["class_7"] == 7 and len(ds.class_to_idx) == 10
    # pixel (row 1, col 2) of image 0 is byte 0*1024 + 1*32 + 2 of the red plane, + 1024 of the green one
    assert tuple(ds.data[0, 1, 2]) == tuple(ref[False][0][0, [34, 1024 + 34, 2048 + 34]])


def py2_string(text: bytes) -> bytes:
    """A Python 2 `str` as cPickle writes it (SHORT_BINSTRING), which Python 3 reads only with an encoding."""
    return b"U" + bytes([len(text)]) + text


def py2_pickle(data: np.ndarray | None, labels: list[int], names: list[str] = ()) -> bytes:
    """{'data': uint8 (N, 3072) array, 'labels': [...]} (or {'label_names': [...]}) as the published files were
    written: Python 2's protocol 2, the array through numpy.core.multiarray._reconstruct, its bytes a Python 2 str."""
    out = b"\x80\x02}q\x00("
    if data is None:
        out += py2_string(b"label_names") + b"](" + b"".join(py2_string(n.encode()) for n in names) + b"e"
    else:
        raw = data.tobytes()
        out += (py2_string(b"data") + b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
                + py2_string(b"b") + b"\x87R(K\x01K" + bytes([len(data)]) + b"M\x00\x0c\x86cnumpy\ndtype\n"
                + py2_string(b"u1") + b"K\x00K\x01\x87R(K\x03" + py2_string(b"|")
                + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T" + struct.pack("<i", len(raw)) + raw
                + b"tb" + py2_string(b"labels") + b"](" + b"".join(b"K" + bytes([t]) for t in labels) + b"e")
    return out + b"u."


def test_cifar10_reads_python2_pickles(tmp_path, monkeypatch):
    folder = tmp_path / CIFAR10.base_folder
    folder.mkdir()
    g = np.random.default_rng(2)
    rows = {}
    for name, _ in CIFAR10.train_list + CIFAR10.test_list:
        rows[name] = g.integers(0, 256, (2, 3072), dtype=np.uint8)  # bytes >= 0x80 need encoding="latin1"
        (folder / name).write_bytes(py2_pickle(rows[name], [int(rows[name][0, 0]) % 10, 9]))
    (folder / "batches.meta").write_bytes(py2_pickle(None, [], ["airplane", "automobile", "bird"]))
    pin_md5(monkeypatch, CIFAR10, tmp_path)
    ds = CIFAR10(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data, rows["test_batch"].reshape(2, 3, 32, 32).transpose(0, 2, 3, 1))
    assert ds.targets == [int(rows["test_batch"][0, 0]) % 10, 9]
    assert ds.classes == ["airplane", "automobile", "bird"]
    assert len(CIFAR10(tmp_path)) == 10


def test_cifar10_repr_transforms_loader(tmp_path, monkeypatch):
    ref = fake_cifar(tmp_path)
    pin_md5(monkeypatch, CIFAR10, tmp_path)
    ds = CIFAR10(str(tmp_path), train=False, transform=transforms.ToTensor(), target_transform=lambda t: t + 100)
    lines = repr(ds).splitlines()
    assert lines[:4] == ["Dataset CIFAR10", "    Number of datapoints: 2", f"    Root location: {tmp_path}",
                         "    Split: Test"]
    assert lines[4].startswith("    Transform: ToTensor") and lines[5].startswith("    Target transform: ")
    assert repr(CIFAR10(tmp_path)).splitlines()[3] == "    Split: Train"
    monkeypatch.setenv("HOME", str(tmp_path.parent))
    home = CIFAR10(f"~/{tmp_path.name}", train=False)  # "~" is expanded, as torchvision's VisionDataset does
    assert home.root == str(tmp_path) and home.targets == ref[False][1]
    x, y = ds[1]
    chw = ref[False][0][1].reshape(3, 32, 32)
    assert x.dtype == tt.float32 and tuple(x.shape) == (3, 32, 32)
    np.testing.assert_allclose(x.numpy(), chw / np.float32(255), rtol=1e-6)
    assert y == ref[False][1][1] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=2)))
    assert tuple(xb.shape) == (2, 3, 32, 32)
    assert yb.tolist() == [t + 100 for t in ref[False][1]]


def test_cifar10_without_pillow(tmp_path, monkeypatch):
    ref = fake_cifar(tmp_path)
    pin_md5(monkeypatch, CIFAR10, tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` now raises ImportError
    img, _ = CIFAR10(tmp_path, train=False)[0]
    assert isinstance(img, np.ndarray) and img.shape == (32, 32, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, ref[False][0][0].reshape(3, 32, 32).transpose(1, 2, 0))


def test_cifar100(tmp_path, monkeypatch):
    ref = fake_cifar(tmp_path, CIFAR100, n_per_file=3, n_classes=100, seed=1)
    pin_md5(monkeypatch, CIFAR100, tmp_path)
    ds = CIFAR100(tmp_path)
    assert len(ds) == 3 and ds.data.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(ds.data, ref[True][0].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert ds.targets == ref[True][1]  # the fine labels, not the coarse ones
    assert len(ds.classes) == 100 and ds.classes[42] == "class_42" and ds.class_to_idx["class_99"] == 99
    test = CIFAR100(tmp_path, train=False)
    assert test.targets == ref[False][1] and repr(test).splitlines()[0] == "Dataset CIFAR100"
    # CIFAR100's table is its own: CIFAR10 still wants cifar-10-batches-py
    with pytest.raises(RuntimeError, match=NOT_FOUND + ".*cifar-10-batches-py"):
        CIFAR10(tmp_path)


def test_cifar_integrity(tmp_path, monkeypatch):
    assert CIFAR10.train_list[0] == ["data_batch_1", "c99cafc152244af753f735de768cd75f"]
    assert CIFAR100.meta["md5"] == "7973b15100ade9c7d40fb424638fde48"
    with pytest.raises(RuntimeError, match=NOT_FOUND + r": no file .*cifar-10-batches-py.data_batch_1\. "
                                           r"tritensor downloads nothing: fetch https://www\.cs\.toronto\.edu"):
        CIFAR10(tmp_path)
    fake_cifar(tmp_path)
    # the published md5s refuse the fake files, whichever split is asked for
    with pytest.raises(RuntimeError, match=NOT_FOUND + ": .*data_batch_1 has md5 [0-9a-f]{32}, not the published "
                                           "c99cafc152244af753f735de768cd75f"):
        CIFAR10(tmp_path, train=False)
    pin_md5(monkeypatch, CIFAR10, tmp_path)
    assert len(CIFAR10(tmp_path)) == 10
    batch = tmp_path / CIFAR10.base_folder / "data_batch_3"
    raw = bytearray(batch.read_bytes())
    raw[-20] ^= 1
    batch.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match=NOT_FOUND + ": .*data_batch_3 has md5"):
        CIFAR10(tmp_path, train=False)  # the test split's files are intact, torchvision still refuses
    batch.unlink()
    with pytest.raises(RuntimeError, match=NOT_FOUND + ": no file .*data_batch_3"):
        CIFAR10(tmp_path)


def test_cifar_meta_missing(tmp_path, monkeypatch):
    fake_cifar(tmp_path)
    pin_md5(monkeypatch, CIFAR10, tmp_path)
    (tmp_path / CIFAR10.base_folder / "batches.meta").unlink()
    with pytest.raises(RuntimeError, match="^Dataset metadata file not found or corrupted: no file .*batches.meta"):
        CIFAR10(tmp_path)


def test_cifar_download_true(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match=NOT_FOUND + r": no file .*data_batch_1, and download=True cannot "
                                           r"fetch it \(no file .*cifar-10-python\.tar\.gz\)\. tritensor downloads "
                                           "nothing"):
        CIFAR10(tmp_path, download=True)
    # files already extracted: used as they are, as torchvision's "already downloaded and verified"
    ref = fake_cifar(tmp_path / "extracted")
    pin_md5(monkeypatch, CIFAR10, tmp_path / "extracted")
    assert CIFAR10(tmp_path / "extracted", download=True).targets == ref[True][1]
    # the archive in root (as downloaded) is extracted when its md5 is the published one
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "extracted" / CIFAR10.base_folder, arcname=CIFAR10.base_folder)
    with pytest.raises(RuntimeError, match=r"cifar-10-python\.tar\.gz has md5 [0-9a-f]{32}, not the published "
                                           "c58f30108f718f92721af3b95e74349a"):
        CIFAR10(tmp_path, download=True)
    assert not (tmp_path / CIFAR10.base_folder).exists()
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(archive))
    with pytest.raises(RuntimeError, match=NOT_FOUND):
        CIFAR10(tmp_path)  # download=False never extracts
    ds = CIFAR10(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(ds.data, ref[False][0].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert (tmp_path / CIFAR10.base_folder / "data_batch_5").is_file()


def fake_svhn(root: Path, split: str, n: int, seed=0):
    """root/{split}_32x32.mat as the Stanford files: X (32, 32, 3, N) uint8, y (N, 1) uint8 in 1..10."""
    g = np.random.default_rng(seed)
    x = g.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = g.integers(1, 11, (n, 1)).astype(np.uint8)
    y[0, 0] = 10
    path = root / f"{split}_32x32.mat"
    scipy.io.savemat(path, {"X": x, "y": y})
    return path, x, y


def pin_svhn(monkeypatch, path: Path, split: str) -> None:
    table = dict(SVHN.split_list)
    table[split] = [table[split][0], table[split][1], md5(path)]
    monkeypatch.setattr(SVHN, "split_list", table)


@pytest.mark.parametrize("split", ["train", "test", "extra"])
def test_svhn(tmp_path, monkeypatch, split):
    path, x, y = fake_svhn(tmp_path, split, 4)
    pin_svhn(monkeypatch, path, split)
    ds = SVHN(tmp_path, split=split, target_transform=lambda t: (t, type(t)))
    assert isinstance(ds.data, np.ndarray) and ds.data.dtype == np.uint8 and ds.data.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(ds.data, x.transpose(3, 2, 0, 1))
    labels = y[:, 0].astype(np.int64)
    labels[labels == 10] = 0
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == labels.tolist() and ds.labels[0] == 0
    assert len(ds) == 4
    img, (target, kind) = ds[2]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
    # torchvision's image, np.transpose(data[i], (1, 2, 0)) of the NCHW data, is the file's X[:, :, :, i]
    np.testing.assert_array_equal(np.asarray(img), x[:, :, :, 2])
    assert target == labels[2] and kind is int
    assert repr(ds).splitlines()[:4] == ["Dataset SVHN", "    Number of datapoints: 4",
                                        f"    Root location: {tmp_path}", f"    Split: {split}"]


def test_svhn_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"^Unknown value 'val' for argument split\. Valid values are "
                                         r"\{'train', 'test', 'extra'\}\.$"):
        SVHN(tmp_path, split="val")
    with pytest.raises(ValueError, match="^Expected type str for argument split, but got type <class 'bool'>"):
        SVHN(tmp_path, split=True)
    with pytest.raises(RuntimeError, match=NOT_FOUND + r": no file .*test_32x32\.mat\. tritensor downloads "
                                           r"nothing: fetch http://ufldl\.stanford\.edu/housenumbers/test_32x32"):
        SVHN(tmp_path, split="test")
    with pytest.raises(RuntimeError, match=NOT_FOUND + ": no file .*, and download=True cannot fetch it"):
        SVHN(tmp_path, download=True)
    path, _, y = fake_svhn(tmp_path, "train", 3)
    with pytest.raises(RuntimeError, match=NOT_FOUND + ": .*train_32x32.mat has md5 [0-9a-f]{32}, not the "
                                           "published e26dedcc434d2e4c54c9b2d4a06d8373"):
        SVHN(tmp_path)
    pin_svhn(monkeypatch, path, "train")
    ds = SVHN(tmp_path, download=True)  # the file in place is used as it is
    assert len(ds) == 3 and ds.labels.tolist()[1:] == [t % 10 for t in y[1:, 0].tolist()]


def test_namespace():
    assert {"CIFAR10", "CIFAR100", "SVHN", "VisionDataset"} <= set(datasets.__all__)
    assert tt.vision.datasets.CIFAR100 is CIFAR100 and issubclass(CIFAR100, CIFAR10)
    assert issubclass(SVHN, VisionDataset) and datasets.MNIST.__mro__[1] is VisionDataset
