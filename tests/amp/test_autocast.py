"""tt.autocast: output dtypes inside regions against PyTorch's documented per-device policy, the region's
state, nesting, the weight-cast cache, backward dtypes, custom_fwd/custom_bwd and the errors."""

import warnings

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn
import tritensor.nn.functional as F
from tritensor.ops.autocast_policy import POLICIES

LOW = {"cuda": tt.float16, "cpu": tt.bfloat16}
DEVICES = ["cpu", "cuda"]


def _x(device, *shape, dtype=tt.float32):
    return tt.randn(*shape, device=device, dtype=dtype)


def _lower(d):
    return LOW[d]


def _fp32(d):
    return tt.float32


def _same(d):
    return LOW[d]  # the input is already in the region's dtype: ops off the lists keep it


# (name, fn(device) -> tensor computed inside the region, expected dtype per device)
CASES = [
    # matmul family and convolutions: lower precision on both devices
    ("matmul", lambda d: tt.matmul(_x(d, 3, 4), _x(d, 4, 5)), {"cuda": _lower, "cpu": _lower}),
    ("__matmul__", lambda d: _x(d, 3, 4) @ _x(d, 4, 5), {"cuda": _lower, "cpu": _lower}),
    ("mm", lambda d: tt.mm(_x(d, 3, 4), _x(d, 4, 5)), {"cuda": _lower, "cpu": _lower}),
    ("bmm", lambda d: tt.bmm(_x(d, 2, 3, 4), _x(d, 2, 4, 5)), {"cuda": _lower, "cpu": _lower}),
    ("addmm", lambda d: tt.addmm(_x(d, 3, 5), _x(d, 3, 4), _x(d, 4, 5)), {"cuda": _lower, "cpu": _lower}),
    ("baddbmm", lambda d: tt.baddbmm(_x(d, 2, 3, 5), _x(d, 2, 3, 4), _x(d, 2, 4, 5)), {"cuda": _lower, "cpu": _lower}),
    ("linear", lambda d: F.linear(_x(d, 3, 4), _x(d, 5, 4), _x(d, 5)), {"cuda": _lower, "cpu": _lower}),
    ("conv2d", lambda d: F.conv2d(_x(d, 1, 2, 5, 5), _x(d, 3, 2, 3, 3)), {"cuda": _lower, "cpu": _lower}),
    ("conv1d", lambda d: F.conv1d(_x(d, 1, 2, 7), _x(d, 3, 2, 3)), {"cuda": _lower, "cpu": _lower}),
    ("conv_transpose2d", lambda d: F.conv_transpose2d(_x(d, 1, 2, 4, 4), _x(d, 2, 3, 3, 3)),
     {"cuda": _lower, "cpu": _lower}),
    ("sdpa", lambda d: F.scaled_dot_product_attention(_x(d, 1, 2, 4, 16), _x(d, 1, 2, 4, 16), _x(d, 1, 2, 4, 16)),
     {"cuda": _lower, "cpu": _lower}),
    ("mv", lambda d: tt.mv(_x(d, 3, 4), _x(d, 4)), {"cuda": _lower, "cpu": _fp32}),
    ("einsum", lambda d: tt.einsum("ij,jk->ik", _x(d, 3, 4), _x(d, 4, 5)), {"cuda": _lower, "cpu": _fp32}),
    ("prelu", lambda d: F.prelu(_x(d, 2, 3), _x(d, 1)), {"cuda": _lower, "cpu": _lower}),
    # float32 ops: the cuda list is long, the cpu list keeps most pointwise ops and softmax as they are
    ("softmax", lambda d: F.softmax(_x(d, 3, 4, dtype=LOW[d]), -1), {"cuda": _fp32, "cpu": _same}),
    ("log_softmax", lambda d: F.log_softmax(_x(d, 3, 4, dtype=LOW[d]), -1), {"cuda": _fp32, "cpu": _same}),
    ("sum", lambda d: _x(d, 3, 4, dtype=LOW[d]).sum(), {"cuda": _fp32, "cpu": _same}),
    ("cumsum", lambda d: tt.cumsum(_x(d, 3, 4, dtype=LOW[d]), 1), {"cuda": _fp32, "cpu": _same}),
    ("prod", lambda d: tt.prod(_x(d, 3, dtype=LOW[d])), {"cuda": _fp32, "cpu": _fp32}),
    ("exp", lambda d: tt.exp(_x(d, 3, dtype=LOW[d])), {"cuda": _fp32, "cpu": _same}),
    ("log", lambda d: _x(d, 3, dtype=LOW[d]).abs().log(), {"cuda": _fp32, "cpu": _same}),
    ("arcsin (alias of asin)", lambda d: tt.arcsin(_x(d, 3, dtype=LOW[d]).clamp(-0.5, 0.5)),
     {"cuda": _fp32, "cpu": _same}),
    ("pow", lambda d: _x(d, 3, dtype=LOW[d]) ** 2, {"cuda": _fp32, "cpu": _same}),
    ("rtruediv", lambda d: 1.0 / _x(d, 3, dtype=LOW[d]), {"cuda": _fp32, "cpu": _same}),
    ("layer_norm", lambda d: F.layer_norm(_x(d, 2, 4, dtype=LOW[d]), (4,)), {"cuda": _fp32, "cpu": _same}),
    ("group_norm", lambda d: F.group_norm(_x(d, 2, 4, 3, dtype=LOW[d]), 2), {"cuda": _fp32, "cpu": _same}),
    ("norm", lambda d: tt.norm(_x(d, 3, dtype=LOW[d])), {"cuda": _fp32, "cpu": _same}),
    ("mse_loss", lambda d: F.mse_loss(_x(d, 3, dtype=LOW[d]), _x(d, 3, dtype=LOW[d])), {"cuda": _fp32, "cpu": _fp32}),
    ("l1_loss", lambda d: F.l1_loss(_x(d, 3, dtype=LOW[d]), _x(d, 3, dtype=LOW[d])), {"cuda": _fp32, "cpu": _fp32}),
    ("cross_entropy", lambda d: F.cross_entropy(_x(d, 2, 3, dtype=LOW[d]), tt.tensor([0, 2], device=d)),
     {"cuda": _fp32, "cpu": _fp32}),
    ("nll_loss", lambda d: F.nll_loss(_x(d, 2, 3, dtype=LOW[d]), tt.tensor([0, 2], device=d)),
     {"cuda": _fp32, "cpu": _fp32}),
    ("bce_with_logits", lambda d: F.binary_cross_entropy_with_logits(_x(d, 3, dtype=LOW[d]), _x(d, 3, dtype=LOW[d])),
     {"cuda": _fp32, "cpu": _fp32}),
    ("cosine_similarity", lambda d: F.cosine_similarity(_x(d, 2, 3, dtype=LOW[d]), _x(d, 2, 3, dtype=LOW[d])),
     {"cuda": _fp32, "cpu": _same}),
    ("softplus", lambda d: F.softplus(_x(d, 3, dtype=LOW[d])), {"cuda": _fp32, "cpu": _same}),
    ("cdist", lambda d: tt.cdist(_x(d, 2, 3, dtype=LOW[d]), _x(d, 4, 3, dtype=LOW[d])), {"cuda": _fp32, "cpu": _fp32}),
    # off every list: the input dtype is kept
    ("relu", lambda d: F.relu(_x(d, 3, dtype=LOW[d])), {"cuda": _same, "cpu": _same}),
    ("mean", lambda d: _x(d, 3, dtype=LOW[d]).mean(), {"cuda": _same, "cpu": _same}),
    ("add", lambda d: _x(d, 3, dtype=LOW[d]) + _x(d, 3, dtype=LOW[d]), {"cuda": _same, "cpu": _same}),
    # widest-type promotion (by the policy where listed, by the op's own type promotion elsewhere)
    ("addcmul", lambda d: tt.addcmul(_x(d, 3), _x(d, 3, dtype=LOW[d]), _x(d, 3, dtype=LOW[d])),
     {"cuda": _fp32, "cpu": _fp32}),
    ("atan2", lambda d: tt.atan2(_x(d, 3, dtype=LOW[d]), _x(d, 3)), {"cuda": _fp32, "cpu": _fp32}),
    ("cat", lambda d: tt.cat([_x(d, 3, dtype=LOW[d]), _x(d, 3)]), {"cuda": _fp32, "cpu": _fp32}),
    ("stack", lambda d: tt.stack([_x(d, 3, dtype=LOW[d]), _x(d, 3)]), {"cuda": _fp32, "cpu": _fp32}),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,fn,expected", CASES, ids=[c[0] for c in CASES])
def test_output_dtype_follows_the_device_policy(device, name, fn, expected):
    want = expected[device]
    with tt.autocast(device):
        out = fn(device)
    assert out.dtype is want(device), f"{name} on {device}: {out.dtype}"


def test_every_bound_op_of_the_policy_is_wrapped():
    """A policy name that tritensor binds (tt.*, Tensor method, F.*) is bound through the autocast wrapper."""
    bound = 0
    for table in POLICIES.values():
        for name in table:
            for owner in (tt, tt.Tensor, F):
                obj = getattr(owner, name, None)
                if obj is not None and callable(obj):
                    assert getattr(obj, "_autocast_policies", None) is not None, f"{owner.__name__}.{name}"
                    bound += 1
    assert bound > 80


@pytest.mark.parametrize("device", DEVICES)
def test_binary_cross_entropy(device):
    p, t = tt.rand(4, device=device, dtype=LOW[device]), tt.rand(4, device=device, dtype=LOW[device])
    with tt.autocast(device):
        if device == "cuda":
            with pytest.raises(RuntimeError, match="unsafe to autocast"):
                F.binary_cross_entropy(p, t)
        else:
            assert F.binary_cross_entropy(p, t).dtype is tt.float32


@pytest.mark.parametrize("device", DEVICES)
def test_values_are_the_op_on_cast_operands(device):
    a, b = _x(device, 5, 7), _x(device, 7, 3)
    with tt.autocast(device):
        out = a @ b
    ref = (a.to(LOW[device]).float().cpu().numpy() @ b.to(LOW[device]).float().cpu().numpy())
    np.testing.assert_allclose(out.float().cpu().numpy(), ref, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("device", DEVICES)
def test_ineligible_calls_are_left_alone(device):
    x64 = _x(device, 3, 4, dtype=tt.float64)
    xi = tt.ones(3, 4, device=device, dtype=tt.int32)
    with tt.autocast(device):
        assert tt.exp(x64).dtype is tt.float64 and (x64 ** 2).dtype is tt.float64  # float64 is never cast
        assert (xi ** 2).dtype is tt.int32 and tt.mm(x64.cpu(), x64.cpu().t()).dtype is tt.float64  # nor ints
        assert _x(device, 3, dtype=LOW[device]).sum(dtype=tt.float64).dtype is tt.float64  # explicit dtype=
        other = "cpu" if device == "cuda" else "cuda"
        assert (_x(other, 3, 4) @ _x(other, 4, 2)).dtype is tt.float32  # the other device type's region is off


@pytest.mark.parametrize("device", DEVICES)
def test_region_state_nesting_and_decorator(device):
    assert not tt.is_autocast_enabled(device)
    with tt.autocast(device):
        assert tt.is_autocast_enabled(device) and tt.get_autocast_dtype(device) is LOW[device]
        with tt.autocast(device, enabled=False):
            assert not tt.is_autocast_enabled(device)
            assert (_x(device, 2, 3) @ _x(device, 3, 2)).dtype is tt.float32
        with tt.autocast(device, dtype=tt.float16 if device == "cpu" else tt.bfloat16):
            assert (_x(device, 2, 3) @ _x(device, 3, 2)).dtype is (tt.float16 if device == "cpu" else tt.bfloat16)
        assert (_x(device, 2, 3) @ _x(device, 3, 2)).dtype is LOW[device]
    assert not tt.is_autocast_enabled(device) and tt.get_autocast_dtype(device) is LOW[device]

    @tt.autocast(device)
    def f(a, b):
        return a @ b

    assert f(_x(device, 2, 3), _x(device, 3, 2)).dtype is LOW[device]
    with pytest.raises(ValueError), tt.autocast(device):
        raise ValueError("state restored on exceptions")
    assert not tt.is_autocast_enabled(device)


@pytest.mark.parametrize("device", DEVICES)
def test_weight_casts_are_cached_within_the_outermost_region(device):
    layer = nn.Linear(4, 3).to(device)
    x = _x(device, 2, 4)
    casts = []
    original = tt.Tensor.to
    from tritensor.ops import autocast as autocast_ops
    real = autocast_ops.to_copy

    def counting(t, dtype, dev):
        casts.append(t.shape)
        return real(t, dtype, dev)

    autocast_ops.to_copy = counting
    try:
        with tt.autocast(device):
            layer(x)
            layer(x)
        with tt.autocast(device, cache_enabled=False):
            layer(x)
    finally:
        autocast_ops.to_copy = real
    assert tt.Tensor.to is original
    # first call: x, weight, bias; second: x only (weight and bias cached); uncached region: all three again
    assert casts == [(2, 4), (3, 4), (3,), (2, 4), (2, 4), (3, 4), (3,)]
    assert not autocast_ops.state.cache  # dropped on leaving the region


@pytest.mark.parametrize("device", DEVICES)
def test_backward_runs_in_the_forward_dtypes(device):
    layer = nn.Linear(4, 3).to(device)
    x = _x(device, 2, 4, dtype=tt.float32).requires_grad_()
    with tt.autocast(device):
        loss = layer(x).float().pow(2).sum()
        loss.backward()  # inside the region: the backward still runs autocast-free
    assert layer.weight.grad.dtype is tt.float32 and x.grad.dtype is tt.float32
    w = layer.weight.detach().to(LOW[device]).float().cpu().numpy()
    b = layer.bias.detach().to(LOW[device]).float().cpu().numpy()
    xv = x.detach().to(LOW[device]).float().cpu().numpy()
    y = (xv @ w.T + b).astype(np.float32)
    np.testing.assert_allclose(layer.weight.grad.cpu().numpy(), (2 * y).T @ xv, rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("device", DEVICES)
def test_recurrent_layers_and_cells(device):
    xs = _x(device, 2, 3, 5)
    lstm, cell, gru, rnn = (m.to(device) for m in (nn.LSTM(5, 6, batch_first=True), nn.LSTMCell(5, 6),
                                                   nn.GRUCell(5, 6), nn.RNNCell(5, 6)))
    with tt.autocast(device):
        out, (h, c) = lstm(xs)
        h2, c2 = cell(xs[:, 0])
        g, r = gru(xs[:, 0]), rnn(xs[:, 0])
    low = LOW[device]
    assert (out.dtype, h.dtype, c.dtype, r.dtype) == (low, low, low, low)
    # cuda casts whole cells; on cpu a cell's fp32 state promotes its bf16 gates (PyTorch's composite cells)
    state = low if device == "cuda" else tt.float32
    assert (h2.dtype, c2.dtype, g.dtype) == (state, state, state)


def test_custom_fwd_and_bwd():
    seen = {}

    class Square(tt.autograd.Function):
        @staticmethod
        @tt.amp.custom_fwd(device_type="cpu", cast_inputs=tt.float32)
        def forward(ctx, a):
            seen["fwd"] = (a.dtype, tt.is_autocast_enabled("cpu"))
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        @tt.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["bwd"] = tt.is_autocast_enabled("cpu")
            (a,) = ctx.saved_tensors
            return 2 * a * g

    x = tt.randn(3, dtype=tt.bfloat16, requires_grad=True)
    with tt.autocast("cpu"):
        y = Square.apply(x)
    assert y.dtype is tt.float32 and seen["fwd"] == (tt.float32, False)
    y.sum().backward()
    assert seen["bwd"] is False and x.grad.dtype is tt.bfloat16

    class Ident(tt.autograd.Function):
        @staticmethod
        @tt.amp.custom_fwd(device_type="cpu")
        def forward(ctx, a):
            return a.clone()

        @staticmethod
        @tt.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["bwd2"] = (tt.is_autocast_enabled("cpu"), tt.get_autocast_dtype("cpu"))
            return g

    with tt.autocast("cpu"):
        z = Ident.apply(tt.randn(2, requires_grad=True))
    z.sum().backward()
    assert seen["bwd2"] == (True, tt.bfloat16)  # the backward runs as the forward's region did


def test_bad_arguments():
    with pytest.raises(ValueError, match="device_type"):
        tt.autocast(0)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'xpu'"):
        tt.autocast("xpu")
    with pytest.warns(UserWarning, match="CPU Autocast only supports"):
        region = tt.autocast("cpu", dtype=tt.float64)
    with region:
        assert not tt.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match="CUDA Autocast only supports"):
        tt.autocast("cuda", dtype=tt.int32)


def test_deprecated_cuda_amp_names():
    import tritensor.cuda.amp as cuda_amp

    assert tt.cuda.amp is cuda_amp
    with pytest.warns(FutureWarning, match="deprecated"):
        region = tt.cuda.amp.autocast()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with region:
            assert tt.is_autocast_enabled("cuda") and tt.get_autocast_dtype("cuda") is tt.float16


def test_bound_ops_pickle_as_themselves():
    import pickle

    for op in (tt.stack, tt.sum, tt.matmul, tt.exp, F.relu, F.linear, F.cross_entropy):
        assert pickle.loads(pickle.dumps(op)) is op
