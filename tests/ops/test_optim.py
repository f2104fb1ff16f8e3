"""The fused multi-tensor optimizer step (tritensor/ops/optim.py over kernels/optim_multi.py): the kernel in
Triton's interpreter against each rule's NumPy reference (the cpu path) on the same inputs, one launch per
(dtype) bucket for a whole list, strided operands, and the checks made before anything is updated."""

import numpy as np
import pytest
from tritensor.kernels import optim_multi, tuning

import tritensor as tt
from tritensor.ops.optim import fused_step_
from tritensor.optim.adam import adam_scalars

# (rtol, atol) of the kernel against the reference on the same inputs: fp32 math in both, so only fused
# multiply-adds and the last rounding to a 16-bit type differ.
TOL = {tt.float32: (2e-6, 1e-7), tt.float16: (2e-3, 1e-4), tt.bfloat16: (1.6e-2, 1e-3), tt.float64: (1e-12, 1e-14)}
# one element, one partial block, and (with the 4096-element minimum chunk) a tensor of two chunks
SIZES = [(1,), (37,), (3, 5), (4100,)]

SGD_CASES = [
    (dict(maximize=False, weight_decay=False, momentum=False, nesterov=False), 0, (0.1, 0.0, 0.0, 1.0, 0.0)),
    (dict(maximize=True, weight_decay=True, momentum=True, nesterov=False), 1, (0.05, 0.01, 0.9, 0.9, 1.0)),
    (dict(maximize=False, weight_decay=True, momentum=True, nesterov=True), 1, (0.05, 0.02, 0.8, 1.0, 0.0)),
]
ADAM_CASES = [
    (dict(maximize=False, weight_decay=False, decoupled=False, amsgrad=False), 2, (0.9, 0.0)),
    (dict(maximize=True, weight_decay=True, decoupled=True, amsgrad=False), 2, (0.9, 0.01)),
    (dict(maximize=False, weight_decay=True, decoupled=False, amsgrad=True), 3, (0.3, 0.1)),  # lerp's far side
]


def _operands(rng, device, dtype, n_state, sizes=SIZES):
    params = [tt.tensor(rng.standard_normal(s).astype(dtype.np), device=device) for s in sizes]
    grads = [tt.tensor(rng.standard_normal(s).astype(dtype.np), device=device) for s in sizes]
    states = [[tt.tensor(np.abs(rng.standard_normal(s)).astype(dtype.np), device=device) for _ in range(n_state)]
              for s in sizes]
    return params, grads, states


def _same_step(rng, rule, flags, n_state, scalars, dtype):
    """Run one step on cpu (reference) and cuda (kernel) from the same inputs; compare every updated tensor."""
    seed = rng.integers(1 << 30)
    results = {}
    for device in ("cpu", "cuda"):
        params, grads, states = _operands(np.random.default_rng(seed), device, dtype, n_state)
        fused_step_(rule, params, grads, states, [scalars] * len(params), flags)
        results[device] = [t.cpu().numpy().astype(np.float64) for t in params + [s for st in states for s in st]]
    rtol, atol = TOL[dtype]
    for a, b in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64])
@pytest.mark.parametrize("case", range(len(SGD_CASES)))
def test_sgd_kernel_matches_reference(rng, dtype, case):
    flags, n_state, scalars = SGD_CASES[case]
    _same_step(rng, "sgd", flags, n_state, scalars, dtype)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64])
@pytest.mark.parametrize("case", range(len(ADAM_CASES)))
def test_adam_kernel_matches_reference(rng, dtype, case):
    flags, n_state, (beta1, wd) = ADAM_CASES[case]
    _same_step(rng, "adam", flags, n_state, adam_scalars(3, 0.01, beta1, 0.99, 1e-8, wd), dtype)


def test_one_launch_per_dtype_bucket(rng):
    params, grads, states = _operands(rng, "cuda", tt.float32, 1)
    half = [tt.tensor(rng.standard_normal(7).astype(np.float16), device="cuda") for _ in range(2)]
    params, grads, states = params + half, grads + [h.clone() for h in half], states + [[h.clone()] for h in half]
    flags = dict(maximize=False, weight_decay=False, momentum=True, nesterov=False)
    scalars = [(0.1, 0.0, 0.9, 1.0, 0.0)] * len(params)
    seen = []
    tuning.add_observer(seen.append)
    try:
        fused_step_("sgd", params, grads, states, scalars, flags)
    finally:
        tuning.remove_observer(seen.append)
    assert [r.tunable.name for r in seen] == ["optim.step", "optim.step"]  # fp32 and fp16: two launches
    assert sorted(r.sizes["n"] for r in seen) == [14, 1 + 37 + 15 + 4100]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_strided_parameter_and_state(device):
    base = tt.arange(12.0, device=device).reshape(3, 4)
    p = base.t()  # a non-contiguous view: the update must land in base
    state = tt.ones(4, 3, device=device)
    version = p._version
    fused_step_("sgd", [p], [tt.ones(4, 3, device=device)], [[state]], [(0.5, 0.0, 0.9, 1.0, 0.0)],
                dict(maximize=False, weight_decay=False, momentum=True, nesterov=False))
    expected_buf = 0.9 * 1.0 + 1.0
    np.testing.assert_allclose(state.cpu().numpy(), np.full((4, 3), expected_buf))
    np.testing.assert_allclose(base.cpu().numpy(), np.arange(12.0).reshape(3, 4) - 0.5 * expected_buf, rtol=1e-6)
    assert p._version > version


def test_errors_before_any_update():
    p, q = tt.zeros(3), tt.zeros(2)
    flags = dict(maximize=False, weight_decay=False, momentum=False, nesterov=False)
    with pytest.raises(ValueError, match="no fused optimizer step called 'nope'"):
        fused_step_("nope", [p], [p], [[]], [()], flags)
    with pytest.raises(ValueError, match="takes the flags"):
        fused_step_("sgd", [p], [p], [[]], [()], dict(maximize=False))
    with pytest.raises(RuntimeError, match=r"shape \[2\] has a gradient of shape \[3\]"):
        fused_step_("sgd", [p, q], [tt.ones(3), tt.ones(3)], [[], []], [(1.0,)] * 2, flags)
    assert (p.numpy() == 0).all()  # the first parameter was not updated before the second failed
    with pytest.raises(RuntimeError, match="does not match its parameter"):
        fused_step_("sgd", [p], [p], [[tt.zeros(3, dtype=tt.float64)]], [()], {**flags, "momentum": True})
    with pytest.raises(ValueError, match="at most 1 state tensors"):
        fused_step_("sgd", [p], [p], [[p, p]], [()], flags)
    with pytest.raises(RuntimeError, match="same device"):
        fused_step_("sgd", [p], [tt.zeros(3, device="cuda")], [[]], [()], flags)
    with pytest.raises(RuntimeError, match="floating point"):
        fused_step_("sgd", [tt.zeros(3, dtype=tt.int64)], [p], [[]], [()], flags)


def test_every_rule_module_is_found():
    assert optim_multi.step_rule("sgd").n_state == 1
    assert optim_multi.step_rule("adam").flag_names == ("maximize", "weight_decay", "decoupled", "amsgrad")


def test_flags_of_any_truthy_type_and_the_mask_cache(rng):
    """The FLAGS mask is cached for all-bool flag dicts only: numpy bools, ints and unhashable values give the
    mask of their truth values every time, and a bad flag set is still refused after a good one was cached."""
    from tritensor.ops import optim as O

    base = dict(maximize=False, weight_decay=False, momentum=True, nesterov=False)
    odd = dict(maximize=np.bool_(False), weight_decay=0, momentum=[1], nesterov=())
    results = []
    for flags in (base, odd, base):
        params, grads, states = _operands(np.random.default_rng(1), "cpu", tt.float32, 1)
        fused_step_("sgd", params, grads, states, [(0.1, 0.0, 0.9, 1.0, 0.0)] * len(params), flags)
        results.append([p.numpy().copy() for p in params])
    for a, b in zip(results[0], results[1]):
        np.testing.assert_array_equal(a, b)
    assert all(v is True or v is False for _, items in O._BITS for _, v in items)
    with pytest.raises(ValueError, match="takes the flags"):
        fused_step_("sgd", [tt.zeros(3)], [tt.zeros(3)], [[]], [()], {**base, "extra": True})
