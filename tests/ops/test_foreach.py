"""tt._foreach_norm / _foreach_mul_ / _foreach_clamp_min_ / _foreach_clamp_max_ and the clipping helpers of
ops/foreach.py on cpu and interpreted cuda: values against NumPy, PyTorch's errors, one launch per dtype."""

import math

import numpy as np
import pytest
from tritensor.kernels import multi_tensor as K
from tritensor.kernels import tuning

import tritensor as tt
from tritensor.ops import foreach as F

DEVICES = ["cpu", "cuda"]
SIZES = [(3, 5), (0,), (4097,), (1,), (2, 0, 3), (31,)]


def _tensors(rng, device, dtype=np.float32, sizes=SIZES):
    arrays = [(rng.standard_normal(s) * 2).astype(dtype) for s in sizes]
    return arrays, [tt.tensor(a, device=device) for a in arrays]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.5, math.inf, 0.0])
def test_foreach_norm(rng, device, p):
    arrays, ts = _tensors(rng, device)
    out = tt._foreach_norm(ts, p)
    assert len(out) == len(ts)
    for o, a in zip(out, arrays):
        assert o.shape == () and o.dtype is tt.float32 and o.device == ts[0].device
        np.testing.assert_allclose(o.item(), K.vector_norm_ref(a, p), rtol=2e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_foreach_norm_mixed_dtypes_and_dtype_arg(rng, device):
    a32, t32 = _tensors(rng, device, np.float32, [(5,), (4100,)])
    a64, t64 = _tensors(rng, device, np.float64, [(7,)])
    out = tt._foreach_norm([t32[0], t64[0], t32[1]], 2)
    assert [o.dtype for o in out] == [tt.float32, tt.float64, tt.float32]
    for o, a in zip(out, [a32[0], a64[0], a32[1]]):
        np.testing.assert_allclose(o.item(), np.linalg.norm(a.astype(np.float64)), rtol=1e-6)
    assert tt._foreach_norm(t32, 2, dtype=tt.float64)[0].dtype is tt.float64


@pytest.mark.parametrize("device", DEVICES)
def test_foreach_norm_errors(device):
    with pytest.raises(RuntimeError, match="cannot compute the -inf norm on an empty tensor"):
        tt._foreach_norm([tt.ones(2, device=device), tt.ones(0, device=device)], -math.inf)
    with pytest.raises(RuntimeError, match="input dtype should be either floating point or complex. Got Long"):
        tt._foreach_norm([tt.ones(2, dtype=tt.int64, device=device)])
    with pytest.raises(TypeError, match="must be tuple of Tensors"):
        tt._foreach_norm(tt.ones(2, device=device))


def test_foreach_norm_neg_inf(rng):
    for device in DEVICES:
        arrays, ts = _tensors(rng, device, sizes=[(9,), (4099,)])
        for o, a in zip(tt._foreach_norm(ts, -math.inf), arrays):
            assert o.item() == pytest.approx(np.abs(a).min())


def test_foreach_norm_is_two_launches_per_dtype(rng):
    _, ts = _tensors(rng, "cuda", sizes=[(5,), (4100,), (3, 3), (9000,)])
    seen = []

    def observer(record):
        seen.append(record.tunable.name)

    tt._foreach_mul_(ts, 0.5)  # builds (and caches) the table before counting
    tuning.add_observer(observer)
    try:
        tt._foreach_norm(ts, 2)
        F.total_norm(ts, 2.0, clip_max_norm=1.0)
        tt._foreach_mul_(ts, 0.5)
    finally:
        tuning.remove_observer(observer)
    assert seen == ["multi_tensor.norm", "multi_tensor.combine"] * 2 + ["multi_tensor.apply"]


@pytest.mark.parametrize("device", DEVICES)
def test_foreach_mul_and_clamp(rng, device):
    arrays, ts = _tensors(rng, device)
    versions = [t._version for t in ts]
    tt._foreach_mul_(ts, 0.5)
    for t, a, v in zip(ts, arrays, versions):
        np.testing.assert_allclose(t.cpu().numpy(), a * np.float32(0.5), rtol=1e-7)
        assert t._version > v
    tt._foreach_mul_(ts, tt.tensor(2.0, device=device))
    tt._foreach_clamp_min_(ts, -0.5)
    tt._foreach_clamp_max_(ts, 0.25)
    for t, a in zip(ts, arrays):
        np.testing.assert_allclose(t.cpu().numpy(), np.clip(a, -0.5, 0.25), rtol=1e-7)
    tt._foreach_mul_(ts, [2.0] * len(ts))
    with pytest.raises(RuntimeError, match="same number of elements as scalar list"):
        tt._foreach_mul_(ts, [2.0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [2.0, 1.0, math.inf, 0.0])
def test_total_norm_pytorch_semantics(rng, device, p):
    arrays, ts = _tensors(rng, device)
    total, coef = F.total_norm(ts, p, clip_max_norm=3.0)
    if p == 0:  # PyTorch: the 0-"norm" of the per-tensor norms = tensors holding a nonzero
        want = sum(1 for a in arrays if np.count_nonzero(a))
    else:
        want = float(K.total_norm_ref(arrays, p))
    assert total.shape == () and total.dtype is tt.float32
    np.testing.assert_allclose(total.item(), want, rtol=2e-6)
    np.testing.assert_allclose(coef.cpu().numpy().reshape(()), K.clip_coef_ref(total.item(), 3.0), rtol=1e-6)


def test_strided_cuda_grads_are_normed(rng):
    a = rng.standard_normal((6, 4)).astype(np.float32)
    t = tt.tensor(a, device="cuda").t()  # not contiguous
    assert not t.is_contiguous()
    np.testing.assert_allclose(tt._foreach_norm([t], 2)[0].item(), np.linalg.norm(a), rtol=1e-6)
    np.testing.assert_allclose(F.total_norm([t, t], 1.0)[0].item(), 2 * np.abs(a).sum(), rtol=1e-6)
