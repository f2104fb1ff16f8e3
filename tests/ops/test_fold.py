"""F.unfold / F.fold through the op layer: cpu and cuda agree with the references, gradcheck both ways (each is
the other's backward), unbatched forms, grad_fn names and PyTorch's errors."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_round_trip_and_unbatched(device, rng):
    x = rng.standard_normal((2, 3, 5, 6))
    xt = tt.tensor(x, device=device)
    u = F.unfold(xt, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    assert u.shape == (2, 18, 12) and u.grad_fn is None
    # non-overlapping patches: fold(unfold(x)) == x
    v = F.fold(F.unfold(xt[:, :, :4], 2, stride=2), (4, 6), 2, stride=2)
    np.testing.assert_array_equal(v.cpu().numpy(), x[:, :, :4])
    assert F.unfold(xt[0], 2).shape == (12, 20)
    assert F.fold(tt.ones(12, 20, device=device), (5, 6), 2).shape == (3, 5, 6)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_gradcheck_and_names(device, rng):
    x = tt.tensor(rng.standard_normal((1, 1, 4, 3)), device=device, requires_grad=True)
    assert gradcheck(lambda t: F.unfold(t, (2, 2), padding=(1, 0), stride=(2, 1)), (x,))
    c = tt.tensor(rng.standard_normal((1, 4, 8)), device=device, requires_grad=True)
    assert gradcheck(lambda t: F.fold(t, (3, 4), 2, dilation=(1, 2), padding=(1, 1), stride=(2, 1)), (c,))
    assert F.unfold(x, 2).grad_fn.name() == "Im2ColBackward0"
    assert F.fold(c, (3, 4), 2, dilation=(1, 2), padding=(1, 1), stride=(2, 1)).grad_fn.name() == "Col2ImBackward0"


def test_cuda_matches_cpu_fp32(rng):
    x = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)
    outs = [F.fold(F.unfold(tt.tensor(x, device=d), 3, padding=1), (7, 5), 3, padding=1).cpu().numpy()
            for d in ("cpu", "cuda")]
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("call,msg", [
    (lambda: F.unfold(tt.zeros(1, 1, 3, 3), 0), "kernel size should be greater than zero, but got kernel_height: 0"),
    (lambda: F.unfold(tt.zeros(1, 1, 3, 3), 2, stride=(1, 0)),
     "stride should be greater than zero, but got stride_height: 1 stride_width: 0"),
    (lambda: F.unfold(tt.zeros(1, 1, 3, 3), 2, dilation=0), "dilation should be greater than zero"),
    (lambda: F.unfold(tt.zeros(1, 1, 3, 3), 2, padding=-1), "padding should be non-negative, but got pad_height: -1"),
    (lambda: F.unfold(tt.zeros(3, 3), 2), "Expected 3D or 4D (batch mode) tensor input with possible 0 batch size"),
    (lambda: F.unfold(tt.zeros(1, 1, 3, 3), 4),
     "Given input with spatial size (3, 3), kernel_size=(4, 4), dilation=(1, 1), padding=(0, 0), calculated shape "
     "of the array of sliding blocks as (0, 0), which is too small (non-positive)."),
    (lambda: F.fold(tt.zeros(5), (3, 3), 2), "Expected 2D or 3D (batch mode) tensor for input"),
    (lambda: F.fold(tt.zeros(1, 6, 4), (3, 3), 2),
     "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got input.size(1)=6 "
     "and kernel_size=(2, 2)."),
    (lambda: F.fold(tt.zeros(1, 4, 5), (3, 3), 2),
     "Given output_size=(3, 3), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), stride=(1, 1), expected size "
     "of input's dimension 2 to match the calculated number of sliding blocks 2 * 2 = 4, but got input.size(2)=5."),
])
def test_errors(call, msg):
    with pytest.raises(RuntimeError) as info:
        call()
    assert msg in str(info.value)
