"""One MLP training step on the cpu path against a hand-written NumPy step with the same math (bench/numpy_mlp.py),
in the same run: Linear(784, 256) -> ReLU -> Linear(256, 10), mean cross_entropy, Adam(lr=1e-3), batch 64,
float32. Target (issue 21): tritensor's step <= 1.2x NumPy's. Compare the means within the group (the machine is
shared); the test first checks that both sides reach the same parameters after a few steps.

    OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_mlp_step_bench.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy_mlp import NumpyMLP  # bench/ is on sys.path (pytest's rootdir-relative import)

import tritensor as tt
from tritensor import nn, optim
from tritensor.nn import functional as F

BATCH, D, H, C = 64, 784, 256, 10
LR = 1e-3


def make_pair(seed: int = 0):
    """(tritensor model, its Adam, the NumPy twin starting from the same weights, a batch x, y)."""
    tt.manual_seed(seed)
    model = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C))
    opt = optim.Adam(model.parameters(), lr=LR)
    twin = NumpyMLP([p.detach().numpy().copy() for p in model.parameters()], lr=LR)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, D), dtype=np.float32)
    y = rng.integers(0, C, BATCH)
    return model, opt, twin, x, y


def tritensor_step(model, opt, x: tt.Tensor, y: tt.Tensor) -> tt.Tensor:
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _same_steps(model, opt, twin, x, y, steps: int = 3) -> None:
    """Both sides take `steps` steps and must agree on the losses and the parameters."""
    tx, ty = tt.from_numpy(x), tt.from_numpy(y)
    for _ in range(steps):
        np.testing.assert_allclose(tritensor_step(model, opt, tx, ty).item(), twin.step(x, y), rtol=1e-5)
    # Adam moves a parameter by ~lr per step whatever the gradient's size, so a near-zero gradient rounded
    # differently (another summation order in a matmul) may move it differently: atol is 2% of one step.
    for p, q in zip(model.parameters(), twin.params):
        np.testing.assert_allclose(p.detach().numpy(), q, rtol=1e-4, atol=2e-5)


@pytest.mark.benchmark(group="mlp-step-784-256-10-b64-adam")
def test_numpy_mlp_step(benchmark):
    model, opt, twin, x, y = make_pair()
    _same_steps(model, opt, twin, x, y)
    benchmark(twin.step, x, y)


@pytest.mark.benchmark(group="mlp-step-784-256-10-b64-adam")
def test_tritensor_mlp_step(benchmark):
    model, opt, twin, x, y = make_pair()
    _same_steps(model, opt, twin, x, y)
    benchmark(tritensor_step, model, opt, tt.from_numpy(x), tt.from_numpy(y))
