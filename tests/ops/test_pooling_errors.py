"""PyTorch's errors for every pooling op, raised before any kernel runs, on cpu and interpreted cuda."""

import pytest

import tritensor as tt
import tritensor.nn.functional as F


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    return request.param


def _raises(exc, msg, fn):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == msg


def test_argument_shapes(device):
    x = tt.zeros(1, 1, 6, 6, device=device)
    _raises(RuntimeError, "max_pool2d: kernel_size must either be a single int, or a tuple of two ints",
            lambda: F.max_pool2d(x, (2, 2, 2)))
    _raises(RuntimeError, "max_pool2d: stride must either be omitted, a single int, or a tuple of two ints",
            lambda: F.max_pool2d(x, 2, (1, 1, 1)))
    _raises(RuntimeError, "max_pool2d: padding must either be a single int, or a tuple of two ints",
            lambda: F.max_pool2d(x, 2, 2, (0, 0, 0)))
    _raises(RuntimeError, "max_pool2d: dilation must be either a single int, or a tuple of two ints",
            lambda: F.max_pool2d(x, 2, 2, 0, (1, 1, 1)))
    _raises(RuntimeError, "avg_pool3d: kernel_size must be a single int, or a tuple of three ints",
            lambda: F.avg_pool3d(x, (2, 2)))
    _raises(RuntimeError, "max_pool1d() argument 'kernel_size' should contain one int (got 2)",
            lambda: F.max_pool1d(x[0], (2, 2)))


def test_geometry(device):
    x = tt.zeros(1, 2, 5, 5, device=device)
    _raises(RuntimeError, "stride should not be zero", lambda: F.max_pool2d(x, 2, 0))
    _raises(RuntimeError, "pad must be non-negative, but got pad: -1", lambda: F.avg_pool2d(x, 2, 1, -1))
    _raises(RuntimeError, "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and "
            "dilation=1", lambda: F.max_pool2d(x, 3, 1, 2))
    _raises(RuntimeError, "pad should be smaller than or equal to half of kernel size, but got padW = 2, padH = 2, "
            "kW = 3, kH = 3", lambda: F.max_pool2d(x, 3, 1, 2, dilation=2))
    _raises(RuntimeError, "stride should be greater than zero, but got dH: -1 dW: -1", lambda: F.max_pool2d(x, 2, -1))
    _raises(RuntimeError, "kernel size should be greater than zero, but got kH: 0 kW: 0", lambda: F.avg_pool2d(x, 0, 1))
    _raises(RuntimeError, "dilation should be greater than zero, but got dilationH: 0 dilationW: 0",
            lambda: F.max_pool2d(x, 2, 1, 0, 0))
    _raises(RuntimeError, "Given input size: (2x5x5). Calculated output size: (2x0x0). Output size is too small",
            lambda: F.max_pool2d(x, 6))
    _raises(RuntimeError, "kernel size should be greater than zero, but got kT: 0 kH: 0 kW: 0",
            lambda: F.max_pool3d(x, 0, 1))
    # An omitted stride is the kernel size, so a zero kernel alone fails on the stride first, as PyTorch.
    _raises(RuntimeError, "stride should not be zero", lambda: F.avg_pool2d(x, 0))
    _raises(RuntimeError, "pad should be smaller than or equal to half of kernel size, but got kT: 3 kW: 3 kH: 3 "
            "padT: 2 padW: 2 padH: 2", lambda: F.max_pool3d(x, 3, 1, 2, dilation=2))
    _raises(RuntimeError, "divisor must be not zero", lambda: F.avg_pool2d(x, 2, divisor_override=0))


def test_input_ranks_and_dtypes(device):
    _raises(RuntimeError, "non-empty 3D or 4D (batch mode) tensor expected for input",
            lambda: F.max_pool2d(tt.zeros(4, 4, device=device), 2))
    _raises(RuntimeError, "max_pool1d() Expected 2D or 3D input tensor, but got [4]",
            lambda: F.max_pool1d(tt.zeros(4, device=device), 2))
    _raises(RuntimeError, "max_pool3d: Expected 4D or 5D tensor for input, but got: [4, 4, 4]",
            lambda: F.max_pool3d(tt.zeros(4, 4, 4, device=device), 2))
    _raises(RuntimeError, "\"max_pool2d\" not implemented for 'Long'",
            lambda: F.max_pool2d(tt.zeros(1, 4, 4, dtype=tt.int64, device=device), 2))
    _raises(TypeError, "max_pool2d(): argument 'input' (position 1) must be Tensor, not list",
            lambda: F.max_pool2d([1.0], 2))


def test_adaptive(device):
    x = tt.zeros(1, 2, 5, 5, device=device)
    _raises(RuntimeError, "adaptive_avg_pool2d: output_size must be 2", lambda: F.adaptive_avg_pool2d(x, (1, 2, 3)))
    _raises(RuntimeError, "adaptive_max_pool2d(): internal error: output_size.size() must be 2",
            lambda: F.adaptive_max_pool2d(x, (1, 2, 3)))
    _raises(RuntimeError, "adaptive_avg_pool1d() argument 'output_size' should contain one int (got 2)",
            lambda: F.adaptive_avg_pool1d(x[0], (1, 2)))
    _raises(RuntimeError, "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [5, 5]",
            lambda: F.adaptive_avg_pool2d(x[0, 0], 2))
    _raises(RuntimeError, "adaptive_max_pool3d(): Expected 4D or 5D tensor, but got: [2, 5, 5]",
            lambda: F.adaptive_max_pool3d(x[0], 2))
    _raises(RuntimeError, "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, "
            "but input has sizes [1, 2, 0, 5] with dimension 2 being empty",
            lambda: F.adaptive_avg_pool2d(tt.zeros(1, 2, 0, 5, device=device), 2))


def test_max_unpool(device):
    y, i = F.max_pool2d(tt.randn(1, 1, 4, 4, device=device), 2, return_indices=True)
    _raises(ValueError, "output_size should be a sequence containing 2 or 4 elements, but it has a length of '3'",
            lambda: F.max_unpool2d(y, i, 2, output_size=(1, 4, 4)))
    _raises(ValueError, 'invalid output_size "[6, 4]" (dim 0 must be between 2 and 6)',
            lambda: F.max_unpool2d(y, i, 2, output_size=[6, 4]))
    _raises(RuntimeError, "Expected shape of indices to be same as that of the input tensor ([1, 1, 2, 2]) but got "
            "indices tensor with shape: [1, 1, 4]", lambda: F.max_unpool2d(y, i.reshape(1, 1, 4), 2))
    _raises(RuntimeError, "elements in indices should be type int64 but got: Int",
            lambda: F.max_unpool2d(y, i.to(tt.int32), 2))
    _raises(RuntimeError, "Found an invalid max index: 17 (output volumes are of size 4x4",
            lambda: F.max_unpool2d(y, tt.tensor([[[[0, 17], [2, 16]]]], device=device), 2))
    _raises(RuntimeError, "Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 2 dimensions.",
            lambda: F.max_unpool2d(y[0, 0], i[0, 0], 2))


def test_geometry_cache_keeps_the_checks():
    # pool_geometry keeps passing answers by shape, dtype and arguments: a call that would fail still fails after
    # the same shape passed (a float kernel hashes as the int one; another dtype or shape is another key).
    x = tt.randn(1, 2, 6, 6)
    assert tuple(F.max_pool2d(x, 2).shape) == (1, 2, 3, 3)
    assert tuple(F.max_pool2d(x, 2).shape) == (1, 2, 3, 3)
    with pytest.raises(RuntimeError, match="kernel_size must either be a single int, or a tuple of two ints"):
        F.max_pool2d(x, 2.0)
    with pytest.raises(RuntimeError, match="\"max_pool2d\" not implemented for 'Long'"):
        F.max_pool2d(x.to(tt.int64), 2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(tt.randn(1, 2, 1, 6), 2)
    out, idx = F.max_pool2d(tt.arange(36.0).reshape(1, 1, 6, 6), [2, 2], return_indices=True)
    assert idx.reshape(-1).tolist() == [7, 9, 11, 19, 21, 23, 31, 33, 35] and out.reshape(-1).tolist()[0] == 7.0
