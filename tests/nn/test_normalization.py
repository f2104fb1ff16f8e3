"""nn.LayerNorm / RMSNorm / GroupNorm / LocalResponseNorm / InstanceNorm1d-3d and their nn.functional forms:
state_dict keys and shapes as PyTorch's, defaults, repr, the InstanceNorm running statistics over several training
steps against NumPy, eval behaviour, unbatched inputs, input checks, and local_response_norm against PyTorch's
formula."""

import warnings

import numpy as np
import pytest
from tritensor.kernels import norm_rows as K
from tritensor.kernels import norm_rows_group as KG

import tritensor as tt
import tritensor.nn as nn
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(got, want, tol=2e-5):
    np.testing.assert_allclose(_np(got), np.asarray(want, np.float64), rtol=tol, atol=tol)


def _state(m):
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


def test_layer_norm_module_state_defaults_and_repr(rng):
    m = nn.LayerNorm((4, 5))
    assert _state(m) == {"weight": (4, 5), "bias": (4, 5)}
    assert (_np(m.weight) == 1).all() and (_np(m.bias) == 0).all()
    assert repr(m) == "LayerNorm((4, 5), eps=1e-05, elementwise_affine=True)"
    assert _state(nn.LayerNorm(3, bias=False)) == {"weight": (3,)} and nn.LayerNorm(3, bias=False).bias is None
    plain = nn.LayerNorm(3, eps=1e-3, elementwise_affine=False)
    assert _state(plain) == {} and plain.weight is None and plain.normalized_shape == (3,)
    a = rng.standard_normal((2, 4, 5)).astype(np.float32)
    _close(m(tt.tensor(a)), K.layer_norm_ref(a.reshape(2, 20), None, None, 1e-5)[0].reshape(2, 4, 5))
    _close(plain(tt.tensor(a[..., :3])), K.layer_norm_ref(a[..., :3].reshape(8, 3), None, None, 1e-3)[0]
           .reshape(2, 4, 3))


def test_rms_norm_module(rng):
    m = nn.RMSNorm([6])
    assert _state(m) == {"weight": (6,)} and m.eps is None
    assert repr(m) == "RMSNorm((6,), eps=None, elementwise_affine=True)"
    a = rng.standard_normal((3, 6)).astype(np.float32)
    _close(m(tt.tensor(a)), K.layer_norm_ref(a, None, None, float(np.finfo(np.float32).eps), rms=True)[0])
    _close(F.rms_norm(tt.tensor(a), (6,), eps=1e-2), K.layer_norm_ref(a, None, None, 1e-2, rms=True)[0])
    assert _state(nn.RMSNorm(4, eps=1e-6, elementwise_affine=False)) == {}


def test_group_norm_module(rng):
    m = nn.GroupNorm(2, 6)
    assert _state(m) == {"weight": (6,), "bias": (6,)}
    assert repr(m) == "GroupNorm(2, 6, eps=1e-05, affine=True)"
    assert _state(nn.GroupNorm(3, 6, affine=False)) == {}
    with pytest.raises(ValueError, match="^num_channels must be divisible by num_groups$"):
        nn.GroupNorm(4, 6)
    a = rng.standard_normal((2, 6, 3, 3)).astype(np.float32)
    _close(m(tt.tensor(a)), KG.group_norm_ref(a.reshape(2, 6, 9), 2, None, None, 1e-5)[0].reshape(a.shape))


def test_functional_checks_and_names():
    for name in ("layer_norm", "rms_norm", "group_norm", "instance_norm", "local_response_norm"):
        assert name in F.__all__
    with pytest.raises(TypeError, match=r"^layer_norm\(\): argument 'input' \(position 1\) must be Tensor, not int$"):
        F.layer_norm(3, [1])
    with pytest.raises(RuntimeError, match="Expected at least 2 dimensions for input tensor but received 1"):
        F.group_norm(tt.zeros(4), 2)
    with pytest.raises(ValueError, match=r"^Expected more than 1 spatial element when training, got input size "
                                         r"torch.Size\(\[2, 3, 1\]\)$"):
        F.instance_norm(tt.zeros(2, 3, 1))


def _instance_norm_ref(a, rm, rv, w, b, momentum, eps, training):
    """PyTorch's instance_norm in NumPy: per (n, c) statistics; running stats blended with the batch average of the
    per-instance mean and unbiased variance."""
    N, C = a.shape[:2]
    x = a.reshape(N, C, -1).astype(np.float64)
    if training:
        mean, var = x.mean(-1), x.var(-1)
        rm = (1 - momentum) * rm + momentum * mean.mean(0)
        rv = (1 - momentum) * rv + momentum * (x.var(-1, ddof=1)).mean(0)
    else:
        mean, var = np.broadcast_to(rm, (N, C)), np.broadcast_to(rv, (N, C))
    y = (x - mean[..., None]) / np.sqrt(var[..., None] + eps)
    if w is not None:
        y = y * w[:, None] + b[:, None]
    return y.reshape(a.shape), rm, rv


@pytest.mark.parametrize("device", DEVICES)
def test_instance_norm_running_stats_over_training_steps_then_eval(rng, device):
    m = nn.InstanceNorm2d(3, momentum=0.2, affine=True, track_running_stats=True).to(device)
    assert _state(m) == {"weight": (3,), "bias": (3,), "running_mean": (3,), "running_var": (3,),
                         "num_batches_tracked": ()}
    assert m.num_batches_tracked.dtype is tt.int64
    assert repr(m) == "InstanceNorm2d(3, eps=1e-05, momentum=0.2, affine=True, track_running_stats=True)"
    rm, rv = np.zeros(3), np.ones(3)
    w, b = np.ones(3), np.zeros(3)
    for step in range(3):
        a = (rng.standard_normal((4, 3, 5, 6)) * (step + 1) + step).astype(np.float32)
        y = m(tt.tensor(a, device=device))
        want, rm, rv = _instance_norm_ref(a, rm, rv, w, b, 0.2, 1e-5, True)
        _close(y, want, 1e-4)
        _close(m.running_mean, rm, 1e-5)
        _close(m.running_var, rv, 1e-4)
    assert int(m.num_batches_tracked.item()) == 0  # InstanceNorm never counts (PyTorch's _InstanceNorm)
    m.eval()
    a = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    _close(m(tt.tensor(a, device=device)), _instance_norm_ref(a, rm, rv, w, b, 0.2, 1e-5, False)[0], 1e-4)
    _close(m.running_mean, rm, 1e-5)  # eval leaves them alone


@pytest.mark.parametrize("device", DEVICES)
def test_instance_norm_functional_running_stats_and_use_input_stats_false(rng, device):
    a = rng.standard_normal((2, 4, 7)).astype(np.float32)
    rm, rv = tt.zeros(4, device=device), tt.ones(4, device=device)
    F.instance_norm(tt.tensor(a, device=device), rm, rv, momentum=0.5)
    _, want_rm, want_rv = _instance_norm_ref(a, np.zeros(4), np.ones(4), None, None, 0.5, 1e-5, True)
    _close(rm, want_rm)
    _close(rv, want_rv, 1e-4)
    x = tt.tensor(a, device=device, requires_grad=True)
    y = F.instance_norm(x, rm, rv, use_input_stats=False)
    _close(y, _instance_norm_ref(a, want_rm, want_rv, None, None, 0.1, 1e-5, False)[0], 1e-4)
    y.sum().backward()
    _close(x.grad, np.broadcast_to((1 / np.sqrt(want_rv + 1e-5))[:, None], a.shape), 1e-4)


def test_instance_norm_modules_without_tracking_and_unbatched(rng):
    m = nn.InstanceNorm1d(3)
    assert _state(m) == {} and m.running_mean is None
    a = rng.standard_normal((3, 8)).astype(np.float32)
    y = m(tt.tensor(a))  # (C, L): one unbatched instance
    assert y.shape == (3, 8)
    _close(y, _instance_norm_ref(a[None], 0, 1, None, None, 0.1, 1e-5, True)[0][0])
    m.eval()  # nothing tracked: input statistics in eval too
    _close(m(tt.tensor(a)), y)
    a3 = rng.standard_normal((2, 3, 2, 3, 2)).astype(np.float32)
    _close(nn.InstanceNorm3d(3)(tt.tensor(a3)), _instance_norm_ref(a3, 0, 1, None, None, 0.1, 1e-5, True)[0])


def test_instance_norm_input_checks():
    with pytest.raises(ValueError, match=r"^expected 2D or 3D input \(got 4D input\)$"):
        nn.InstanceNorm1d(3)(tt.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"^expected 3D or 4D input \(got 2D input\)$"):
        nn.InstanceNorm2d(3)(tt.zeros(3, 4))
    with pytest.raises(ValueError, match=r"^expected 4D or 5D input \(got 3D input\)$"):
        nn.InstanceNorm3d(3)(tt.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"^expected input's size at dim=1 to match num_features \(3\), but got: 4\.$"):
        nn.InstanceNorm1d(3, affine=True)(tt.zeros(2, 4, 5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.InstanceNorm1d(3)(tt.ones(2, 4, 5))
    assert any("input's size at dim=1 does not match num_features" in str(w.message) for w in caught)


def _lrn_ref(a, size, alpha, beta, k):
    """PyTorch's local_response_norm: the mean of x^2 over a zero-padded window of `size` channels."""
    sq = a.astype(np.float64) ** 2
    C = a.shape[1]
    pad = [(0, 0)] * a.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    padded = np.pad(sq, pad)
    window = sum(padded[:, i:i + C] for i in range(size)) / size
    return a / (window * alpha + k) ** beta


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,size", [((2, 5, 4), 3), ((2, 6, 3, 3), 4), ((1, 3, 2, 2, 2), 1), ((2, 2, 3), 5)])
def test_local_response_norm(rng, device, shape, size):
    a = rng.standard_normal(shape).astype(np.float32)
    m = nn.LocalResponseNorm(size, alpha=0.5, beta=0.7, k=2.0)
    assert repr(m) == f"LocalResponseNorm({size}, alpha=0.5, beta=0.7, k=2.0)" and _state(m) == {}
    _close(m(tt.tensor(a, device=device)), _lrn_ref(a, size, 0.5, 0.7, 2.0), 1e-5)
    _close(F.local_response_norm(tt.tensor(a, device=device), size), _lrn_ref(a, size, 1e-4, 0.75, 1.0), 1e-5)


def test_local_response_norm_gradcheck_and_errors(rng):
    x = tt.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    assert gradcheck(lambda x: F.local_response_norm(x, 3, alpha=0.3, beta=0.6, k=1.5), (x,))
    with pytest.raises(ValueError, match=r"^Expected 3D or higher dimensionality input \(got 2 dimensions\)$"):
        F.local_response_norm(tt.zeros(2, 3), 2)
    empty = tt.zeros(0, 3, 4)
    assert F.local_response_norm(empty, 2) is empty


@pytest.mark.parametrize("device", DEVICES)
def test_layer_norm_module_trains(rng, device):
    """Parameters get gradients through the fused backward (cuda) and the NumPy one (cpu) alike."""
    m = nn.LayerNorm(5).to(device)
    a = rng.standard_normal((3, 5)).astype(np.float32)
    g = rng.standard_normal((3, 5)).astype(np.float32)
    m(tt.tensor(a, device=device)).backward(tt.tensor(g, device=device))
    _, mean, rstd = K.layer_norm_ref(a, np.ones(5, np.float32), None, 1e-5)
    _, want_dw, want_db = K.layer_norm_backward_ref(g, a, np.ones(5, np.float32), mean, rstd)
    _close(m.weight.grad, want_dw, 1e-4)
    _close(m.bias.grad, want_db, 1e-4)
