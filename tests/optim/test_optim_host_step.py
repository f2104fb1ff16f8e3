"""The optimizers' host bookkeeping (tritensor/optim/adam.py, sgd.py, optimizer.py): the step count bumped in its own
float32 memory, one row of scalars per distinct count in a group, momentum buffers created mid-training; values
against NumPy transcriptions of torch.optim's update rules."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor import optim


def _adam_ref(p, g, m, v, t, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8):
    m += (1 - b1) * (g - m)
    v *= b2
    v += (1 - b2) * g * g
    denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
    p -= lr / (1 - b1 ** t) * m / denom


def test_adam_counts_differ_within_a_group(rng):
    """A parameter without a gradient on the first step has its own count afterwards: each one's bias
    corrections use its own count."""
    vals = [rng.standard_normal(s).astype(np.float64) for s in ((3, 2), (4,))]
    ps = [tt.tensor(v, requires_grad=True) for v in vals]
    opt = optim.Adam(ps, lr=1e-2)
    ref = [v.copy() for v in vals]
    m, v = [np.zeros_like(r) for r in ref], [np.zeros_like(r) for r in ref]
    counts = [0, 0]
    for step in range(4):
        opt.zero_grad()
        active = [0] if step == 0 else [0, 1]
        loss = sum((ps[i] * ps[i] * (i + 1)).sum() for i in active)
        loss.backward()
        opt.step()
        for i in active:
            counts[i] += 1
            _adam_ref(ref[i], 2 * (i + 1) * ref[i], m[i], v[i], counts[i])
    for p, r in zip(ps, ref):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-12, atol=1e-14)
    steps = [opt.state[p]["step"] for p in ps]
    assert [s.item() for s in steps] == [4.0, 3.0]
    assert all(s.dtype is tt.float32 and s.device.type == "cpu" and s.ndim == 0 for s in steps)
    assert sorted(opt.state_dict()["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]


def test_adam_amsgrad_state_added_to_a_loaded_state(rng):
    p = tt.tensor(rng.standard_normal(5), requires_grad=True)
    opt = optim.Adam([p], lr=1e-2)
    (p * p).sum().backward()
    opt.step()
    opt.param_groups[0]["amsgrad"] = True  # the state made without amsgrad gains max_exp_avg_sq
    opt.step()
    state = opt.state[p]
    assert state["step"].item() == 2.0
    np.testing.assert_array_equal(state["max_exp_avg_sq"].numpy(), state["exp_avg_sq"].numpy())


def test_adam_sparse_gradient_error():
    p = tt.zeros(3, requires_grad=True)
    p.grad = tt.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients"):
        optim.Adam([p]).step()


def test_sgd_momentum_buffer_created_mid_training(rng):
    vals = [rng.standard_normal(4), rng.standard_normal(3)]
    ps = [tt.tensor(v, requires_grad=True) for v in vals]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1)
    ref, bufs = [v.copy() for v in vals], [None, None]
    for step in range(3):
        opt.zero_grad()
        active = [0] if step == 0 else [0, 1]
        sum((ps[i] * ps[i]).sum() for i in active).backward()
        opt.step()
        for i in active:
            g = 2 * ref[i]
            bufs[i] = g.copy() if bufs[i] is None else 0.9 * bufs[i] + 0.9 * g
            ref[i] -= 0.1 * bufs[i]
    for p, r in zip(ps, ref):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-12)
    assert "momentum_buffer" in opt.state[ps[1]]


def test_sgd_nesterov_error_at_step():
    p = tt.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    opt.param_groups[0]["dampening"] = 0.5
    p.grad = tt.ones(2)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        opt.step()
