"""nn.init: PyTorch's gain table and fan rules, and the statistics of each initialiser on large tensors."""

import math

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn
from tritensor.nn import init


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(1 / 3)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(tt.empty(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(tt.empty(16, 8, 3, 3)) == (72, 144)  # conv: times the kernel area
    assert init._calculate_correct_fan(tt.empty(16, 8, 3), "FAN_OUT") == 48
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tt.empty(4))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(tt.empty(3, 3), mode="fan_avg")


def test_uniform_normal_and_trunc_normal_statistics():
    t = tt.empty(300, 400)
    init.uniform_(t, -2.0, 3.0)
    v = _np(t)
    assert v.min() >= -2.0 and v.max() < 3.0
    assert abs(v.mean() - 0.5) < 0.02 and abs(v.std() - 5 / math.sqrt(12)) < 0.02
    init.normal_(t, 1.5, 0.5)
    v = _np(t)
    assert abs(v.mean() - 1.5) < 0.01 and abs(v.std() - 0.5) < 0.01
    init.trunc_normal_(t, 0.0, 1.0, -1.0, 2.0)
    v = _np(t)
    assert v.min() >= -1.0 and v.max() <= 2.0
    assert abs(v.mean() - 0.2288) < 0.01  # mean of N(0, 1) truncated to [-1, 2]


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_bounds_and_std(mode):
    t = tt.empty(250, 400)
    fan = 400 if mode == "fan_in" else 250
    init.kaiming_uniform_(t, a=0.1, mode=mode)
    gain = math.sqrt(2.0 / (1 + 0.01))
    bound = gain * math.sqrt(3.0 / fan)
    v = _np(t)
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.99 * bound
    assert abs(v.std() - gain / math.sqrt(fan)) < 0.01 * gain / math.sqrt(fan) * 3
    init.kaiming_normal_(t, mode=mode, nonlinearity="relu")
    assert abs(_np(t).std() / (math.sqrt(2.0) / math.sqrt(fan)) - 1) < 0.01
    assert abs(_np(t).mean()) < 0.005


def test_xavier_bounds_and_std():
    t = tt.empty(200, 300)
    init.xavier_uniform_(t, gain=2.0)
    a = 2.0 * math.sqrt(6.0 / 500)
    v = _np(t)
    assert np.abs(v).max() <= a and np.abs(v).max() > 0.99 * a
    init.xavier_normal_(t, gain=init.calculate_gain("tanh"))
    assert abs(_np(t).std() / (5 / 3 * math.sqrt(2.0 / 500)) - 1) < 0.01


def test_constant_ones_zeros_eye_orthogonal():
    t = tt.empty(3, 5)
    assert init.constant_(t, 0.25) is t and (_np(t) == 0.25).all()
    assert (_np(init.ones_(t)) == 1).all() and (_np(init.zeros_(t)) == 0).all()
    np.testing.assert_array_equal(_np(init.eye_(t)), np.eye(3, 5))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(tt.empty(2, 2, 2))
    for shape in [(6, 4), (4, 6), (4, 2, 3)]:
        q = _np(init.orthogonal_(tt.empty(*shape), gain=2.0)).reshape(shape[0], -1)
        small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(small, 4.0 * np.eye(min(q.shape)), atol=1e-5)


def test_init_under_no_grad_on_parameters_and_devices():
    p = nn.Parameter(tt.empty(40, 50))
    assert init.kaiming_uniform_(p, a=math.sqrt(5)) is p
    assert p.is_leaf and p.grad_fn is None and p.requires_grad and isinstance(p, nn.Parameter)
    values = {}
    for device in ("cpu", "cuda"):
        t = tt.empty(40, 50, device=device)
        tt.manual_seed(5)
        init.xavier_uniform_(t)
        assert t.device.type == device
        values[device] = _np(t)
    np.testing.assert_array_equal(values["cpu"], values["cuda"])  # drawn on the host from the same seed
    g = tt.Generator().manual_seed(3)
    a = _np(init.normal_(tt.empty(10), generator=g))
    b = _np(init.normal_(tt.empty(10), generator=tt.Generator().manual_seed(3)))
    np.testing.assert_array_equal(a, b)
    h = init.uniform_(tt.empty(1000, dtype=tt.float16), -1, 1)
    assert h.dtype is tt.float16 and abs(_np(h).mean()) < 0.1
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(tt.empty(0, 3))


def test_linear_default_initialisation():
    tt.manual_seed(0)
    layer = nn.Linear(200, 300)
    bound = 1 / math.sqrt(200)
    w, b = _np(layer.weight), _np(layer.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound and abs(w.std() - bound / math.sqrt(3)) < 1e-3
    assert np.abs(b).max() <= bound and b.std() > 0.5 * bound / math.sqrt(3)
    tt.manual_seed(0)
    np.testing.assert_array_equal(_np(nn.Linear(200, 300).weight), w)  # seeded
    assert nn.Linear(4, 2, bias=False).bias is None


def test_sparse_():
    w = init.sparse_(tt.empty(10, 40), sparsity=0.25, std=0.5, generator=tt.Generator().manual_seed(0))
    a = _np(w)
    assert ((a == 0).sum(0) == 3).all()  # ceil(0.25 * 10) zeros in every column
    assert abs(a[a != 0].std() - 0.5) < 0.05
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(tt.empty(3), 0.1)


def test_dirac_():
    w = _np(init.dirac_(tt.empty(4, 2, 3, 3), groups=2))
    expected = np.zeros((4, 2, 3, 3))
    for g in range(2):
        for d in range(2):
            expected[g * 2 + d, d, 1, 1] = 1
    np.testing.assert_array_equal(w, expected)
    w3 = _np(init.dirac_(tt.empty(3, 5, 4)))
    assert w3.sum() == 3 and w3[2, 2, 2] == 1
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(tt.empty(3, 3))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        init.dirac_(tt.empty(3, 3, 3), groups=2)


def test_eye_orthogonal_trunc_normal_properties():
    np.testing.assert_array_equal(_np(init.eye_(tt.empty(2, 3))), np.eye(2, 3))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(tt.empty(2, 2, 2))
    q = _np(init.orthogonal_(tt.empty(3, 7), gain=2.0))
    np.testing.assert_allclose(q @ q.T, 4.0 * np.eye(3), atol=1e-5)  # rows <= cols: Q Q^T = gain^2 I
    q = _np(init.orthogonal_(tt.empty(7, 3)))
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-5)
    t = _np(init.trunc_normal_(tt.empty(20000), mean=1.0, std=2.0, a=0.0, b=3.0))
    assert t.min() >= 0.0 and t.max() <= 3.0
    # truncated normal on [0, 3] with mean 1, std 2: its mean is 1 + 2 (phi(-0.5) - phi(1)) / (Phi(1) - Phi(-0.5))
    from statistics import NormalDist
    nd = NormalDist()
    alpha, beta = -0.5, 1.0
    z = nd.cdf(beta) - nd.cdf(alpha)
    mean = 1.0 + 2.0 * (nd.pdf(alpha) - nd.pdf(beta)) / z
    assert abs(t.mean() - mean) < 0.03
    with pytest.warns(UserWarning, match="mean is more than 2 std"):  # far in the tail: the inverse-CDF path
        tail = _np(init.trunc_normal_(tt.empty(2000), mean=0.0, std=1.0, a=5.0, b=6.0))
    assert tail.min() >= 5.0 and tail.max() <= 6.0 and tail.mean() < 5.4
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(tt.empty(10), mean=10.0, a=-2.0, b=2.0)
