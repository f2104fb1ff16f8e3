"""tritensor.vision.transforms, geometry: crops, pads, flips, resize and rotation on tensors (cpu and cuda) and
NumPy images, against NumPy references of their documented math."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor.vision import transforms as T
from tritensor.vision.transforms import InterpolationMode
from tritensor.vision.transforms import functional as F


@pytest.fixture
def img(rng):
    return rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)  # HWC, as PIL would give


def chw(a: np.ndarray) -> tt.Tensor:
    return tt.tensor(np.ascontiguousarray(a.transpose(2, 0, 1)))


def hwc(t: tt.Tensor) -> np.ndarray:
    return t.numpy().transpose(1, 2, 0)


def bilinear_ref(a: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """align_corners=False bilinear of a [C, H, W] float64 array, no antialias (PyTorch's convention)."""
    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0
    y0, y1, ly = axis(a.shape[1], oh)
    x0, x1, lx = axis(a.shape[2], ow)
    rows = a[:, y0] * (1 - ly)[None, :, None] + a[:, y1] * ly[None, :, None]
    return rows[:, :, x0] * (1 - lx) + rows[:, :, x1] * lx


def nearest_ref(a: np.ndarray, oh: int, ow: int) -> np.ndarray:
    ys = np.minimum(np.floor(np.arange(oh) * (a.shape[1] / oh)).astype(int), a.shape[1] - 1)
    xs = np.minimum(np.floor(np.arange(ow) * (a.shape[2] / ow)).astype(int), a.shape[2] - 1)
    return a[:, ys][:, :, xs]


def box2_ref(a: np.ndarray) -> np.ndarray:
    """Antialiased bilinear downscale by exactly 2 along W: taps [1, 3, 3, 1] / 8, renormalised at the borders."""
    w = a.shape[-1]
    out = np.zeros(a.shape[:-1] + (w // 2,))
    for i in range(w // 2):
        taps = [(2 * i - 1, 1.0), (2 * i, 3.0), (2 * i + 1, 3.0), (2 * i + 2, 1.0)]
        taps = [(j, c) for j, c in taps if 0 <= j < w]
        out[..., i] = sum(c * a[..., j] for j, c in taps) / sum(c for _, c in taps)
    return out


def test_crop_center_crop_and_flips_are_slices(img):
    t = chw(img)
    np.testing.assert_array_equal(hwc(F.crop(t, 1, 2, 4, 5)), img[1:5, 2:7])
    np.testing.assert_array_equal(F.crop(img, 1, 2, 4, 5), img[1:5, 2:7])
    np.testing.assert_array_equal(hwc(F.center_crop(t, [3, 4])), img[2:5, 2:6])
    np.testing.assert_array_equal(T.CenterCrop(5)(img), img[1:6, 2:7])
    np.testing.assert_array_equal(hwc(F.hflip(t)), img[:, ::-1])
    np.testing.assert_array_equal(F.vflip(img), img[::-1])
    batch = tt.stack([t, F.hflip(t)])
    np.testing.assert_array_equal(F.vflip(batch).numpy(), batch.numpy()[:, :, ::-1])


def test_crop_outside_and_center_crop_larger_pad_with_zeros(img):
    out = F.crop(img, -1, 7, 3, 4)  # one row above, two columns right of the image
    ref = np.zeros((3, 4, 3), np.uint8)
    ref[1:, :2] = img[0:2, 7:9]
    np.testing.assert_array_equal(out, ref)
    big = F.center_crop(chw(img), [9, 12])
    ref = np.zeros((9, 12, 3), np.uint8)
    ref[1:8, 1:10] = img
    np.testing.assert_array_equal(hwc(big), ref)


@pytest.mark.parametrize("mode,np_mode", [("edge", "edge"), ("reflect", "reflect"), ("symmetric", "symmetric")])
@pytest.mark.parametrize("padding", [2, [1, 3], [1, 0, 3, 2]])
def test_pad_modes_equal_numpy_pad(img, mode, np_mode, padding):
    p = [padding] * 4 if isinstance(padding, int) else padding * 2 if len(padding) == 2 else padding
    left, top, right, bottom = p
    ref = np.pad(img, ((top, bottom), (left, right), (0, 0)), np_mode)
    np.testing.assert_array_equal(F.pad(img, padding, padding_mode=mode), ref)
    assert F.pad(chw(img), padding, padding_mode=mode).dtype == tt.uint8


def test_pad_constant_fill_and_negative_padding(img):
    ref = np.pad(img, ((2, 2), (1, 1), (0, 0)), constant_values=7)
    np.testing.assert_array_equal(F.pad(img, [1, 2], fill=7), ref)
    np.testing.assert_array_equal(hwc(F.pad(chw(img), [-1, 0, 0, -2], padding_mode="symmetric")), img[:-2, 1:])


def test_resize_output_size_rules(img):
    t = chw(img)  # H=7, W=9: the smaller edge is H
    assert F.resize(t, 14).shape == (3, 14, 18)
    assert F.resize(t, [5]).shape == (3, 5, 6)
    long = tt.zeros(1, 4, 10)
    assert F.resize(long, 3).shape == (1, 3, 7)
    assert F.resize(long, 3, max_size=5).shape == (1, 2, 5)  # 3 x 7 capped at 5 on the longer edge
    assert F.resize(t, (3, 11)).shape == (3, 3, 11)
    assert F.resize(t, [7, 9]) is t  # same size: returned as is
    assert T.Resize(6)(img).shape == (6, 7, 3)


@pytest.mark.parametrize("size", [(4, 5), (11, 13), (7, 4)])
def test_resize_bilinear_and_nearest_against_numpy(img, size):
    x = img.transpose(2, 0, 1).astype(np.float32) / 255
    t = tt.tensor(x)
    out = F.resize(t, list(size), antialias=False)  # float32 arithmetic: within float32 rounding of the reference
    np.testing.assert_allclose(out.numpy(), bilinear_ref(x.astype(np.float64), *size), rtol=0, atol=2e-6)
    near = F.resize(t, list(size), interpolation=InterpolationMode.NEAREST)
    np.testing.assert_array_equal(near.numpy(), nearest_ref(x, *size))
    near_u8 = F.resize(img, list(size), interpolation=0)  # PIL's NEAREST constant; uint8 stays uint8
    np.testing.assert_array_equal(near_u8, nearest_ref(img.transpose(2, 0, 1), *size).transpose(1, 2, 0))


def test_resize_uint8_rounds_the_float_result(img):
    out = F.resize(chw(img), [4, 5], antialias=False)
    ref = np.round(bilinear_ref(img.transpose(2, 0, 1).astype(np.float64), 4, 5))
    assert out.dtype == tt.uint8
    assert np.abs(out.numpy().astype(int) - ref).max() <= 1  # float32 arithmetic may land on the other side of .5
    assert (out.numpy().astype(int) == ref).mean() > 0.9


def test_resize_antialias_downscale_and_upscale(rng):
    x = rng.random((2, 3, 8)).astype(np.float64)
    out = F.resize(tt.tensor(x), [3, 4])  # antialias=True by default: H is kept, W halves
    np.testing.assert_allclose(out.numpy(), box2_ref(x), rtol=1e-12, atol=1e-12)
    up = F.resize(tt.tensor(x), [5, 11])  # no antialiasing to do when upscaling: plain bilinear
    np.testing.assert_allclose(up.numpy(), bilinear_ref(x, 5, 11), rtol=1e-12, atol=1e-12)


def test_rotate_by_right_angles_equals_rot90(rng):
    sq = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    for k in (1, 2, 3):
        np.testing.assert_array_equal(F.rotate(sq, 90 * k), np.rot90(sq, k))
        bil = F.rotate(chw(sq).float(), 90.0 * k, interpolation=InterpolationMode.BILINEAR)
        np.testing.assert_allclose(hwc(bil), np.rot90(sq, k).astype(np.float32), atol=1e-3)
    rect = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(F.rotate(rect, 90, expand=True), np.rot90(rect))


def test_rotate_fill_outside_and_center(rng):
    x = np.ones((5, 5, 1), np.float32)
    out = F.rotate(x, 45, fill=[2.0])
    assert out[0, 0, 0] == 2.0 and out[2, 2, 0] == 1.0  # corners come from outside the image
    moved = F.rotate(chw(np.arange(25, dtype=np.float32).reshape(5, 5, 1)), 90, center=[0.5, 0.5])
    assert float(moved[0, 0, 0]) == 0.0  # the top-left pixel is the centre of rotation: it stays


def test_rotate_bilinear_against_numpy_sampling(rng):
    x = rng.random((1, 6, 6))
    ang = 30.0
    out = F.rotate(tt.tensor(x), ang, interpolation=InterpolationMode.BILINEAR).numpy()
    # Each output pixel centre, rotated back about the image centre, sampled bilinearly (zeros outside).
    c, s = math.cos(math.radians(ang)), math.sin(math.radians(ang))
    ref = np.zeros((6, 6))
    for i in range(6):
        for j in range(6):
            xo, yo = j + 0.5 - 3, i + 0.5 - 3
            xs, ys = c * xo - s * yo + 3 - 0.5, s * xo + c * yo + 3 - 0.5
            x0, y0 = math.floor(xs), math.floor(ys)
            for yy, wy in ((y0, 1 - (ys - y0)), (y0 + 1, ys - y0)):
                for xx, wx in ((x0, 1 - (xs - x0)), (x0 + 1, xs - x0)):
                    if 0 <= yy < 6 and 0 <= xx < 6:
                        ref[i, j] += wy * wx * x[0, yy, xx]
    np.testing.assert_allclose(out[0], ref, atol=1e-5)


def test_cuda_matches_cpu(img):
    t = chw(img)
    c = t.to("cuda")
    for fn in (lambda a: F.resize(a, [4, 6]), lambda a: F.resize(a, [9, 11], antialias=False),
               lambda a: F.rotate(a, 33.0, interpolation=InterpolationMode.BILINEAR, fill=[255.0, 0.0, 9.0]),
               lambda a: F.pad(a, [1, 2, 0, 3], padding_mode="symmetric"), lambda a: F.hflip(F.crop(a, 1, 1, 4, 4))):
        out = fn(c)
        assert out.device.type == "cuda"
        np.testing.assert_array_equal(out.cpu().numpy(), fn(t).numpy())


def test_random_crop_is_a_slice_and_seeded(img):
    tt.manual_seed(3)
    out = T.RandomCrop(4)(img)
    tt.manual_seed(3)
    i = int(tt.randint(0, 7 - 4 + 1, size=(1,)).item())
    j = int(tt.randint(0, 9 - 4 + 1, size=(1,)).item())
    np.testing.assert_array_equal(out, img[i:i + 4, j:j + 4])
    padded = T.RandomCrop((9, 11), padding=1)(img)  # exactly the padded size: the whole padded image
    np.testing.assert_array_equal(padded, np.pad(img, ((1, 1), (1, 1), (0, 0))))
    grown = T.RandomCrop((8, 10), pad_if_needed=True, padding_mode="edge")(chw(img))
    assert grown.shape == (3, 8, 10)


def test_random_resized_crop_is_seeded_resized_crop(img):
    t = chw(img).float()
    tt.manual_seed(11)
    out = T.RandomResizedCrop(5, scale=(0.3, 1.0))(t)
    tt.manual_seed(11)
    i, j, h, w = T.RandomResizedCrop.get_params(t, (0.3, 1.0), (3 / 4, 4 / 3))
    assert 0 < h <= 7 and 0 < w <= 9 and 0 <= i <= 7 - h and 0 <= j <= 9 - w
    np.testing.assert_array_equal(out.numpy(), F.resize(t[:, i:i + h, j:j + w], [5, 5]).numpy())


def test_random_flips_and_rotation_draw_from_the_default_generator(img):
    assert np.array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[:, ::-1])
    assert np.array_equal(T.RandomVerticalFlip(p=0.0)(img), img)
    tt.manual_seed(5)
    flips = [T.RandomHorizontalFlip()(img) for _ in range(8)]
    tt.manual_seed(5)
    draws = [float(tt.rand(1).item()) < 0.5 for _ in range(8)]
    for out, flipped in zip(flips, draws):
        np.testing.assert_array_equal(out, img[:, ::-1] if flipped else img)
    tt.manual_seed(9)
    rot = T.RandomRotation((10, 40), fill=3)(chw(img))
    tt.manual_seed(9)
    angle = T.RandomRotation.get_params([10.0, 40.0])
    assert 10 <= angle <= 40
    np.testing.assert_array_equal(rot.numpy(), F.rotate(chw(img), angle, fill=[3.0] * 3).numpy())
