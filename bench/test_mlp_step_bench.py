"""One MLP training step on the cpu path against a hand-written NumPy step with the same math (bench/numpy_mlp.py),
in the same run: Linear(784, 256) -> ReLU -> Linear(256, 10), mean cross_entropy, Adam(lr=1e-3), batch 64,
float32. Target (issue 21): tritensor's step <= 1.2x NumPy's. Compare the means within the group (the machine is
shared); the test first checks that both sides reach the same parameters after a few steps.

    OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_mlp_step_bench.py --benchmark-only

Run as a script for the per-phase CPU times (process_time, min over interleaved rounds: zero_grad, forward, loss,
backward, opt.step) next to the NumPy step, and their ratio:

    OPENBLAS_NUM_THREADS=1 python bench/test_mlp_step_bench.py [rounds]
"""

from __future__ import annotations

import json
import sys
import time

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


PHASES = ("zero_grad", "forward", "loss", "backward", "step")


def _phase_times(model, opt, x: tt.Tensor, y: tt.Tensor, steps: int) -> dict[str, float]:
    """Mean process_time (ms) of each phase of `steps` tritensor steps."""
    clock, total = time.process_time, dict.fromkeys(PHASES, 0.0)
    for _ in range(steps):
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        out = model(x)
        t2 = clock()
        loss = F.cross_entropy(out, y)
        t3 = clock()
        loss.backward()
        t4 = clock()
        opt.step()
        t5 = clock()
        for name, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            total[name] += dt
    return {name: 1e3 * v / steps for name, v in total.items()}


def phases(rounds: int = 15, steps: int = 20) -> dict:
    """Interleaved rounds of whole steps (tritensor, NumPy) and of tritensor's timed phases; each figure is the
    minimum over rounds (the machine is shared), in ms of CPU time."""
    model, opt, twin, x, y = make_pair()
    tx, ty = tt.from_numpy(x), tt.from_numpy(y)
    clock, best = time.process_time, {"tritensor": float("inf"), "numpy": float("inf")}
    best_phase = dict.fromkeys(PHASES, float("inf"))
    for r in range(rounds + 1):  # round 0 warms both sides up and is not counted
        t0 = clock()
        for _ in range(steps):
            tritensor_step(model, opt, tx, ty)
        t1 = clock()
        for _ in range(steps):
            twin.step(x, y)
        t2 = clock()
        part = _phase_times(model, opt, tx, ty, steps)
        if r:
            best["tritensor"] = min(best["tritensor"], 1e3 * (t1 - t0) / steps)
            best["numpy"] = min(best["numpy"], 1e3 * (t2 - t1) / steps)
            best_phase = {k: min(best_phase[k], part[k]) for k in PHASES}
    return {**best, "ratio": best["tritensor"] / best["numpy"], "phases": best_phase}


if __name__ == "__main__":
    print(json.dumps(phases(int(sys.argv[1]) if len(sys.argv) > 1 else 15), indent=1))
