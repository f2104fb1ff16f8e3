"""tt._amp_foreach_non_finite_check_and_unscale_ on the cpu path against the same check-and-unscale written in
plain NumPy (in-place ufuncs), over an MLP's gradients (784-256-10, float32: 203 530 elements in 4 tensors), in
the same run; and one whole GradScaler iteration (unscale_, step, update) with SGD. Compare the means within one
group (the machine is shared); nothing asserts on time.

    python -m pytest bench/test_grad_scaler_bench.py --benchmark-only --benchmark-group-by=group

On cuda the unscale is one launch per gradient dtype (tests/amp/test_grad_scaler.py counts them); its roofline
is the cost model of kernels/amp_scale.py (each element read and written once).
"""

import numpy as np

import tritensor as tt
from tritensor.amp.grad_scaler import GradScaler

SHAPES = [(256, 784), (256,), (10, 256), (10,)]


def _arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _numpy_unscale(grads, found, inv):
    for g in grads:
        if not np.isfinite(g).all():
            found[...] = 1.0
        g *= inv


def test_unscale_numpy_baseline(benchmark):
    benchmark.group = "amp unscale: mlp grads"
    grads, found = _arrays(), np.zeros((), np.float32)
    benchmark(_numpy_unscale, grads, found, np.float32(1.0 - 2.0**-20))
    assert found == 0.0


def test_unscale_op(benchmark):
    benchmark.group = "amp unscale: mlp grads"
    grads = [tt.tensor(a) for a in _arrays()]
    found, inv = tt.zeros(()), tt.full((), 1.0 - 2.0**-20)
    benchmark(tt._amp_foreach_non_finite_check_and_unscale_, grads, found, inv)
    assert found.item() == 0.0


def test_grad_scaler_iteration(benchmark):
    benchmark.group = "amp scaler iteration: mlp grads"
    params = [tt.tensor(a, requires_grad=True) for a in _arrays()]
    opt = tt.optim.SGD(params, lr=1e-6)
    scaler = GradScaler("cpu", init_scale=1.0, growth_interval=10**9)
    scaler.scale(tt.zeros(()))

    def iteration():
        for p in params:
            p.grad = tt.ones(p.shape)
        scaler.step(opt)
        scaler.update()

    benchmark(iteration)
    assert scaler.get_scale() == 1.0
