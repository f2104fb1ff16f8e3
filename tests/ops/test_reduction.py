"""Reductions on cpu and interpreted cuda against NumPy, for every reduction family (sum, mean, prod, all/any,
count_nonzero; var/std, norm, logsumexp; max/min, amax/amin, argmax/argmin): dims, dtypes, NaN, empty and
0-d inputs, errors; backward on both devices, gradcheck and gradgradcheck, and the kernels-not-NumPy check."""

import math

import numpy as np
import pytest
from tritensor.kernels import extrema as KEX
from tritensor.kernels import reduction as KR
from tritensor.kernels import statistics as KST

import tritensor as tt
from tests.ops.reduction_helpers import DEVICES, DIM_CASES, _axis, _close, _input, _lse, _norm, _np

# name -> (tritensor call, NumPy reference): both take (x, dim, keepdim)
FLOAT_OPS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), lambda a, d, k: a.sum(axis=d, keepdims=k)),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), lambda a, d, k: a.mean(axis=d, keepdims=k)),
    "amax": (lambda x, d, k: x.amax(() if d is None else d, keepdim=k), lambda a, d, k: a.max(axis=d, keepdims=k)),
    "amin": (lambda x, d, k: tt.amin(x, () if d is None else d, k), lambda a, d, k: a.min(axis=d, keepdims=k)),
    "var": (lambda x, d, k: x.var(d, keepdim=k), lambda a, d, k: a.var(axis=d, ddof=1, keepdims=k)),
    "var_c0": (lambda x, d, k: tt.var(x, d, keepdim=k, correction=0), lambda a, d, k: a.var(axis=d, keepdims=k)),
    "std": (lambda x, d, k: x.std(d, keepdim=k), lambda a, d, k: a.std(axis=d, ddof=1, keepdims=k)),
    "std_unbiased_false": (lambda x, d, k: tt.std(x, d, False, k), lambda a, d, k: a.std(axis=d, keepdims=k)),
    "norm": (lambda x, d, k: x.norm(dim=d, keepdim=k), lambda a, d, k: _norm(a, 2, d, k)),
    "norm1": (lambda x, d, k: x.norm(1, d, k), lambda a, d, k: _norm(a, 1, d, k)),
    "norm_inf": (lambda x, d, k: tt.norm(x, math.inf, d, k), lambda a, d, k: _norm(a, math.inf, d, k)),
    "norm_-inf": (lambda x, d, k: tt.norm(x, -math.inf, d, k), lambda a, d, k: _norm(a, -math.inf, d, k)),
    "norm0": (lambda x, d, k: tt.norm(x, 0, d, k), lambda a, d, k: _norm(a, 0, d, k)),
    "norm3.5": (lambda x, d, k: tt.norm(x, 3.5, d, k), lambda a, d, k: _norm(a, 3.5, d, k)),
    "logsumexp": (lambda x, d, k: x.logsumexp(() if d is None else d, k), lambda a, d, k: _lse(a, d, k)),
    "all": (lambda x, d, k: x.all(d, keepdim=k), lambda a, d, k: np.all(a != 0, axis=d, keepdims=k)),
    "any": (lambda x, d, k: x.any(d, keepdim=k), lambda a, d, k: np.any(a > 1, axis=d, keepdims=k)),
    "count_nonzero": (lambda x, d, k: x.count_nonzero(d), lambda a, d, k: np.count_nonzero(a, axis=d)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(FLOAT_OPS))
def test_float_reductions_over_dims(rng, device, name):
    fn, ref = FLOAT_OPS[name]
    x, a = _input(rng, device)
    if name == "any":
        x = x > 1  # a bool input with both values in most rows
    if name in ("all", "count_nonzero"):
        x = x * (x.abs() > 1)  # zeros, and rows without zeros
        a = a * (np.abs(a) > 1)
    for dim, keepdim in DIM_CASES:
        r = fn(x, dim, keepdim)
        expected = np.asarray(ref(a, _axis(dim), keepdim))
        assert r.shape == expected.shape, (name, dim, keepdim)
        assert r.device == x.device
        if name in ("all", "any"):
            assert r.dtype is tt.bool and (_np(r) == expected).all()
        elif name == "count_nonzero":
            assert r.dtype is tt.int64 and (_np(r) == expected).all()
        else:
            assert r.dtype is tt.float32
            _close(r, expected, tt.float32, scale=10)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, True), (-1, False), (1, False)])
def test_prod_max_min_argmax(rng, device, dim, keepdim):
    x, a = _input(rng, device)
    x, a = x * 0.5 + 1, a * 0.5 + 1  # values near 1 keep the product well scaled
    if dim is None:
        _close(x.prod(), a.prod(), tt.float32)
        _close(x.max(), a.max(), tt.float32)
        _close(tt.min(x), a.min(), tt.float32)
        assert x.argmax().item() == a.argmax() and x.argmin().item() == a.argmin()
        assert x.argmax(keepdim=True).shape == (1, 1, 1) and x.argmax(keepdim=True).item() == a.argmax()
        return
    _close(x.prod(dim, keepdim), a.prod(axis=dim, keepdims=keepdim), tt.float32)
    for fn, np_val, np_idx in ((tt.max, np.max, np.argmax), (tt.min, np.min, np.argmin)):
        r = fn(x, dim, keepdim)
        values, indices = r
        assert type(r).__name__ == fn.__name__ and r.values is values and r.indices is indices
        assert "return_types" in repr(r)
        _close(values, np_val(a, axis=dim, keepdims=keepdim), tt.float32)
        assert indices.dtype is tt.int64
        np.testing.assert_array_equal(_np(indices), np_idx(a, axis=dim, keepdims=keepdim))
    idx = x.argmax(dim, keepdim)
    np.testing.assert_array_equal(_np(idx), np.argmax(a, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(_np(tt.argmin(x, dim)), np.argmin(a, axis=dim))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float64, tt.float16, tt.bfloat16])
def test_float_dtypes(rng, device, dtype):
    x, a = _input(rng, device, dtype)
    for name in ("sum", "mean", "amax", "var", "std", "norm", "norm3.5", "logsumexp"):
        fn, ref = FLOAT_OPS[name]
        for dim, keepdim in [(1, True), ((0, 2), False)]:
            r = fn(x, dim, keepdim)
            assert r.dtype is dtype, name
            _close(r, ref(a, _axis(dim), keepdim), dtype, scale=10)
    _close(x.prod(2), a.prod(axis=2), dtype, scale=10)
    _close(x.max(1).values, a.max(axis=1), dtype)
    np.testing.assert_array_equal(_np(x.argmin(0)), a.argmin(axis=0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int32, tt.int64, tt.uint8, tt.int8, tt.bool])
def test_integer_and_bool_result_dtypes(device, dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 7 - (0 if dtype in (tt.uint8, tt.bool) else 3)).astype(dtype.np)
    x = tt.tensor(a, device=device).transpose(0, 2)
    a = a.transpose(2, 1, 0)
    wide = a.astype(np.int64)
    for r, expected in ((x.sum(), wide.sum()), (x.sum((0, 1)), wide.sum(axis=(0, 1))),
                        (x.prod(1), wide.prod(axis=1)), (tt.prod(x), wide.prod())):
        assert r.dtype is tt.int64 and (_np(r) == expected).all()
    assert x.sum(dtype=tt.float64).dtype is tt.float64 and x.sum(dtype=tt.float64).item() == wide.sum()
    assert x.prod(2, dtype=tt.int32).dtype is tt.int32
    for r, expected in ((x.amax(), a.max()), (x.amin((0, 2)), a.min(axis=(0, 2))), (x.max(0).values, a.max(0)),
                        (tt.min(x), a.min())):
        assert r.dtype is dtype and (_np(r) == expected).all()
    np.testing.assert_array_equal(_np(x.max(1).indices), np.argmax(a, axis=1))
    assert x.all().dtype is (tt.uint8 if dtype is tt.uint8 else tt.bool)
    np.testing.assert_array_equal(_np(x.any(1)), np.any(a != 0, axis=1))
    np.testing.assert_array_equal(_np(x.count_nonzero((0, 1))), np.count_nonzero(a, axis=(0, 1)))
    with pytest.raises(RuntimeError, match="mean.*could not infer output dtype.*Input dtype must be"):
        x.mean()
    assert x.mean(dtype=tt.float32).dtype is tt.float32
    np.testing.assert_allclose(_np(x.mean(1, dtype=tt.float64)), wide.mean(axis=1))
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        x.var()
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        x.norm()
    lse = x.logsumexp(1)  # integers promote to the default float type
    assert lse.dtype is tt.float32
    np.testing.assert_allclose(_np(lse), _lse(wide.astype(np.float64), 1, False), rtol=1e-6)
    if dtype is not tt.bool:
        np.testing.assert_array_equal(_np(x.argmax(2)), np.argmax(a, axis=2))
    else:
        with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
            x.argmax()


@pytest.mark.parametrize("device", DEVICES)
def test_sum_dtype_argument_casts_first(device):
    x = tt.tensor([1.7, 2.7, -0.5], device=device)
    r = x.sum(dtype=tt.int32)
    assert r.dtype is tt.int32 and r.item() == 3  # PyTorch casts the input first: 1 + 2 + 0
    h = tt.tensor([2048.0, 1.0, 1.0], dtype=tt.float16, device=device)
    assert h.sum(dtype=tt.float32).item() == 2050.0 and h.sum().dtype is tt.float16
    assert tt.mean(tt.tensor([1, 2], device=device), dtype=tt.float64).item() == 1.5
    w = tt.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    r = w.sum(1, dtype=tt.float64)
    assert r.dtype is tt.float64 and r.tolist() == [3.0, 7.0]
    (r * tt.tensor([1.0, -2.0], dtype=tt.float64, device=device)).sum().backward()
    assert w.grad.dtype is tt.float32 and w.grad.tolist() == [[1.0, 1.0], [-2.0, -2.0]]


@pytest.mark.parametrize("device", DEVICES)
def test_nan_propagation_and_first_index(device):
    nan = float("nan")
    x = tt.tensor([[1.0, nan, 3.0, nan], [2.0, 5.0, 5.0, -1.0], [-nan, 0.0, 7.0, 7.0]], device=device)
    assert math.isnan(x.max().item()) and math.isnan(x.amin().item())
    v, i = x.max(1)
    assert math.isnan(v[0].item()) and v[1].item() == 5.0 and math.isnan(v[2].item())
    assert i.tolist() == [1, 1, 0]  # the first NaN, else the first of the ties
    assert x.argmax(1).tolist() == [1, 1, 0] and x.argmin(1).tolist() == [1, 3, 0]
    assert tt.min(x, 1).indices.tolist() == [1, 3, 0]
    assert x.argmax().item() == 1
    a = x.amax(1).tolist()
    assert math.isnan(a[0]) and a[1] == 5.0
    assert math.isnan(x.sum().item()) and x[1].sum().item() == 11.0
    assert math.isnan(x.logsumexp(1)[0].item())


@pytest.mark.parametrize("device", DEVICES)
def test_empty_and_zero_dim_inputs(device):
    e = tt.zeros(0, 3, device=device)
    with np.errstate(invalid="ignore"):
        assert e.sum().item() == 0 and e.prod().item() == 1 and math.isnan(e.mean().item())
    assert e.sum(0).tolist() == [0.0] * 3 and e.prod(0).tolist() == [1.0] * 3
    assert e.all().item() is True and e.any().item() is False and e.count_nonzero().item() == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        assert e.logsumexp(0).tolist() == [-math.inf] * 3 and math.isnan(e.var().item())
    assert e.norm().item() == 0.0 and e.amax(1).shape == (0,) and e.max(1).values.shape == (0,)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified for input.numel"):
        e.max()
    with pytest.raises(IndexError, match="max\\(\\): Expected reduction dim 0 to have non-zero size"):
        e.max(0)
    with pytest.raises(IndexError, match="amin\\(\\): Expected reduction dim 0 to have non-zero size"):
        e.amin(0)
    with pytest.raises(RuntimeError, match="argmax\\(\\): Expected reduction dim to be specified"):
        e.argmax()
    with pytest.raises(RuntimeError, match="cannot compute the inf norm on an empty tensor"):
        e.norm(math.inf)
    s = tt.tensor(2.5, device=device)
    assert s.sum().item() == 2.5 and s.sum(0).item() == 2.5 and s.mean(-1, keepdim=True).shape == ()
    assert s.max(0).values.item() == 2.5 and s.max(0).indices.item() == 0 and s.argmax().item() == 0
    with np.errstate(invalid="ignore"):
        assert s.amax().item() == 2.5 and s.logsumexp(0).item() == 2.5 and math.isnan(s.var().item())
    assert s.std(correction=0).item() == 0.0 and s.norm().item() == 2.5


@pytest.mark.parametrize("device", DEVICES)
def test_dim_errors(device):
    x = tt.ones(2, 3, device=device)
    for call in (lambda: x.sum(2), lambda: x.mean(-3), lambda: x.max(5), lambda: x.amax((0, 4)),
                 lambda: x.argmax(2), lambda: x.var(3), lambda: x.logsumexp(2), lambda: x.all(7),
                 lambda: x.count_nonzero(-4), lambda: x.norm(dim=2), lambda: x.prod(2)):
        with pytest.raises(IndexError, match="Dimension out of range"):
            call()
    with pytest.raises(RuntimeError, match="dim 1 appears multiple times in the list of dims"):
        x.sum((1, -1))
    with pytest.raises(TypeError, match="prod\\(\\): argument 'dim' must be int"):
        x.prod((0, 1))
    with pytest.raises(NotImplementedError, match="SVD"):
        x.norm("nuc")
    with pytest.raises(RuntimeError, match="Cannot specify both unbiased and correction"):
        x.var(0, True, correction=0)
    with pytest.raises(TypeError):
        tt.logsumexp(x)  # dim is required, as in PyTorch


@pytest.mark.parametrize("device", DEVICES)
def test_long_rows(rng, device):
    a = rng.standard_normal((3, 5000)).astype(np.float32)
    x = tt.tensor(a, device=device)
    a64 = a.astype(np.float64)
    _close(x.sum(1), a64.sum(1), tt.float32, scale=100)
    _close(x.var(1), a64.var(1, ddof=1), tt.float32, scale=10)
    _close(x.logsumexp(1), _lse(a64, 1, False), tt.float32)
    _close(x.norm(dim=1), np.linalg.norm(a64, axis=1), tt.float32)
    v, i = x.max(1)
    _close(v, a64.max(1), tt.float32)
    assert i.tolist() == a.argmax(1).tolist()
    # the reduced dim strided (a column reduction)
    _close(x.t().mean(0), a64.mean(1), tt.float32, scale=10)
    np.testing.assert_array_equal(_np(x.t().argmin(0)), a.argmin(1))


def _grads(fn, x, create_graph=False):
    """d(sum(fn(x) * w))/dx for a fixed w, through autograd (fused or graph-built backward)."""
    out = fn(x)
    out = out[0] if isinstance(out, tuple) else out
    w = tt.tensor(np.linspace(-1.5, 2.0, out.numel()).reshape(out.shape), dtype=out.dtype, device=out.device)
    (g,) = tt.autograd.grad(out, x, w, create_graph=create_graph)
    return _np(g)


GRAD_OPS = {
    "sum": lambda x: x.sum((0, 2)),
    "sum_all": lambda x: x.sum(),
    "mean": lambda x: x.mean(1, keepdim=True),
    "prod": lambda x: x.prod(1),
    "prod_all": lambda x: x.prod(),
    "amax": lambda x: x.amax((0, 2), keepdim=True),
    "amin": lambda x: x.amin(-1),
    "max": lambda x: x.max(),
    "max_dim": lambda x: x.max(1),
    "min_dim": lambda x: x.min(0, keepdim=True),
    "var": lambda x: x.var((0, 2)),
    "std": lambda x: x.std(1, keepdim=True),
    "var_mean": lambda x: (lambda v, m: v * 2 + m)(*tt.var_mean(x, 1)),
    "std_mean": lambda x: (lambda v, m: v - m * 3)(*tt.std_mean(x, (0, 2), correction=0)),
    "norm": lambda x: x.norm(dim=1),
    "norm1": lambda x: x.norm(1, dim=(0, 2)),
    "norm_inf": lambda x: x.norm(math.inf, dim=1),
    "norm3": lambda x: x.norm(3, dim=2),
    "logsumexp": lambda x: x.logsumexp(1),
}


@pytest.mark.parametrize("name", sorted(GRAD_OPS))
def test_backward_on_both_devices_and_with_create_graph(rng, name):
    """cuda (fused kernels), cpu (NumPy references) and the create_graph tensor-op formulas agree; the
    input has repeated values (ties for max/amax, a zero for prod) and is non-contiguous."""
    a = np.round(rng.standard_normal((3, 4, 2)) * 2) / 2
    a[1, 2, 0] = 0.0
    results = {}
    for device in DEVICES:
        x = tt.tensor(a, device=device).permute(2, 0, 1).requires_grad_()
        results[device] = _grads(GRAD_OPS[name], x)
        results[device + "_graph"] = _grads(GRAD_OPS[name], x, create_graph=True)
    for key, value in results.items():
        np.testing.assert_allclose(value, results["cpu"], rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16])
def test_backward_low_precision(rng, device, dtype):
    a = rng.standard_normal((3, 6)).astype(dtype.np)
    a64 = a.astype(np.float64)
    for fn, expected in ((lambda x: x.mean(1), np.full(a.shape, 1 / 6)),
                         (lambda x: x.var(1), 2 * (a64 - a64.mean(1, keepdims=True)) / 5),
                         (lambda x: x.logsumexp(1), np.exp(a64 - _lse(a64, 1, True)))):
        x = tt.tensor(a, device=device, requires_grad=True)
        fn(x).sum().backward()
        assert x.grad.dtype is dtype
        _close(x.grad, expected, dtype, scale=4)


def test_gradcheck_every_differentiable_reduction(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)
    z = tt.tensor([[1.5, 0.0, 2.0], [0.0, 0.0, -1.0], [0.5, 2.0, -3.0]], dtype=tt.float64, requires_grad=True)
    cases = [
        (lambda t: t.sum(1), x), (lambda t: t.sum((0, 1), keepdim=True), x), (lambda t: t.mean(0), x),
        (lambda t: t.prod(1), x), (lambda t: t.prod().reshape(1), x), (lambda t: t.prod(1), z),
        (lambda t: t.prod(0), z), (lambda t: t.amax(1), x), (lambda t: t.amin((0, 1), keepdim=True), x),
        (lambda t: t.max().reshape(1), x),
        (lambda t: t.max(1).values, x), (lambda t: t.min(0, keepdim=True).values, x),
        (lambda t: t.var(1), x), (lambda t: t.var(0, correction=0), x), (lambda t: t.std(1), x),
        (lambda t: tt.var_mean(t, 1), x), (lambda t: tt.std_mean(t, 0), x),
        (lambda t: t.norm().reshape(1), x), (lambda t: t.norm(1, 1), x), (lambda t: t.norm(math.inf, 0), x),
        (lambda t: t.norm(-math.inf, 0), x), (lambda t: t.norm(3, 1), x), (lambda t: t.norm(0.5, 1), x),
        (lambda t: t.logsumexp(1), x), (lambda t: t.logsumexp((0, 1), keepdim=True), x),
    ]
    # (0-d results are reshaped to 1-d: gradcheck's one-hot grad_outputs come out 1-d for a 0-d output)
    for fn, inp in cases:
        assert tt.autograd.gradcheck(fn, (inp,))


def test_gradgradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)
    z = tt.tensor([[1.5, 0.0, 2.0], [0.5, 2.0, -3.0]], dtype=tt.float64, requires_grad=True)
    cases = [
        # (keepdim: gradgradcheck's random grad_outputs come out 1-d for a 0-d output)
        (lambda t: t.sum(1), x), (lambda t: t.mean((0, 1), keepdim=True), x), (lambda t: t.var(1), x),
        (lambda t: t.var(0, correction=0, keepdim=True), x), (lambda t: t.logsumexp(1), x),
        (lambda t: t.logsumexp((0, 1), keepdim=True), x), (lambda t: t.amax(1), x), (lambda t: t.std(1), x),
        (lambda t: tt.var_mean(t, 0), x), (lambda t: t.norm(dim=1), x), (lambda t: t.norm(3, 0), x),
        (lambda t: t.prod(1), z), (lambda t: t.max(0).values, x),
    ]
    for fn, inp in cases:
        assert tt.autograd.gradgradcheck(fn, (inp,))


def test_cuda_runs_kernels_not_numpy(rng, monkeypatch):
    """Under the interpreter every cuda reduction, forward and backward, must go through the Triton
    kernels: the NumPy references are disabled here."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a NumPy reference ran for a cuda tensor")

    for module in (KR, KST, KEX):
        for name in dir(module):
            if name.endswith("_ref"):
                monkeypatch.setattr(module, name, forbidden)
    x = tt.tensor(rng.standard_normal((3, 4)), device="cuda", requires_grad=True)
    outs = [x.sum(1), x.mean(), x.prod(0), x.amax(1), x.max(), x.max(1).values, x.var(1), x.std(0),
            tt.var_mean(x, 1)[1], x.norm(), x.norm(3, 1), x.logsumexp(1)]
    sum(o.sum() for o in outs).backward()
    assert x.grad.shape == (3, 4)
    assert x.argmax().dtype is tt.int64 and x.all().dtype is tt.bool and x.count_nonzero().item() == 12
