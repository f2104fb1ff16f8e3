"""tritensor.vision.transforms: conversions, Normalize, Compose/Lambda, seeded pipelines, argument errors with
torchvision's messages, and that Pillow stays optional."""

import subprocess
import sys

import numpy as np
import pytest

import tritensor as tt
from tritensor.vision import transforms as T
from tritensor.vision.transforms import functional as F


def test_to_tensor_scales_uint8_and_moves_channels_first(rng):
    hwc = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    out = T.ToTensor()(hwc)
    assert out.dtype == tt.float32 and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out.numpy(), (hwc.transpose(2, 0, 1).astype(np.float32) / 255))
    gray = T.ToTensor()(hwc[:, :, 0])  # [H, W] is one channel
    assert gray.shape == (1, 4, 5)
    f = rng.random((4, 5, 2)).astype(np.float64)  # other dtypes: values and dtype kept
    out = F.to_tensor(f)
    assert out.dtype == tt.float64
    np.testing.assert_array_equal(out.numpy(), f.transpose(2, 0, 1))
    assert F.to_tensor(hwc.astype(np.int16)).dtype == tt.int16


def test_normalize_values_inplace_and_batches(rng):
    x = rng.random((2, 3, 4, 4)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    ref = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    t = tt.tensor(x)
    out = T.Normalize(mean, std)(t)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(t.numpy(), x)  # not in place by default
    same = F.normalize(t, mean, std, inplace=True)
    assert same is t
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-6, atol=1e-7)
    cuda = T.Normalize(mean, std)(tt.tensor(x).to("cuda"))
    np.testing.assert_allclose(cuda.cpu().numpy(), ref, rtol=1e-6, atol=1e-7)


def test_normalize_errors():
    with pytest.raises(TypeError, match=r"Input tensor should be a float tensor. Got tritensor.uint8."):
        F.normalize(tt.zeros(3, 2, 2, dtype=tt.uint8), [0.5] * 3, [0.5] * 3)
    with pytest.raises(ValueError, match=r"Expected tensor to be a tensor image of size \(..., C, H, W\)"):
        F.normalize(tt.zeros(2, 2), [0.5], [0.5])
    with pytest.raises(ValueError, match="std evaluated to zero after conversion to tritensor.float32"):
        F.normalize(tt.zeros(3, 2, 2), [0.5] * 3, [0.5, 0.0, 0.5])
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(4\) must match the size of tensor b \(3\)"):
        F.normalize(tt.zeros(4, 2, 2), [0.5] * 3, [0.5] * 3)  # wrong channel count: PyTorch's broadcast error
    with pytest.raises(TypeError, match="img should be Tensor Image. Got <class 'numpy.ndarray'>"):
        F.normalize(np.zeros((3, 2, 2), np.float32), [0.5] * 3, [0.5] * 3)


def test_compose_lambda_and_seeded_pipeline(rng):
    img = rng.integers(0, 256, size=(10, 10, 3), dtype=np.uint8)
    pipeline = T.Compose([T.RandomCrop(8, padding=2, padding_mode="reflect"), T.RandomHorizontalFlip(),
                          T.ColorJitter(0.3, 0.3, 0.3, 0.05), T.RandomRotation(15), T.ToTensor(),
                          T.Lambda(lambda t: t * 2), T.Normalize([0.5] * 3, [0.5] * 3)])
    tt.manual_seed(7)
    a = [pipeline(img).numpy() for _ in range(3)]
    tt.manual_seed(7)
    b = [pipeline(img).numpy() for _ in range(3)]
    for x, y in zip(a, b):
        assert x.shape == (3, 8, 8)
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])  # successive draws differ
    expected = "Compose(\n    ToTensor()\n    Grayscale(num_output_channels=1)\n)"
    assert repr(T.Compose([T.ToTensor(), T.Grayscale()])) == expected


def test_transforms_are_modules_on_tensors():
    t = tt.rand(3, 6, 6)
    seq = tt.nn.Sequential(T.CenterCrop(4), T.Normalize([0.0] * 3, [1.0] * 3))
    np.testing.assert_array_equal(seq(t).numpy(), t.numpy()[:, 1:5, 1:5])


@pytest.mark.parametrize("make,exc,msg", [
    (lambda: T.Resize([1, 2, 3]), ValueError, "If size is a sequence, it should have 1 or 2 values"),
    (lambda: T.Resize(2.5), TypeError, "Size should be int or sequence. Got <class 'float'>"),
    (lambda: T.CenterCrop([1, 2, 3]), ValueError, r"Please provide only two dimensions \(h, w\) for size."),
    (lambda: T.RandomCrop((1, 2, 3)), ValueError, r"Please provide only two dimensions \(h, w\) for size."),
    (lambda: T.RandomRotation(-5), ValueError, "If degrees is a single number, it must be positive."),
    (lambda: T.RandomRotation([1, 2, 3]), ValueError, "degrees should be a sequence of length 2."),
    (lambda: T.RandomRotation(5, center=3), TypeError, "center should be a sequence of length 2."),
    (lambda: T.RandomRotation(5, fill={0: 1}), TypeError, "Fill should be either a sequence or a number."),
    (lambda: T.RandomHorizontalFlip(p=1.5), ValueError, r"`p` should be a floating point value in the interval"),
    (lambda: T.RandomVerticalFlip(p=-0.1), ValueError, r"`p` should be a floating point value in the interval"),
    (lambda: T.RandomResizedCrop(4, scale=0.5), TypeError, "Scale should be a sequence"),
    (lambda: T.RandomResizedCrop(4, ratio=1.0), TypeError, "Ratio should be a sequence"),
    (lambda: T.Lambda(3), TypeError, "Argument lambd should be callable, got 'int'"),
    (lambda: T.Resize(4, interpolation="bilinear"), TypeError, "Argument interpolation should be a InterpolationMode"),
])
def test_constructor_errors(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make()


def test_call_errors():
    t = tt.rand(3, 4, 4)
    with pytest.raises(ValueError, match=r"Required crop size \(5, 5\) is larger than input image size \(4, 4\)"):
        T.RandomCrop(5)(t)
    with pytest.raises(ValueError, match="max_size should only be passed if size specifies the length of the smaller"):
        F.resize(t, [2, 2], max_size=5)
    with pytest.raises(ValueError, match=r"max_size = 3 must be strictly greater than the requested size for the "):
        F.resize(t, 3, max_size=3)
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4 element tuple, not a 3 element tuple"):
        F.pad(t, [1, 2, 3])
    with pytest.raises(ValueError, match="Padding mode should be either constant, edge, reflect or symmetric"):
        F.pad(t, 1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Interpolation mode 'bicubic' is unsupported with Tensor input"):
        F.rotate(t, 10.0, interpolation=T.InterpolationMode.BICUBIC)
    with pytest.raises(TypeError, match="Argument angle should be int or float"):
        F.rotate(t, "10")
    with pytest.raises(TypeError, match=r"pic should be PIL Image or ndarray. Got <class 'list'>"):
        F.to_tensor([1, 2])
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions."):
        F.to_tensor(np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(TypeError, match=r"img should be PIL Image. Got <class 'list'>"):
        F.hflip([1, 2])
    with pytest.raises(TypeError, match="Tensor is not a torch image."):
        F.hflip(tt.zeros(3))


def test_pillow_is_imported_lazily():
    code = ("import sys, numpy as np\nfrom tritensor.vision import transforms as T\n"
            "T.Compose([T.RandomCrop(2), T.ToTensor()])(np.zeros((3, 3, 3), np.uint8))\n"
            "print('PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
