"""tritensor.vision.transforms on PIL images (Pillow, the `vision` extra): Pillow's own operations, equal to the
NumPy/tensor path wherever torchvision promises it (crops, pads, flips, right-angle rotations, conversions)."""

import numpy as np
import pytest
from PIL import Image

import tritensor as tt
from tritensor.vision import transforms as T
from tritensor.vision.transforms import InterpolationMode
from tritensor.vision.transforms import functional as F


@pytest.fixture
def img(rng):
    return rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)


def pillow_luma(x: np.ndarray) -> np.ndarray:
    """Pillow's RGB -> L: ITU-R 601-2 luma 299/587/114 per mille, in 16-bit fixed point, rounded."""
    r, g, b = (x[..., k].astype(np.int64) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def test_to_tensor_and_pil_to_tensor(img):
    pic = Image.fromarray(img)
    np.testing.assert_array_equal(T.ToTensor()(pic).numpy(), T.ToTensor()(img).numpy())
    u8 = T.PILToTensor()(pic)
    assert u8.dtype == tt.uint8
    np.testing.assert_array_equal(u8.numpy(), img.transpose(2, 0, 1))
    f = Image.fromarray(img[:, :, 0].astype(np.float32) / 7, mode="F")  # mode F: float32, not rescaled
    np.testing.assert_array_equal(F.to_tensor(f).numpy()[0], img[:, :, 0].astype(np.float32) / 7)
    i32 = Image.fromarray(img[:, :, 0].astype(np.int32) * 300)
    assert F.to_tensor(i32).dtype == tt.int32
    binary = Image.fromarray(img[:, :, 0] > 127)  # mode 1: 0/255 then scaled to 0/1
    np.testing.assert_array_equal(F.to_tensor(binary).numpy()[0], (img[:, :, 0] > 127).astype(np.float32))


@pytest.mark.parametrize("fn", [
    lambda x: F.crop(x, 1, 2, 3, 4), lambda x: F.crop(x, -1, 6, 4, 4), lambda x: F.center_crop(x, [4, 5]),
    lambda x: F.center_crop(x, 9), lambda x: F.hflip(x), lambda x: F.vflip(x), lambda x: F.pad(x, [1, 2], fill=5),
    lambda x: F.pad(x, [2, 1, 0, 3], padding_mode="reflect"), lambda x: F.pad(x, 2, padding_mode="edge"),
    lambda x: F.pad(x, [1, 3], padding_mode="symmetric"), lambda x: F.rotate(x, 180),
    lambda x: F.rotate(x, 90, expand=True), lambda x: F.rotate(x, -90, expand=True),
])
def test_pil_equals_numpy(img, fn):
    np.testing.assert_array_equal(np.asarray(fn(Image.fromarray(img))), fn(img))


def test_grayscale_is_pillows_luma(img):
    out = T.Grayscale()(Image.fromarray(img))
    assert out.mode == "L"
    np.testing.assert_array_equal(np.asarray(out), pillow_luma(img))
    three = np.asarray(T.Grayscale(3)(Image.fromarray(img)))
    np.testing.assert_array_equal(three, np.repeat(pillow_luma(img)[:, :, None], 3, axis=2))


def test_resize_antialiased_tensor_is_close_to_pillow(img):
    pic = Image.fromarray(img)
    for size, mode in (([3, 4], InterpolationMode.BILINEAR), ([4, 5], InterpolationMode.BILINEAR),
                       ([3, 5], InterpolationMode.BICUBIC), ([9, 11], InterpolationMode.BILINEAR)):
        ours = F.resize(img, size, interpolation=mode)
        pillow = np.asarray(F.resize(pic, size, interpolation=mode))
        assert ours.shape == pillow.shape
        # Pillow resamples in 8-bit fixed point, the tensor path in float32 then rounds: at most one level apart
        assert np.abs(ours.astype(int) - pillow.astype(int)).max() <= 1
    # Pillow's NEAREST samples at pixel centres: torchvision's NEAREST_EXACT on tensors (NEAREST is PyTorch's legacy)
    exact = F.resize(img, [3, 5], InterpolationMode.NEAREST_EXACT)
    np.testing.assert_array_equal(np.asarray(F.resize(pic, [3, 5], interpolation=0)), exact)


def test_brightness_and_random_transforms_on_pil(img):
    pic = Image.fromarray(img)
    out = np.asarray(F.adjust_brightness(pic, 0.5)).astype(int)
    assert np.abs(out - np.round(img * 0.5)).max() <= 1
    assert np.asarray(F.adjust_hue(pic, 0.0)).shape == img.shape
    tt.manual_seed(4)
    a = T.RandomCrop(4, padding=1)(pic)
    tt.manual_seed(4)
    np.testing.assert_array_equal(np.asarray(a), T.RandomCrop(4, padding=1)(img))  # same draws, same crop
    assert T.RandomRotation(20, fill=(1, 2, 3))(pic).size == pic.size


def test_pil_errors(img):
    pic = Image.fromarray(img)
    with pytest.raises(ValueError, match=r"The number of elements in 'fill' does not match the number of channels"):
        F.rotate(pic, 10.0, fill=[1, 2])
    with pytest.raises(ValueError, match=r"hue_factor \(-0.7\) is not in \[-0.5, 0.5\]."):
        F.adjust_hue(pic, -0.7)
    with pytest.raises(TypeError, match="pic should be PIL Image. Got <class 'numpy.ndarray'>"):
        F.pil_to_tensor(img)
