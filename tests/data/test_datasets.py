"""The IDX reader, FashionMNIST (Debian's dataset-fashion-mnist package, and IDX files written here) and
Digits (scikit-learn's bundled digits): values, splits and the install hints when data is missing."""

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

import tritensor as tt
from tritensor.data import DataLoader, Digits, FashionMNIST, read_idx
from tritensor.data.datasets import FASHION_MNIST_ROOT


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B, np.dtype(np.int32): 0x0C,
             np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    a = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    path = write_idx(tmp_path / "a-idx3", a, compress)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.shape == (2, 3, 5)
    np.testing.assert_array_equal(b, a)


def test_read_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    path = write_idx(tmp_path / "short", np.zeros(4, np.uint8))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="expected 4 bytes of data for shape \\(4,\\), found 3"):
        read_idx(path)


def _fake_fashion(root: Path, n: int, compress: bool) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(0)
    images = g.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = g.integers(0, 10, n).astype(np.uint8)
    for train in (True, False):
        prefix = "train" if train else "t10k"
        write_idx(root / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_fashion_mnist_from_a_folder(tmp_path, compress):
    images, labels = _fake_fashion(tmp_path, 5, compress)
    ds = FashionMNIST(tmp_path, train=False, transform=lambda x: x.float() / 255, target_transform=lambda y: y + 100)
    assert len(ds) == 5 and ds.data.dtype is tt.uint8 and ds.targets.dtype is tt.int64
    np.testing.assert_array_equal(ds.data.numpy(), images)
    img, target = ds[3]
    assert img.dtype is tt.float32 and img.shape == (28, 28) and target == labels[3] + 100
    np.testing.assert_allclose(img.numpy(), images[3] / 255, rtol=1e-6)
    xb, yb = next(iter(DataLoader(FashionMNIST(tmp_path), batch_size=4)))
    assert xb.shape == (4, 28, 28) and xb.dtype is tt.uint8 and yb.tolist() == labels[:4].tolist()


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as info:
        FashionMNIST(tmp_path / "nowhere")
    assert "train-images-idx3-ubyte" in str(info.value)
    with pytest.raises(RuntimeError, match="does not download"):
        FashionMNIST(tmp_path, download=True)


def test_fashion_mnist_debian_package():
    """The real data, as Debian's dataset-fashion-mnist installs it (the default root)."""
    assert Path(FASHION_MNIST_ROOT, "train-images-idx3-ubyte.gz").is_file(), \
        "install the data: apt-get install dataset-fashion-mnist"
    train, test = FashionMNIST(), FashionMNIST(train=False)
    assert (len(train), len(test)) == (60000, 10000)
    assert train.data.shape == (60000, 28, 28) and train.data.dtype is tt.uint8
    assert train.targets[:5].tolist() == [9, 0, 0, 3, 0] and test.targets[:5].tolist() == [9, 2, 1, 1, 6]
    assert np.bincount(train.targets.numpy()).tolist() == [6000] * 10
    assert int(train.data[0].numpy().sum()) == 76247 and train.classes[9] == "Ankle boot"
    assert train[0][1] == 9 and "Number of datapoints: 60000" in repr(train)


def test_digits_split_is_fixed_and_disjoint():
    from sklearn.datasets import load_digits

    train, test = Digits(), Digits(train=False)
    assert (len(train), len(test)) == (1438, 359)
    assert train.data.shape == (1438, 8, 8) and train.data.dtype is tt.uint8 and int(train.data.numpy().max()) == 16
    bunch = load_digits()
    all_images = {bytes(img.astype(np.uint8)) + bytes([t]) for img, t in zip(bunch.images, bunch.target)}
    train_set = {bytes(x) + bytes([y]) for x, y in zip(train.data.numpy(), train.targets.numpy())}
    test_set = {bytes(x) + bytes([y]) for x, y in zip(test.data.numpy(), test.targets.numpy())}
    assert train_set | test_set == all_images
    assert Digits().targets.tolist() == train.targets.tolist()  # the same split every time
    assert sorted(set(test.targets.tolist())) == list(range(10))
    img, label = Digits(transform=lambda x: x.float() / 16)[0]
    assert img.dtype is tt.float32 and float(img.numpy().max()) <= 1.0 and isinstance(label, int)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install tritensor\[datasets\]"):
        Digits()
