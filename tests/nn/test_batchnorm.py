"""nn.BatchNorm1d/2d/3d and nn.functional.batch_norm: state_dict keys, shapes and dtypes exactly PyTorch's,
train/eval behaviour over several steps against a NumPy model of PyTorch's update rule (momentum 0.1 and the
cumulative average of momentum=None), load_state_dict round trips, affine=False, track_running_stats=False,
reset_*, repr, PyTorch's input checks; on cpu and interpreted cuda."""

import inspect

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn
from tritensor.nn import functional as F

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


class NumpyBatchNorm:
    """PyTorch's BatchNorm semantics in float64 NumPy: the model the modules are checked against."""

    def __init__(self, C, momentum, eps=1e-5):
        self.mean, self.var, self.n, self.momentum, self.eps = np.zeros(C), np.ones(C), 0, momentum, eps

    def __call__(self, x, w, b, training):
        axes = tuple(i for i in range(x.ndim) if i != 1)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if training:
            self.n += 1
            factor = 1.0 / self.n if self.momentum is None else self.momentum
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            count = x.size // x.shape[1]
            self.mean = (1 - factor) * self.mean + factor * mean
            self.var = (1 - factor) * self.var + factor * var * count / (count - 1)
        else:
            mean, var = self.mean, self.var
        return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + self.eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm2d_train_then_eval_against_numpy(rng, device, momentum):
    m = nn.BatchNorm2d(3, momentum=momentum).to(device)
    with tt.no_grad():
        m.weight.copy_(tt.tensor([1.5, -0.5, 2.0]))
        m.bias.copy_(tt.tensor([0.1, 0.2, -0.3]))
    ref = NumpyBatchNorm(3, momentum)
    w, b = np.array([1.5, -0.5, 2.0]), np.array([0.1, 0.2, -0.3])
    for step in range(3):
        a = (rng.standard_normal((4, 3, 3, 5)) * (step + 1) + step).astype(np.float32)
        y = m(tt.tensor(a, device=device))
        np.testing.assert_allclose(_np(y), ref(a.astype(np.float64), w, b, True), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(_np(m.running_mean), ref.mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(_np(m.running_var), ref.var, rtol=1e-5, atol=1e-5)
        assert m.num_batches_tracked.item() == step + 1 and m.num_batches_tracked.dtype is tt.int64
    m.eval()
    a = rng.standard_normal((2, 3, 3, 5)).astype(np.float32)
    y = m(tt.tensor(a, device=device))
    np.testing.assert_allclose(_np(y), ref(a.astype(np.float64), w, b, False), rtol=1e-4, atol=1e-4)
    assert m.num_batches_tracked.item() == 3  # eval mode neither counts nor updates
    np.testing.assert_allclose(_np(m.running_mean), ref.mean, rtol=1e-5, atol=1e-5)


def test_state_dict_keys_shapes_and_dtypes():
    sd = nn.BatchNorm2d(4).state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [tuple(v.shape) for v in sd.values()] == [(4,), (4,), (4,), (4,), ()]
    assert [v.dtype for v in sd.values()] == [tt.float32] * 4 + [tt.int64]
    assert _np(sd["running_var"]).tolist() == [1, 1, 1, 1] and _np(sd["weight"]).tolist() == [1, 1, 1, 1]
    assert list(nn.BatchNorm1d(4, affine=False).state_dict()) == ["running_mean", "running_var",
                                                                   "num_batches_tracked"]
    m = nn.BatchNorm3d(4, track_running_stats=False)
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m.running_mean is None and m.running_var is None and m.num_batches_tracked is None
    d = nn.BatchNorm2d(2, dtype=tt.float64).state_dict()
    assert d["running_mean"].dtype is tt.float64 and d["num_batches_tracked"].dtype is tt.int64
    assert [n for n, _ in nn.BatchNorm2d(2).named_parameters()] == ["weight", "bias"]


@pytest.mark.parametrize("device", DEVICES)
def test_load_state_dict_round_trip(rng, device):
    src = nn.BatchNorm1d(3).to(device)
    for _ in range(2):
        src(tt.tensor(rng.standard_normal((5, 3, 4)).astype(np.float32), device=device))
    dst = nn.BatchNorm1d(3).to(device)
    result = dst.load_state_dict(src.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    assert dst.num_batches_tracked.item() == 2
    src.eval()
    dst.eval()
    x = tt.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), device=device)
    assert np.array_equal(_np(src(x)), _np(dst(x)))
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "num_batches_tracked"'):
        nn.BatchNorm1d(3).load_state_dict({k: v for k, v in src.state_dict().items() if k != "num_batches_tracked"})


@pytest.mark.parametrize("device", DEVICES)
def test_track_running_stats_false_and_affine_false(rng, device):
    a = (rng.standard_normal((6, 2)) * 3 + 1).astype(np.float32)
    m = nn.BatchNorm1d(2, affine=False, track_running_stats=False).to(device).eval()
    y = m(tt.tensor(a, device=device))  # eval mode still normalises with the batch's statistics
    np.testing.assert_allclose(_np(y), (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5), rtol=1e-4, atol=1e-4)
    assert m.weight is None and m.bias is None


def test_reset_running_stats_and_parameters(rng):
    m = nn.BatchNorm2d(2)
    m(tt.tensor(rng.standard_normal((3, 2, 2, 2)).astype(np.float32)))
    with tt.no_grad():
        m.weight.fill_(3.0)
    m.reset_running_stats()
    assert _np(m.running_mean).tolist() == [0, 0] and _np(m.running_var).tolist() == [1, 1]
    assert m.num_batches_tracked.item() == 0 and _np(m.weight).tolist() == [3, 3]
    m.reset_parameters()
    assert _np(m.weight).tolist() == [1, 1] and _np(m.bias).tolist() == [0, 0]


def test_repr():
    assert repr(nn.BatchNorm2d(16)) == "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.BatchNorm1d(3, eps=1e-3, momentum=None, affine=False, track_running_stats=False)) == (
        "BatchNorm1d(3, eps=0.001, momentum=None, affine=False, track_running_stats=False)")


@pytest.mark.parametrize("cls, ok, bad, message", [
    (nn.BatchNorm1d, [(4, 3), (4, 3, 2)], (4, 3, 2, 2), "expected 2D or 3D input (got 4D input)"),
    (nn.BatchNorm2d, [(4, 3, 2, 2)], (4, 3, 2), "expected 4D input (got 3D input)"),
    (nn.BatchNorm3d, [(2, 3, 2, 2, 2)], (4, 3, 2, 2), "expected 5D input (got 4D input)"),
])
def test_input_dim_checks(cls, ok, bad, message):
    m = cls(3)
    for shape in ok:
        assert m(tt.randn(*shape)).shape == shape
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        m(tt.randn(*bad))


def test_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match=r"^Expected more than 1 value per channel when training, got input size "
                                         r"tritensor.Size\(\[1, 3\]\)$"):
        nn.BatchNorm1d(3)(tt.randn(1, 3))
    m = nn.BatchNorm1d(3).eval()
    assert m(tt.randn(1, 3)).shape == (1, 3)  # eval mode normalises a single sample
    with pytest.raises(ValueError, match="got input size tritensor.Size\\(\\[1, 2, 1\\]\\)"):
        F.batch_norm(tt.randn(1, 2, 1), None, None, training=True)


def test_functional_signature_and_cuda_backward(rng):
    assert list(inspect.signature(F.batch_norm).parameters) == ["input", "running_mean", "running_var", "weight",
                                                               "bias", "training", "momentum", "eps"]
    a = rng.standard_normal((4, 3, 5)).astype(np.float32)
    g = rng.standard_normal(a.shape).astype(np.float32)
    grads = []
    for device in DEVICES:
        m = nn.BatchNorm1d(3).to(device)
        x = tt.tensor(a, device=device, requires_grad=True)
        m(x).backward(tt.tensor(g, device=device))
        grads.append([_np(x.grad), _np(m.weight.grad), _np(m.bias.grad)])
    for got, want in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
