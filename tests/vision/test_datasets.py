"""tritensor.vision.datasets: MNIST/FashionMNIST from IDX files written here (and Debian's Fashion-MNIST package),
ImageFolder/DatasetFolder on a tree of tiny PNGs, FakeData's determinism, and the errors for missing files."""

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tritensor as tt
from tritensor.data import DataLoader
from tritensor.data.datasets import FASHION_MNIST_ROOT
from tritensor.vision.datasets import (
    IMG_EXTENSIONS,
    MNIST,
    DatasetFolder,
    FakeData,
    FashionMNIST,
    ImageFolder,
    default_loader,
    find_classes,
    has_file_allowed_extension,
)


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if compress:
        path, raw = path.with_name(path.name + ".gz"), gzip.compress(raw)
    path.write_bytes(raw)


def fake_mnist(folder: Path, n_train=5, n_test=3, compress=False):
    """Tiny 28x28 IDX files of both splits; returns {train: (images, labels)}."""
    folder.mkdir(parents=True, exist_ok=True)
    g = np.random.default_rng(0)
    out = {}
    for train, n, prefix in [(True, n_train, "train"), (False, n_test, "t10k")]:
        images = g.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = g.integers(0, 10, n).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)
        out[train] = (images, labels)
    return out


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reads_idx(tmp_path, layout, compress):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    ref = fake_mnist(folder, compress=compress)
    for train in (True, False):
        ds = MNIST(tmp_path, train=train)
        images, labels = ref[train]
        assert len(ds) == len(labels)
        assert ds.data.dtype == tt.uint8 and tuple(ds.data.shape) == images.shape
        assert ds.targets.dtype == tt.int64
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels)
        img, target = ds[1]
        assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(img), images[1])
        assert target == int(labels[1]) and type(target) is int


def test_mnist_transforms_classes_repr(tmp_path):
    ref = fake_mnist(tmp_path)
    ds = MNIST(str(tmp_path), transform=lambda im: np.asarray(im, np.float32) / 255, target_transform=lambda t: -t)
    x, y = ds[2]
    np.testing.assert_allclose(x, ref[True][0][2] / np.float32(255))
    assert y == -int(ref[True][1][2])
    assert ds.classes[3] == "3 - three" and ds.class_to_idx["9 - nine"] == 9
    assert repr(ds).splitlines()[:4] == ["Dataset MNIST", "    Number of datapoints: 5",
                                        f"    Root location: {tmp_path}", "    Split: Train"]
    loader = DataLoader(MNIST(tmp_path, train=False, transform=lambda im: tt.tensor(np.asarray(im))), batch_size=2)
    xb, yb = next(iter(loader))
    assert tuple(xb.shape) == (2, 28, 28) and yb.tolist() == ref[False][1][:2].tolist()


def test_mnist_without_pillow(tmp_path, monkeypatch):
    ref = fake_mnist(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` now raises ImportError
    img, _ = MNIST(tmp_path)[0]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, ref[True][0][0])


def test_fashion_mnist(tmp_path):
    ref = fake_mnist(tmp_path / "FashionMNIST" / "raw", compress=True)
    ds = FashionMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data.numpy(), ref[False][0])
    assert ds.classes[9] == "Ankle boot" and isinstance(ds, MNIST)
    # The default root is Debian's dataset-fashion-mnist (installed by CI).
    test = FashionMNIST(train=False)
    assert test.root == FASHION_MNIST_ROOT and len(test) == 10000
    assert test.targets[:5].tolist() == [9, 2, 1, 1, 6]


def test_mnist_errors(tmp_path):
    missing = r"^Dataset not found: no train-images-idx3-ubyte\[.gz\] in .* or .*MNIST/raw"
    with pytest.raises(RuntimeError, match=missing):
        MNIST(tmp_path)
    with pytest.raises(RuntimeError, match="downloads nothing.*root/MNIST/raw"):
        MNIST(tmp_path, download=True)
    with pytest.raises(RuntimeError, match="apt-get install dataset-fashion-mnist"):
        FashionMNIST(tmp_path, download=True)
    with pytest.raises(RuntimeError, match="apt-get install dataset-fashion-mnist"):
        FashionMNIST(tmp_path)
    with pytest.raises(ValueError, match="MNIST has no default location"):
        MNIST()
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="MNIST files disagree"):
        MNIST(tmp_path)


def test_mnist_download_true_loads_files_already_there(tmp_path):
    # torchvision: "If dataset is already downloaded, it is not downloaded again."
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(raw / "train-images-idx3-ubyte", images)
    write_idx(raw / "train-labels-idx1-ubyte", np.array([3, 7], np.uint8))
    ds = MNIST(tmp_path, train=True, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.targets.tolist() == [3, 7]


def make_tree(root: Path) -> dict[str, np.ndarray]:
    """root/<class>/... PNGs (one in a nested folder), plus files that are not images."""
    g = np.random.default_rng(1)
    pixels = {}
    for rel in ["cat/b.png", "cat/a.PNG", "dog/x/deep.png", "dog/c.png", "ant/z.png"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        a = g.integers(0, 256, (2, 3, 3), dtype=np.uint8)
        Image.fromarray(a).save(path, format="PNG")
        pixels[str(path)] = a
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "README").write_text("a file beside the class folders")
    return pixels


def test_image_folder(tmp_path):
    pixels = make_tree(tmp_path)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["ant", "cat", "dog"] and ds.class_to_idx == {"ant": 0, "cat": 1, "dog": 2}
    names = [str(tmp_path / p) for p in ["ant/z.png", "cat/a.PNG", "cat/b.png", "dog/c.png", "dog/x/deep.png"]]
    assert ds.samples == list(zip(names, [0, 1, 1, 2, 2])) and ds.imgs is ds.samples
    assert ds.targets == [0, 1, 1, 2, 2] and len(ds) == 5
    for i, (path, label) in enumerate(ds.samples):
        img, target = ds[i]
        assert isinstance(img, Image.Image) and img.mode == "RGB" and target == label
        np.testing.assert_array_equal(np.asarray(img), pixels[path])
    ds = ImageFolder(tmp_path, transform=lambda im: np.asarray(im).sum(), target_transform=str,
                     is_valid_file=lambda p: p.endswith("deep.png") or "ant" in p, allow_empty=True)
    assert [s[1] for s in ds.samples] == [0, 2] and ds[1] == (int(pixels[names[4]].sum()), "2")
    assert has_file_allowed_extension("X.JPEG", IMG_EXTENSIONS) and not has_file_allowed_extension("a.txt", ".png")
    assert find_classes(tmp_path) == (["ant", "cat", "dog"], {"ant": 0, "cat": 1, "dog": 2})


def test_default_loader_without_pillow(tmp_path, monkeypatch):
    make_tree(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` now raises ImportError
    with pytest.raises(ImportError, match="needs Pillow"):
        default_loader(str(tmp_path / "cat" / "b.png"))


def test_dataset_folder(tmp_path):
    for cls, values in [("a", [1, 2]), ("b", [3])]:
        (tmp_path / cls).mkdir()
        for v in values:
            np.save(tmp_path / cls / f"{v}.npy", np.full(2, v))
    (tmp_path / "b" / "skip.txt").write_text("")
    ds = DatasetFolder(tmp_path, loader=np.load, extensions=(".npy",))
    assert [(x.tolist(), y) for x, y in (ds[i] for i in range(len(ds)))] == [([1, 1], 0), ([2, 2], 0), ([3, 3], 1)]
    assert ds.extensions == (".npy",) and ds.loader is np.load
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"^Found no valid file for the classes empty. Supported extensions "
                                                r"are: .npy$"):
        DatasetFolder(tmp_path, loader=np.load, extensions=".npy")
    assert DatasetFolder(tmp_path, loader=np.load, extensions=".npy", allow_empty=True).classes == ["a", "b", "empty"]
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None or not None"):
        DatasetFolder(tmp_path, loader=np.load)
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None or not None"):
        DatasetFolder(tmp_path, loader=np.load, extensions=".npy", is_valid_file=bool)
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder in"):
        ImageFolder(tmp_path / "a")


def test_fake_data_deterministic():
    ds = FakeData(size=4, image_size=(3, 5, 6), num_classes=3)
    img, target = ds[2]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (6, 5) and 0 <= target < 3
    np.testing.assert_array_equal(np.asarray(ds[2][0]), np.asarray(img))
    assert not np.array_equal(np.asarray(ds[1][0]), np.asarray(img))
    # Pixels: standard normals of a generator seeded with index + random_offset, * 255, truncated, wrapped to uint8.
    g = tt.Generator().manual_seed(2)
    x = tt.randn(3, 5, 6, generator=g).numpy()
    ref = (np.trunc(x * 255).astype(np.int64) % 256).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(np.asarray(img), ref)
    assert target == int(tt.randint(0, 3, (1,), generator=g)[0])
    shifted = FakeData(size=4, image_size=(3, 5, 6), num_classes=3, random_offset=1)
    np.testing.assert_array_equal(np.asarray(shifted[1][0]), np.asarray(img))
    # The global generator is untouched.
    tt.manual_seed(0)
    a = tt.rand(3).tolist()
    tt.manual_seed(0)
    ds[0]
    assert tt.rand(3).tolist() == a
    with pytest.raises(IndexError, match="^FakeData index out of range$"):
        ds[4]
    grey, _ = FakeData(2, (1, 4, 4), transform=np.asarray)[0]
    assert grey.shape == (4, 4)
    assert len(FakeData()) == 1000 and repr(ds).splitlines()[1] == "    Number of datapoints: 4"
