"""F.grid_sample through the op layer: cpu and cuda against the reference, float64 gradcheck in input and grid
(every supported mode and padding, both devices), cuda backward vs cpu, the grad_fn name, bf16, PyTorch's
warning and errors, and the NotImplementedError of what is not supported."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck


def _operands(rng, device, dtype=tt.float64):
    x = tt.tensor(rng.standard_normal((1, 2, 4, 3)), dtype=dtype, device=device, requires_grad=True)
    g = tt.tensor(rng.uniform(-1.2, 1.2, (1, 3, 2, 2)), dtype=dtype, device=device, requires_grad=True)
    return x, g


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("mode,pad,align", [("bilinear", "zeros", False), ("bilinear", "border", True),
                                            ("nearest", "zeros", True), ("nearest", "border", False)])
def test_gradcheck(device, mode, pad, align, rng):
    x, g = _operands(rng, device)
    assert gradcheck(lambda a, b: F.grid_sample(a, b, mode=mode, padding_mode=pad, align_corners=align), (x, g))


def test_cuda_matches_cpu_and_name(rng):
    results = []
    for device in ("cpu", "cuda"):
        x, g = _operands(np.random.default_rng(1), device, tt.float32)
        y = F.grid_sample(x, g, align_corners=False)
        assert y.grad_fn.name() == "GridSampler2DBackward0"
        y.backward(tt.ones_like(y))
        results.append([y.detach().cpu().numpy(), x.grad.cpu().numpy(), g.grad.cpu().numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_bfloat16_cuda(rng):
    x = rng.standard_normal((1, 2, 4, 3)).astype(np.float32)
    g = rng.uniform(-1, 1, (1, 3, 2, 2)).astype(np.float32)
    ref = F.grid_sample(tt.tensor(x), tt.tensor(g), align_corners=True).numpy()
    got = F.grid_sample(tt.tensor(x, device="cuda").bfloat16(), tt.tensor(g, device="cuda").bfloat16(),
                        align_corners=True)
    np.testing.assert_allclose(got.float().cpu().numpy(), ref, atol=5e-2)


def test_cuda_backward_alerts_under_deterministic_algorithms(rng):
    x, g = _operands(rng, "cuda")
    y = F.grid_sample(x, g, align_corners=False)
    try:
        tt.use_deterministic_algorithms(True)
        with pytest.raises(RuntimeError, match="grid_sampler_2d_backward_cuda does not have a deterministic"):
            y.sum().backward(retain_graph=True)
        tt.use_deterministic_algorithms(True, warn_only=True)
        with pytest.warns(UserWarning, match="grid_sampler_2d_backward_cuda does not have a deterministic"):
            y.sum().backward()
    finally:
        tt.use_deterministic_algorithms(False)


def test_default_align_corners_warns():
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
        F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 2))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 2), mode="area", align_corners=False), ValueError,
     "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'area'"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 2), padding_mode="wrap", align_corners=False),
     ValueError, "expected padding_mode to be 'zeros', 'border', or 'reflection', but got: 'wrap'"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(2, 1, 1, 2), align_corners=False), RuntimeError,
     "grid_sampler(): expected grid and input to have same batch size, but got input with sizes [1, 1, 2, 2] and "
     "grid with sizes [2, 1, 1, 2]"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 3), align_corners=False), RuntimeError,
     "grid_sampler(): expected grid to have size 2 in last dimension, but got grid with sizes [1, 1, 1, 3]"),
    (lambda: F.grid_sample(tt.zeros(1, 2, 2), tt.zeros(1, 1, 2), align_corners=False), RuntimeError,
     "grid_sampler(): expected 4D or 5D input and grid with same number of dimensions"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 0, 2), tt.zeros(1, 1, 1, 2), align_corners=False), RuntimeError,
     "grid_sampler(): expected input to have non-empty spatial dimensions, but input has sizes [1, 1, 0, 2] with "
     "dimension 2 being empty"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 2, dtype=tt.float64), align_corners=False),
     RuntimeError, "grid_sampler(): expected input and grid to have same dtype"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 2, device="cuda"), align_corners=False),
     RuntimeError, "grid_sampler(): expected input and grid to be on same device"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2, 2), tt.zeros(1, 1, 1, 1, 3), mode="bicubic", align_corners=False),
     RuntimeError, "grid_sampler(): bicubic interpolation only supports 4D input"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 2), mode="bicubic", align_corners=False),
     NotImplementedError, "grid_sample: mode='bicubic' is not implemented"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2), tt.zeros(1, 1, 1, 2), padding_mode="reflection",
                           align_corners=False), NotImplementedError, "padding_mode='reflection' is not implemented"),
    (lambda: F.grid_sample(tt.zeros(1, 1, 2, 2, 2), tt.zeros(1, 1, 1, 1, 3), align_corners=False),
     NotImplementedError, "grid_sample: 5-D input is not implemented"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)
