"""Mixed-precision training tracks float32 training: the same model, data and seed trained with
autocast (fp16 + GradScaler on interpreted cuda, bf16 on cpu) and without, step by step.

Stated tolerance: every step's loss within 3% (fp16) / 6% (bf16, 8 mantissa bits) of the fp32 run's, and
the final loss below the first (both runs learn)."""

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn
from tritensor.amp import GradScaler
from tritensor.nn import functional as F

STEPS = 5
TOLERANCE = {tt.float16: 0.03, tt.bfloat16: 0.06}


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def _losses(build, device: str, amp_dtype, batch: int):
    tt.manual_seed(0)
    model = build().to(device)
    opt = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = GradScaler(device, enabled=amp_dtype is tt.float16)
    gen = np.random.default_rng(1)
    x = tt.tensor(gen.standard_normal((batch, 1, 8, 8)).astype(np.float32), device=device)
    y = tt.tensor(gen.integers(0, 10, batch), device=device)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        with tt.autocast(device, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = model(x)
            loss = F.cross_entropy(out, y)
        if amp_dtype is not None:
            assert out.dtype is amp_dtype and loss.dtype is tt.float32
        scaler.scale(loss).backward()
        assert all(p.grad.dtype is tt.float32 for p in model.parameters())
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    return np.array(losses), scaler


# The interpreter runs a convolution's tiles in NumPy: the CNN trains on 4 images, the MLP on 16.
@pytest.mark.parametrize("build,batch", [(_mlp, 16), (_cnn, 4)], ids=["mlp", "cnn"])
@pytest.mark.parametrize("device,dtype", [("cuda", tt.float16), ("cpu", tt.bfloat16)], ids=["cuda-fp16", "cpu-bf16"])
def test_mixed_precision_tracks_float32(build, batch, device, dtype):
    reference, _ = _losses(build, device, None, batch)
    mixed, scaler = _losses(build, device, dtype, batch)
    np.testing.assert_allclose(mixed, reference, rtol=TOLERANCE[dtype])
    assert mixed[-1] < mixed[0] and reference[-1] < reference[0]
    if dtype is tt.float16:
        assert scaler.get_scale() == 2.0**16  # no overflow in 5 steps: the scale holds (growth after 2000)
    else:
        assert not scaler.is_enabled() and scaler.get_scale() == 1.0
