"""pixel_shuffle / pixel_unshuffle: known values (PyTorch's channel-to-space order), the round trip, both devices,
gradcheck, batch dims, and PyTorch's errors."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck


def _shuffle_ref(x: np.ndarray, r: int) -> np.ndarray:
    *b, c, h, w = x.shape
    out = x.reshape(*b, c // (r * r), r, r, h, w)
    return np.moveaxis(out, (-4, -3), (-3, -1)).reshape(*b, c // (r * r), h * r, w * r)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_known_values_and_round_trip(device, rng):
    y = tt.pixel_shuffle(tt.arange(8.0, device=device).reshape(1, 8, 1, 1), 2)
    np.testing.assert_array_equal(y.cpu().numpy(), [[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]])
    x = rng.standard_normal((2, 3, 18, 2, 3)).astype(np.float32)  # an extra batch dim
    xt = tt.tensor(x, device=device)
    s = F.pixel_shuffle(xt, 3)
    assert s.shape == (2, 3, 2, 6, 9)
    np.testing.assert_array_equal(s.cpu().numpy(), _shuffle_ref(x, 3))
    np.testing.assert_array_equal(F.pixel_unshuffle(s, 3).cpu().numpy(), x)
    assert tt.pixel_unshuffle(tt.zeros(4, 6, device=device).reshape(1, 4, 6), 2).shape == (4, 2, 3)


def test_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((1, 8, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: tt.pixel_shuffle(t, 2), (x,))
    assert gradcheck(lambda t: tt.pixel_unshuffle(t, 2), (tt.tensor(rng.standard_normal((1, 2, 4, 6)),
                                                                  requires_grad=True),))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: tt.pixel_shuffle(tt.zeros(4, 4), 2), RuntimeError,
     "pixel_shuffle expects input to have at least 3 dimensions, but got input with 2 dimension(s)"),
    (lambda: tt.pixel_shuffle(tt.zeros(1, 4, 2, 2), 0), RuntimeError,
     "pixel_shuffle expects a positive upscale_factor, but got 0"),
    (lambda: tt.pixel_shuffle(tt.zeros(1, 6, 2, 2), 2), RuntimeError,
     "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, but "
     "input.size(-3)=6 is not divisible by 4"),
    (lambda: tt.pixel_unshuffle(tt.zeros(1, 1, 3, 4), 2), RuntimeError,
     "pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=3 is not divisible by 2"),
    (lambda: tt.pixel_unshuffle(tt.zeros(1, 1, 4, 5), 2), RuntimeError,
     "pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)=5 is not divisible by 2"),
    (lambda: tt.pixel_unshuffle(tt.zeros(1, 1, 4, 4), -1), RuntimeError,
     "pixel_unshuffle expects a positive downscale_factor, but got -1"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)
