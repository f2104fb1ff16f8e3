"""tritensor.vision.transforms, colour: grayscale, brightness/contrast/saturation blends, hue (against an
independent NumPy HSV round trip), ColorJitter's seeded draws, on tensors (cpu and cuda) and NumPy images."""

import colorsys

import numpy as np
import pytest

import tritensor as tt
from tritensor.vision import transforms as T
from tritensor.vision.transforms import functional as F


@pytest.fixture
def rgb(rng):
    return rng.random((3, 5, 6)).astype(np.float32)  # a float CHW image in [0, 1]


def gray_ref(x: np.ndarray) -> np.ndarray:
    # torchvision's tensor weights (0.2989, not Pillow's 0.299; see test_transforms_pil for Pillow's)
    return 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def test_grayscale_float_and_uint8(rgb, rng):
    out = F.rgb_to_grayscale(tt.tensor(rgb))
    assert out.shape == (1, 5, 6)
    np.testing.assert_allclose(out.numpy()[0], gray_ref(rgb.astype(np.float64)), rtol=0, atol=1e-6)
    three = T.Grayscale(num_output_channels=3)(tt.tensor(rgb)).numpy()
    np.testing.assert_array_equal(three, np.repeat(out.numpy(), 3, axis=0))
    u8 = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)  # HWC NumPy: truncated back to uint8
    ref = np.floor(gray_ref(u8.transpose(2, 0, 1).astype(np.float32)))
    got = F.rgb_to_grayscale(u8)
    assert got.dtype == np.uint8 and got.shape == (4, 4)
    assert np.abs(got.astype(int) - ref).max() <= 1  # float32 products vs float64: only at exact integers
    assert (got == ref).mean() > 0.9


@pytest.mark.parametrize("factor", [0.0, 0.4, 1.7])
def test_brightness_contrast_saturation_blends(rgb, factor):
    t = tt.tensor(rgb)
    x = rgb.astype(np.float64)
    np.testing.assert_allclose(F.adjust_brightness(t, factor).numpy(), np.clip(factor * x, 0, 1), atol=1e-6)
    mean = gray_ref(x).mean()
    np.testing.assert_allclose(F.adjust_contrast(t, factor).numpy(),
                               np.clip(factor * x + (1 - factor) * mean, 0, 1), atol=1e-6)
    np.testing.assert_allclose(F.adjust_saturation(t, factor).numpy(),
                               np.clip(factor * x + (1 - factor) * gray_ref(x)[None], 0, 1), atol=1e-6)


def test_uint8_blend_clamps_and_truncates(rng):
    u8 = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
    out = F.adjust_brightness(tt.tensor(u8), 1.5)
    assert out.dtype == tt.uint8
    ref = np.clip(np.float32(1.5) * u8.astype(np.float32), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out.numpy(), ref)
    gray = T.Grayscale()(tt.tensor(u8[:1]))  # one channel: saturation and hue leave it as is
    assert F.adjust_saturation(gray, 0.2) is gray and F.adjust_hue(gray, 0.3) is gray


@pytest.mark.parametrize("hue", [-0.5, -0.21, 0.0, 0.13, 0.5])
def test_hue_against_colorsys_round_trip(rgb, hue):
    out = F.adjust_hue(tt.tensor(rgb), hue).numpy()
    ref = np.empty_like(rgb, dtype=np.float64)
    for i in range(rgb.shape[1]):
        for j in range(rgb.shape[2]):
            h, s, v = colorsys.rgb_to_hsv(*(float(c) for c in rgb[:, i, j]))
            ref[:, i, j] = colorsys.hsv_to_rgb((h + hue) % 1.0, s, v)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-6)


def test_hue_uint8_goes_through_float_and_back(rng):
    u8 = rng.integers(0, 256, size=(5, 5, 3), dtype=np.uint8)
    out = F.adjust_hue(u8, 0.25)
    assert out.dtype == np.uint8 and out.shape == u8.shape
    ref = np.empty(u8.shape)
    for i in range(5):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*(u8[i, j] / 255.0))
            ref[i, j] = colorsys.hsv_to_rgb((h + 0.25) % 1.0, s, v)
    # float -> uint8 is (x * (255 + 1 - 1e-3)) truncated, as torchvision's convert_image_dtype
    ref = np.floor(ref * (256 - 1e-3))
    assert np.abs(out.astype(int) - ref).max() <= 1 and (out == ref).mean() > 0.9


def test_color_jitter_draws_like_torchvision(rgb):
    jitter = T.ColorJitter(brightness=0.5, contrast=(0.2, 0.9), saturation=0.3, hue=0.1)
    assert jitter.brightness == (0.5, 1.5) and jitter.hue == (-0.1, 0.1)
    tt.manual_seed(21)
    out = jitter(tt.tensor(rgb))
    tt.manual_seed(21)
    order = tt.randperm(4).tolist()
    b, c, s, h = ((tt.rand(1) * (hi - lo) + lo).item() for lo, hi in ((0.5, 1.5), (0.2, 0.9), (0.7, 1.3), (-0.1, 0.1)))
    ref = tt.tensor(rgb)
    fns = {0: lambda x: F.adjust_brightness(x, b), 1: lambda x: F.adjust_contrast(x, c),
           2: lambda x: F.adjust_saturation(x, s), 3: lambda x: F.adjust_hue(x, h)}
    for k in order:
        ref = fns[k](ref)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert T.ColorJitter().brightness is None  # nothing to jitter: nothing drawn


def test_cuda_matches_cpu(rgb):
    t, c = tt.tensor(rgb), tt.tensor(rgb).to("cuda")
    for fn in (lambda x: F.adjust_hue(x, 0.3), lambda x: F.adjust_contrast(x, 0.6),
               lambda x: F.adjust_saturation(x, 1.4), lambda x: T.Grayscale(3)(x)):
        out = fn(c)
        assert out.device.type == "cuda"
        np.testing.assert_allclose(out.cpu().numpy(), fn(t).numpy(), rtol=0, atol=1e-6)


def test_errors(rgb):
    t = tt.tensor(rgb)
    with pytest.raises(ValueError, match=r"brightness_factor \(-0.1\) is not non-negative."):
        F.adjust_brightness(t, -0.1)
    with pytest.raises(ValueError, match=r"hue_factor \(0.6\) is not in \[-0.5, 0.5\]."):
        F.adjust_hue(t, 0.6)
    with pytest.raises(TypeError, match=r"permitted channel values are \[1, 3\], but found 2"):
        F.adjust_saturation(t[:2], 0.5)
    with pytest.raises(ValueError, match="num_output_channels should be either 1 or 3"):
        F.rgb_to_grayscale(t, 2)
    with pytest.raises(ValueError, match="If brightness is a single number, it must be non negative."):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match=r"hue values should be between \(-0.5, 0.5\), but got \[-0.6, 0.6\]."):
        T.ColorJitter(hue=0.6)
    with pytest.raises(TypeError, match="contrast should be a single number or a list/tuple with length 2."):
        T.ColorJitter(contrast=[1, 2, 3])
