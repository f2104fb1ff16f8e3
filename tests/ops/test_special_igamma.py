"""tt.igamma / tt.igammac, tt.special.gammainc / gammaincc and the Tensor methods: values on cpu and cuda (the
interpreter) against SciPy, promotion and broadcasting, out= and in-place forms, the gradient in `other`
(gradcheck in float64, cuda's against cpu's, PyTorch's formula), the NotImplementedError in `input`, errors."""

import numpy as np
import pytest
from scipy import special as sp

import tritensor as tt
from tritensor.autograd import gradcheck

DEVICES = ["cpu", "cuda"]
OPS = {"igamma": (tt.igamma, tt.special.gammainc, sp.gammainc),
       "igammac": (tt.igammac, tt.special.gammaincc, sp.gammaincc)}


@pytest.fixture(autouse=True)
def _interpreter_lanes():
    # The interpreter evaluates every expansion on every lane (where-based math); unused lanes see 0/0, log(0).
    with np.errstate(all="ignore"):
        yield


def _pairs(rng, n=9):
    return rng.uniform(0.1, 6, n), rng.uniform(0.05, 9, n)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(OPS))
def test_forward_matches_scipy(rng, device, name):
    top, special, ref = OPS[name]
    a, x = _pairs(rng)
    ta, tx = tt.tensor(a, device=device), tt.tensor(x, device=device)
    for got in (top(ta, tx), special(ta, tx), getattr(ta, name)(tx)):
        assert got.dtype is tt.float64 and got.device.type == device
        np.testing.assert_allclose(got.cpu().numpy(), ref(a, x), rtol=1e-13)
    got32 = top(ta.float(), tx.float())
    assert got32.dtype is tt.float32
    np.testing.assert_allclose(got32.cpu().numpy(), ref(a.astype(np.float32), x.astype(np.float32)), rtol=4e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_known_values_and_edges(device):
    # P(1, x) = 1 - e^-x, P(1/2, x) = erf(sqrt(x)); PyTorch's edges: a or x < 0 -> NaN, P(0, x > 0) = 1,
    # P(0, 0) = NaN, P(a, 0) = 0, P(inf, x) = 0, P(a, inf) = 1, P(NaN, 0) = 0 (SciPy would say NaN).
    a = tt.tensor([1.0, 1.0, 0.5, -1.0, 0.0, 0.0, 2.0, float("inf"), 2.0, float("nan")], dtype=tt.float64,
                  device=device)
    x = tt.tensor([0.5, 3.0, 2.0, 1.0, 1.0, 0.0, 0.0, 4.0, float("inf"), 0.0], dtype=tt.float64, device=device)
    p = np.array([1 - np.exp(-0.5), 1 - np.exp(-3.0), sp.erf(np.sqrt(2.0)), np.nan, 1, np.nan, 0, 0, 1, 0])
    np.testing.assert_allclose(tt.igamma(a, x).cpu().numpy(), p, rtol=1e-14)
    np.testing.assert_allclose(tt.igammac(a, x).cpu().numpy(), 1 - p, rtol=1e-13)


@pytest.mark.parametrize("device", DEVICES)
def test_promotion_and_broadcasting(rng, device):
    a = tt.tensor([[1], [2], [3]], device=device)  # int64 -> the default float dtype
    x = tt.tensor([0, 1, 2, 5], device=device)
    got = tt.igamma(a, x)
    assert got.dtype is tt.float32 and tuple(got.shape) == (3, 4)
    np.testing.assert_allclose(got.cpu().numpy(), sp.gammainc([[1], [2], [3]], [0, 1, 2, 5]), rtol=4e-6)
    assert tt.igamma(tt.tensor([True], device=device), tt.tensor([True], device=device)).dtype is tt.float32
    mixed = tt.igammac(tt.tensor([2.0], device=device), tt.tensor([1.5], dtype=tt.float64, device=device))
    assert mixed.dtype is tt.float64
    assert tt.igamma(tt.tensor([2.0], dtype=tt.float16, device=device), tt.tensor(1, device=device)).dtype is tt.float16
    with _default(tt.float64):
        assert tt.igamma(tt.tensor([2]), tt.tensor([1])).dtype is tt.float64
    with pytest.raises(RuntimeError, match="must match the size"):
        tt.igamma(tt.ones(3, device=device), tt.ones(2, device=device))


class _default:
    """The default dtype set for a block (restored after)."""

    def __init__(self, dtype):
        self.dtype, self.saved = dtype, tt.get_default_dtype()

    def __enter__(self):
        tt.set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        tt.set_default_dtype(self.saved)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(OPS))
def test_out_and_inplace(rng, device, name):
    top, special, ref = OPS[name]
    a, x = _pairs(rng, 6)
    want = ref(a, x)
    out = tt.empty(6, dtype=tt.float64, device=device)
    assert top(tt.tensor(a, device=device), tt.tensor(x, device=device), out=out) is out
    np.testing.assert_allclose(out.cpu().numpy(), want, rtol=1e-13)
    out2 = tt.zeros(6, dtype=tt.float64, device=device)
    special(tt.tensor(a, device=device), tt.tensor(x, device=device), out=out2)
    np.testing.assert_allclose(out2.cpu().numpy(), want, rtol=1e-13)
    t = tt.tensor(a, device=device)
    assert getattr(t, name + "_")(tt.tensor(x, device=device)) is t
    np.testing.assert_allclose(t.cpu().numpy(), want, rtol=1e-13)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        getattr(tt.tensor([1, 2], device=device), name + "_")(tt.tensor([1, 2], device=device))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        getattr(tt.ones(3, device=device), name + "_")(tt.ones(2, 3, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(OPS))
def test_gradcheck_in_other(rng, device, name):
    top = OPS[name][0]
    a = tt.tensor(rng.uniform(0.5, 4, 3), dtype=tt.float64, device=device)
    x = tt.tensor(rng.uniform(0.2, 6, 3), dtype=tt.float64, device=device, requires_grad=True)
    assert gradcheck(lambda v: top(a, v), (x,))


@pytest.mark.parametrize("name", list(OPS))
def test_gradient_formula_broadcast_and_cuda_matches_cpu(rng, name):
    top = OPS[name][0]
    a = rng.uniform(0.5, 4, (3, 1))
    x = rng.uniform(0.2, 6, (1, 4))
    grads = {}
    for device in DEVICES:
        tx = tt.tensor(x, device=device, requires_grad=True)
        out = top(tt.tensor(a, device=device), tx)
        assert out.grad_fn.name() == ("IgammaBackward0" if name == "igamma" else "IgammacBackward0")
        out.sum().backward()
        grads[device] = tx.grad.cpu().numpy()
    density = np.exp((a - 1) * np.log(x) - x - sp.gammaln(a)).sum(axis=0, keepdims=True)  # summed over rows
    sign = 1 if name == "igamma" else -1
    np.testing.assert_allclose(grads["cpu"], sign * density, rtol=1e-12)
    np.testing.assert_allclose(grads["cuda"], grads["cpu"], rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(OPS))
def test_gradient_in_input_is_not_implemented(device, name):
    for fn in OPS[name][:2]:
        a = tt.tensor([2.0], device=device, requires_grad=True)
        x = tt.tensor([1.0], device=device, requires_grad=True)
        out = fn(a, x)
        assert out.requires_grad
        with pytest.raises(NotImplementedError, match=f"^the derivative for '{name}: input' is not implemented."):
            out.sum().backward()


def test_errors():
    t = tt.tensor([1.0])
    with pytest.raises(TypeError, match=r"igamma\(\): argument 'other' \(position 2\) must be Tensor, not float"):
        tt.igamma(t, 2.0)
    with pytest.raises(TypeError, match=r"igammac\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        tt.igammac(2, t)
    with pytest.raises(TypeError, match=r"special_gammainc\(\): argument 'other' \(position 2\) must be Tensor"):
        tt.special.gammainc(t, 1)
    with pytest.raises(TypeError, match=r"igamma\(\): argument 'other' \(position 1\) must be Tensor, not float"):
        t.igamma(1.0)
    with pytest.raises(TypeError, match=r"igammac_\(\): argument 'other' \(position 1\) must be Tensor"):
        t.igammac_(1.0)
    with pytest.raises(RuntimeError, match="\"igamma_cpu\" not implemented for 'ComplexFloat'"):
        tt.igamma(tt.tensor([1 + 1j]), t)
    with pytest.raises(RuntimeError, match="\"igammac_cpu\" not implemented for 'ComplexDouble'"):
        tt.special.gammaincc(t, tt.tensor([1j], dtype=tt.complex128))
    with pytest.raises(RuntimeError, match="out has shape"):
        tt.igamma(t, t, out=tt.empty(2))


def test_namespaces():
    assert {"gammainc", "gammaincc"} <= set(tt.special.__all__)
    assert not hasattr(tt, "gammainc")  # torch keeps them in torch.special only
    for name in ("igamma", "igammac", "igamma_", "igammac_"):
        assert callable(getattr(tt.Tensor, name))
