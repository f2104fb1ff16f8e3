"""Statistical kernels (var/std, norm, logsumexp) in Triton's interpreter against their NumPy references:
every p, corrections and the mean output, infinities, and the norm backward's ties and zero norms."""

import math

import numpy as np
import pytest
from tritensor.kernels import statistics as ST

from tests.conftest import as_device
from tests.kernels.reduction_helpers import BF16, backward, close, layout, run

# The interpreter evaluates IEEE edge cases (log(0), 0/0, all-NaN max) in NumPy, which warns.


@pytest.mark.parametrize("p", [0, 1, 2, math.inf, -math.inf, 0.5, 3.0, -1.5])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
def test_norm(rng, p, dt):
    x = rng.standard_normal((4, 29)).astype(dt)
    x[0, :5] = 0
    x[3] = 0  # an all-zero row
    for x2, axis in ((x, 1), (x.T, 0)):
        got = run(ST.norm, x2, dt, p=p)
        close(got, ST.norm_ref(x, p, (axis,), False), dt, scale=10)


@pytest.mark.parametrize("correction", [0, 1, 2.5])
def test_var_correction_and_mean_out(rng, correction):
    x = rng.standard_normal((3, 11)).astype(np.float64) * 1e3 + 1e6  # large mean: two-pass stays exact
    var = np.zeros(3)
    mean = np.zeros(3)
    ST.var(as_device(var), as_device(x), correction=correction, mean_out=as_device(mean))
    np.testing.assert_allclose(var, ST.var_ref(x, (1,), correction), rtol=1e-10)
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-14)
    std = run(ST.std, x.T.copy().T, np.float64, correction=correction)
    np.testing.assert_allclose(std, ST.std_ref(x, (1,), correction), rtol=1e-10)


def test_var_of_single_element_is_nan():
    x = np.array([[3.0], [4.0]], np.float32)
    with np.errstate(invalid="ignore"):
        assert np.isnan(run(ST.var, x, np.float32)).all()
    assert (run(ST.var, x, np.float32, correction=0) == 0).all()


def test_logsumexp_infinities():
    inf = np.inf
    x = np.array([[-inf, -inf, -inf], [1.0, inf, 2.0], [-inf, 0.0, -inf], [1e3, 1e3, -1e3]], np.float32)
    with np.errstate(divide="ignore"):
        got = run(ST.logsumexp, x, np.float32)
    np.testing.assert_allclose(got, [-inf, inf, 0.0, 1000.0 + np.log(2.0)], rtol=1e-6)
    np.testing.assert_allclose(got, ST.logsumexp_ref(x, (1,), False), rtol=1e-6)


@pytest.mark.parametrize("dt,axis", [(np.float32, 1), (np.float64, 0), (BF16, 1)])
def test_norm_backward_kernels(rng, dt, axis):
    x = rng.standard_normal((5, 13)).astype(dt)
    x[1, 3] = 0
    x2 = layout(x, axis)
    g = rng.standard_normal(x2.shape[0]).astype(dt)
    for p in (0, 1, 2, math.inf, -math.inf, 0.5, 3.0):
        y = run(ST.norm, x2, dt, p=p)
        close(backward(ST.norm_backward, x2, g, x2, y, p=p),
               layout(ST.norm_backward_ref(g, x, y, p, (axis,), False)[0], axis), dt, scale=4)


def test_norm_inf_backward_ties_and_zero_norm():
    x = np.array([[-3.0, 1.0, 3.0], [0.0, 0.0, 0.0]], np.float64)
    g = np.array([2.0, 5.0])
    y = run(ST.norm, x, np.float64, p=math.inf)
    # Split among the ties, times sign(x): an all-zero row gets sign(0) = 0, as PyTorch's sgn().
    np.testing.assert_allclose(backward(ST.norm_backward, x, g, x, y, p=math.inf), [[-1, 0, 1], [0, 0, 0]])
    y2 = run(ST.norm, x, np.float64, p=2)
    assert (backward(ST.norm_backward, x, g, x, y2, p=2)[1] == 0).all()  # zero norm: zero gradient


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16, BF16])
def test_norm2_and_var_refs_keep_the_pairwise_bits_and_the_input(rng, dt):
    """p = 2 squares without the abs pass and var squares in place: the bits of sqrt(sum(|x| * |x|)) and of
    sum((x - mean) ** 2), NaN signs included, and x itself untouched."""
    x = (rng.standard_normal((37, 301)) * 3).astype(dt)
    x[1, ::7] = -0.0
    x[2, 5] = np.inf
    x[3, 4] = -np.nan
    x[4, 9] = np.nan
    keep = x.copy()
    acc = np.float64 if dt == np.float64 else np.float32
    a = np.abs(x.astype(acc))
    for axis in ((0, 1), (1,), (0,)):
        with np.errstate(invalid="ignore"):
            want = np.sqrt(np.sum(a * a, axis=axis)).astype(dt)
            m = np.sum(x.astype(acc), axis=axis, keepdims=True) / acc(np.prod([x.shape[i] for i in axis]))
            var = (np.sum((x.astype(acc) - m) ** 2, axis=axis) / (np.prod([x.shape[i] for i in axis]) - 1)).astype(dt)
        assert ST.norm_ref(x, 2.0, axis, False).tobytes() == want.tobytes()
        assert ST.var_ref(x, axis, 1, False).tobytes() == var.tobytes()
    assert x.tobytes() == keep.tobytes()
