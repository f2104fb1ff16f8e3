"""ops/distance.py and kernels/distance.py: cdist (kernel in the interpreter vs the NumPy reference, every p,
odd sizes, strided and fp16/fp64 operands; gradcheck; the matmul form), pdist, cosine_similarity,
pairwise_distance, normalize; errors."""

import numpy as np
import pytest
from tritensor.kernels import distance as K

import tritensor as tt
import tritensor.nn.functional as F
from tests.conftest import as_device

PS = [0.0, 1.0, 2.0, 3.0, 0.5, float("inf")]


def _brute(a, b, p):
    out = np.zeros(a.shape[:-1] + (b.shape[-2],))
    for idx in np.ndindex(out.shape):
        d = np.abs(a[idx[:-2] + (idx[-2],)] - b[idx[:-2] + (idx[-1],)])
        out[idx] = (d != 0).sum() if p == 0 else d.max() if p == float("inf") else (d ** p).sum() ** (1 / p)
    return out


def test_reference_known_values():
    a = np.array([[[0.0, 0.0], [1.0, 1.0]]])
    b = np.array([[[3.0, 4.0]]])
    np.testing.assert_allclose(K.cdist_ref(a, b, 2.0)[0, :, 0], [5.0, np.sqrt(13)])
    np.testing.assert_allclose(K.cdist_ref(a, b, 1.0)[0, :, 0], [7.0, 5.0])
    np.testing.assert_allclose(K.cdist_ref(a, b, float("inf"))[0, :, 0], [4.0, 3.0])
    np.testing.assert_allclose(K.cdist_ref(a, b, 0.0)[0, :, 0], [2.0, 2.0])
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    for p in PS:
        np.testing.assert_allclose(K.cdist_ref(x, y, p), _brute(x, y, p), rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 0.5])
def test_backward_ref_vs_finite_differences(p):
    rng = np.random.default_rng(1)
    x, y, g = rng.standard_normal((1, 3, 4)), rng.standard_normal((1, 2, 4)), rng.standard_normal((1, 3, 2))
    gx, gy = K.cdist_backward_ref(g, K.cdist_ref(x, y, p), x, y, p)
    h = 1e-6
    for arr, grad in ((x, gx), (y, gy)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            up = (K.cdist_ref(x, y, p) * g).sum()
            arr[i] = old - h
            down = (K.cdist_ref(x, y, p) * g).sum()
            arr[i] = old
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("dt,tol", [(np.float32, 1e-5), (np.float64, 1e-12), (np.float16, 2e-3)],
                         ids=["fp32", "fp64", "fp16"])
def test_kernels_vs_ref(p, dt, tol):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 19, 37)).astype(dt)  # odd sizes: partial tiles in every dim
    y = np.ascontiguousarray(rng.standard_normal((2, 37, 18)).astype(dt).transpose(0, 2, 1))
    y_view = rng.standard_normal((2, 37, 18)).astype(dt).transpose(0, 2, 1)  # a strided operand
    y[:, 3] = x[:, 5]  # a zero distance
    for other in (y, y_view):
        out = np.zeros((2, 19, 18), dt)
        K.cdist(as_device(out), as_device(x), as_device(other), p)
        np.testing.assert_allclose(out.astype(np.float64), K.cdist_ref(x, other, p).astype(np.float64),
                                   rtol=tol, atol=tol)
    dist = K.cdist_ref(x, y, p)
    g = rng.standard_normal((2, 19, 18)).astype(dt)
    gx = np.zeros_like(x)
    K.cdist_backward(as_device(gx), as_device(g), as_device(dist), as_device(x), as_device(y), p)
    rgx, rgy = K.cdist_backward_ref(g, dist, x, y, p)
    scale = 10 if p == 0.5 else 1  # |d|^(p-1) amplifies the rounding of tiny differences
    np.testing.assert_allclose(gx.astype(np.float64), rgx.astype(np.float64), rtol=tol * scale, atol=tol * scale)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 0.5, float("inf")])
def test_cdist_op_gradcheck_and_devices(p):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3, 3)), rng.standard_normal((1, 2, 3))  # batch dims broadcast
    results = []
    for device in ("cpu", "cuda"):
        x = tt.tensor(a, device=device, requires_grad=True)
        y = tt.tensor(b, device=device, requires_grad=True)
        d = tt.cdist(x, y, p)
        assert d.shape == (2, 3, 2) and d.grad_fn is not None
        d.backward(tt.ones(d.shape, dtype=tt.float64, device=device))
        results.append((d.detach().cpu().numpy(), x.grad.cpu().numpy(), y.grad.cpu().numpy()))
        if p != float("inf") and (device == "cpu" or p == 0.5):  # the interpreter is slow
            assert tt.autograd.gradcheck(lambda u, v: tt.cdist(u, v, p), (x.detach().requires_grad_(),
                                                                         y.detach().requires_grad_()))
    np.testing.assert_allclose(results[0][0], _brute(a, np.broadcast_to(b, (2, 2, 3)), p), rtol=1e-12)
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-10, atol=1e-12)


def test_cdist_matmul_form_and_modes():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((30, 3)), rng.standard_normal((4, 3))  # 30 rows > 25: the matmul form
    x = tt.tensor(a, requires_grad=True)
    y = tt.tensor(b)
    d = tt.cdist(x, y)
    np.testing.assert_allclose(d.detach().numpy(), _brute(a, b, 2), rtol=1e-10)
    assert d.grad_fn.name() != "CdistBackward0"
    x3, y3 = x[None], y[None]
    assert tt.cdist(x3[:, :5], y3).grad_fn.name() == "CdistBackward0"
    assert tt.cdist(x3[:, :5], y3, compute_mode="use_mm_for_euclid_dist").grad_fn.name() != "CdistBackward0"
    assert tt.cdist(x3, y3, compute_mode="donot_use_mm_for_euclid_dist").grad_fn.name() == "CdistBackward0"


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="cdist only supports at least 2D tensors, X1 got: 1D"):
        tt.cdist(tt.ones(3), tt.ones(2, 3))
    with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns. X1: 3 X2: 4"):
        tt.cdist(tt.ones(2, 3), tt.ones(2, 4))
    with pytest.raises(RuntimeError, match="cdist only supports floating-point dtypes, X1 got: Long"):
        tt.cdist(tt.ones(2, 3, dtype=tt.int64), tt.ones(2, 3))
    with pytest.raises(RuntimeError, match="cdist only supports non-negative p values"):
        tt.cdist(tt.ones(2, 3), tt.ones(2, 3), -1.0)
    with pytest.raises(ValueError, match="bad is not a valid value for compute_mode"):
        tt.cdist(tt.ones(2, 3), tt.ones(2, 3), compute_mode="bad")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_pdist(device):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((5, 3))
    x = tt.tensor(a, device=device, requires_grad=True)
    d = tt.pdist(x)
    full = _brute(a, a, 2)
    np.testing.assert_allclose(d.detach().cpu().numpy(), full[np.triu_indices(5, 1)], rtol=1e-12)
    if device == "cpu":  # cdist's cuda backward is checked against cpu's in the test above
        assert tt.autograd.gradcheck(lambda t: tt.pdist(t, 1.5), (x.detach().requires_grad_(),))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        tt.pdist(tt.ones(2, 2, 2))
    assert F.pdist(x).shape == (10,)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_cosine_similarity(device):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((1, 3))  # broadcast
    x, y = tt.tensor(a, device=device, requires_grad=True), tt.tensor(b, device=device, requires_grad=True)
    s = tt.cosine_similarity(x, y)
    ref = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(s.detach().cpu().numpy(), ref, rtol=1e-12)
    if device == "cpu":  # composed ops, the same on both devices
        assert tt.autograd.gradcheck(lambda u, v: F.cosine_similarity(u, v, dim=1), (x, y))
    # a zero vector: the norm is clamped to eps, the similarity is 0
    z = F.cosine_similarity(tt.zeros(2, 3, device=device), tt.ones(2, 3, device=device), dim=1)
    np.testing.assert_array_equal(z.cpu().numpy(), [0.0, 0.0])
    with pytest.raises(RuntimeError, match="expected common dtype to be floating point, yet common dtype is Long"):
        tt.cosine_similarity(tt.ones(2, dtype=tt.int64), tt.ones(2, dtype=tt.int64), dim=0)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_pairwise_distance_and_normalize(device):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    x, y = tt.tensor(a, device=device, requires_grad=True), tt.tensor(b, device=device)
    d = F.pairwise_distance(x, y)
    np.testing.assert_allclose(d.detach().cpu().numpy(), np.linalg.norm(a - b + 1e-6, axis=-1), rtol=1e-12)
    assert F.pairwise_distance(x, y, p=1.0, keepdim=True).shape == (3, 1)
    if device == "cpu":  # composed ops, the same on both devices
        assert tt.autograd.gradcheck(lambda t: F.pairwise_distance(t, y, 3.0), (x,))
    n = F.normalize(x, dim=1)
    np.testing.assert_allclose(n.detach().cpu().numpy(), a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(F.normalize(tt.zeros(2, 2, device=device)).cpu().numpy(), 0.0)
    out = tt.empty(3, 4, dtype=tt.float64, device=device)
    assert F.normalize(x.detach(), p=1.0, dim=0, out=out) is out
    np.testing.assert_allclose(out.cpu().numpy(), a / np.abs(a).sum(0), rtol=1e-12)
    if device == "cpu":
        assert tt.autograd.gradcheck(lambda t: F.normalize(t, dim=1), (x,))


# ================================================================ the cpu path of cosine_similarity and normalize
def _cos64(a, b, dim, eps=1e-8):
    """PyTorch's formula in float64: each input divided by its own clamped norm, then the product summed."""
    a, b = np.broadcast_arrays(a.astype(np.float64), b.astype(np.float64))
    n1 = np.maximum(np.sqrt((a * a).sum(dim, keepdims=True)), eps)
    n2 = np.maximum(np.sqrt((b * b).sum(dim, keepdims=True)), eps)
    return ((a / n1) * (b / n2)).sum(dim)


def _fd_grads(f, arrays, g, h=1e-6):
    """float64 central differences of sum(f(*arrays) * g) with respect to each array."""
    grads = []
    for arr in arrays:
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            up = (f(*arrays) * g).sum()
            arr[i] = old - h
            down = (f(*arrays) * g).sum()
            arr[i] = old
            num[i] = (up - down) / (2 * h)
        grads.append(num)
    return grads


COS_CASES = [((5, 7), (5, 7), 1), ((5, 7), (5, 7), 0), ((5, 7), (1, 7), 1), ((3, 4, 5), (4, 1), 1),
             ((3, 4, 5), (3, 4, 5), 2), ((6,), (6,), 0), ((2, 3, 4), (2, 3, 4), -3)]


@pytest.mark.parametrize("s1,s2,dim", COS_CASES)
def test_cosine_similarity_references_vs_float64(s1, s2, dim):
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal(s1), rng.standard_normal(s2)
    a.reshape(-1)[:2] = 0.0  # exact zeros among the values (zero norms: the clamp test below)
    x1, x2 = np.broadcast_arrays(a, b)
    d = dim % x1.ndim
    out, n1, n2 = K.cosine_similarity_ref(x1, x2, d, 1e-8)
    np.testing.assert_allclose(out, _cos64(a, b, d), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(n1, np.linalg.norm(x1, axis=d), rtol=1e-14)
    g = rng.standard_normal(out.shape)
    ga, gb = K.cosine_similarity_backward_ref(g, x1, x2, d, 1e-8, out, n1, n2)
    want = _fd_grads(lambda u, v: _cos64(u, v, d), [x1.copy(), x2.copy()], g)
    np.testing.assert_allclose(ga, want[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gb, want[1], rtol=1e-6, atol=1e-7)
    assert K.cosine_similarity_backward_ref(g, x1, x2, d, 1e-8, out, n1, n2, (False, True))[0] is None


def test_cosine_similarity_clamp_passes_the_norms_gradient():
    # |x1| = 1e-9 < eps = 1e-8: the value uses eps, the gradient the norm's own derivative (PyTorch clamps a clone of
    # the norm under no_grad), so x1's gradient is x2 / (eps |x2|) + x1 * (-s / (eps |x1|)) per element.
    a, b = np.array([[1e-9, 0.0]]), np.array([[3.0, 4.0]])
    out, n1, n2 = K.cosine_similarity_ref(a, b, 1, 1e-8)
    np.testing.assert_allclose(out, [(1e-9 / 1e-8) * 0.6], rtol=1e-14)
    ga, gb = K.cosine_similarity_backward_ref(np.ones(1), a, b, 1, 1e-8, out, n1, n2)
    np.testing.assert_allclose(ga, [[0.6 / 1e-8 - 1e-9 * out[0] / (1e-8 * 1e-9), 0.8 / 1e-8]], rtol=1e-12)
    np.testing.assert_allclose(gb, [[1e-9 / 1e-8 / 5 - 3 * out[0] / 25, -4 * out[0] / 25]], rtol=1e-12)
    x = tt.tensor(a, requires_grad=True)
    F.cosine_similarity(x, tt.tensor(b)).backward()
    np.testing.assert_allclose(x.grad.numpy(), ga, rtol=1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_cosine_similarity_cpu_path_many_blocks(dt):
    # 300 x 257 elements: two row blocks of the reference; a broadcast x2 and a transposed (strided) x1.
    rng = np.random.default_rng(12)
    a, b = rng.standard_normal((257, 300)).astype(dt).T, rng.standard_normal((1, 257)).astype(dt)
    x, y = tt.tensor(a, requires_grad=True), tt.tensor(b, requires_grad=True)
    s = F.cosine_similarity(x, y)
    assert s.dtype == (tt.float32 if dt == np.float32 else tt.float64) and s.grad_fn.name() == "SumBackward0"
    tol = 2e-6 if dt == np.float32 else 1e-13
    np.testing.assert_allclose(s.detach().numpy(), _cos64(a, b, 1), rtol=tol, atol=tol)
    g = rng.standard_normal(300).astype(dt)
    s.backward(tt.tensor(g))
    assert x.grad.shape == (300, 257) and y.grad.shape == (1, 257)
    rows = [0, 1, 150, 299]  # (finite differences of every row would be slow: x1's rows are independent)
    want = _fd_grads(lambda u, v: _cos64(u, v, 1), [a[rows].astype(np.float64), b.astype(np.float64)],
                     g[rows].astype(np.float64))[0]
    np.testing.assert_allclose(x.grad.numpy()[rows], want, rtol=1e-4 if dt == np.float32 else 1e-6, atol=1e-6)
    want_y = _fd_grads(lambda v: _cos64(a.astype(np.float64), v, 1), [b.astype(np.float64)], g.astype(np.float64))[0]
    np.testing.assert_allclose(y.grad.numpy(), want_y, rtol=1e-4 if dt == np.float32 else 1e-6, atol=1e-5)


def test_cosine_similarity_cpu_path_autograd():
    rng = np.random.default_rng(13)
    x = tt.tensor(rng.standard_normal((3, 4, 5)), requires_grad=True)
    y = tt.tensor(rng.standard_normal((4, 1)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda u, v: F.cosine_similarity(u, v, dim=1), (x, y))
    assert tt.autograd.gradgradcheck(lambda u, v: F.cosine_similarity(u, v, dim=1), (x, y))
    s = F.cosine_similarity(x, y, dim=1)
    s.add_(1)  # the result changed in place: the backward does not read it
    s.sum().backward()
    want = _fd_grads(lambda u, v: _cos64(u, v, 1), [x.detach().numpy().copy(), np.broadcast_to(
        y.detach().numpy(), (3, 4, 5)).copy()], np.ones((3, 5)))
    np.testing.assert_allclose(x.grad.numpy(), want[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(y.grad.numpy(), want[1].sum((0, 2))[:, None], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dt", [tt.float32, tt.float64])
def test_cosine_similarity_cpu_matches_cuda(dt):
    rng = np.random.default_rng(14)
    a, b = rng.standard_normal((4, 9)), rng.standard_normal((4, 9))
    a[1] = 0
    results = []
    for device in ("cpu", "cuda"):
        x = tt.tensor(a, dtype=dt, device=device, requires_grad=True)
        y = tt.tensor(b, dtype=dt, device=device, requires_grad=True)
        s = F.cosine_similarity(x, y, dim=1)
        s.backward(tt.ones(4, dtype=dt, device=device))
        results.append([s.detach().cpu().numpy(), x.grad.cpu().numpy(), y.grad.cpu().numpy()])
    tol = 1e-5 if dt is tt.float32 else 1e-12
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cpu, cuda, rtol=tol, atol=tol)


def test_cosine_similarity_cpu_edges():
    for s1, s2 in (((0, 3), (0, 3)), ((2, 0), (2, 0))):
        x, y = tt.zeros(s1, requires_grad=True), tt.zeros(s2)
        s = F.cosine_similarity(x, y)
        assert s.shape == s1[:1] and np.all(s.detach().numpy() == 0)
        s.sum().backward()
        assert x.grad.shape == s1
    s = F.cosine_similarity(tt.tensor([[1.0, np.inf], [np.nan, 1.0], [1e30, 1e30]]), tt.tensor([[1.0, 1.0]] * 3))
    np.testing.assert_array_equal(np.isnan(s.numpy()), [True, True, False])
    assert s.numpy()[2] == 0.0  # |x1| overflows fp32 to inf: x1 / inf = 0, as PyTorch
    mixed = F.cosine_similarity(tt.tensor([[1, 2]]), tt.tensor([[2.0, 4.0]]))  # int x1: the composite path
    np.testing.assert_allclose(mixed.numpy(), [1.0], rtol=1e-6)


@pytest.mark.parametrize("shape,dim,eps", [((5, 7), 1, 1e-12), ((5, 7), 0, 1e-12), ((3, 4, 5), 1, 0.5),
                                           ((6,), 0, 1e-12), ((2, 3, 4), -1, 2.0)])
def test_normalize_references_vs_float64(shape, dim, eps):
    rng = np.random.default_rng(15)
    x = rng.standard_normal(shape)
    x.reshape(-1)[:3] = 0.0
    d = dim % x.ndim

    def f(a):
        return a / np.maximum(np.sqrt((a * a).sum(d, keepdims=True)), eps)

    y, n = K.normalize_ref(x, d, eps)
    np.testing.assert_allclose(y, f(x), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(n, np.linalg.norm(x, axis=d, keepdims=True), rtol=1e-14)
    g = rng.standard_normal(shape)
    want = _fd_grads(f, [x.copy()], g)[0]
    got = K.normalize_backward_ref(g, x, n, d, eps)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    got = K.normalize_backward_ref(np.broadcast_to(np.float64(1.0), shape), x, n, d, eps)  # a broadcast gradient
    np.testing.assert_allclose(got, _fd_grads(f, [x.copy()], np.ones(shape))[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dt", [tt.float32, tt.float64])
def test_normalize_cpu_path(dt):
    rng = np.random.default_rng(16)
    a = rng.standard_normal((300, 257))  # two row blocks
    a[7] = 0
    x = tt.tensor(a, dtype=dt, requires_grad=True)
    y = F.normalize(x, dim=1)
    assert y.grad_fn.name() == "DivBackward0" and y.dtype is dt
    tol = 1e-6 if dt is tt.float32 else 1e-14
    np.testing.assert_allclose(y.detach().numpy(), a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12),
                               rtol=tol, atol=tol)
    y.backward(tt.ones(300, 257, dtype=dt))
    n = np.linalg.norm(a, axis=1, keepdims=True)
    want = np.where(n == 0, 1 / 1e-12, 1 / np.where(n == 0, 1, n) - a * a.sum(1, keepdims=True) / np.where(
        n == 0, 1, n) ** 3)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-4 if dt is tt.float32 else 1e-10, atol=1e-5)
    xs = tt.tensor(rng.standard_normal((3, 4)) * 0.1, requires_grad=True)
    assert tt.autograd.gradcheck(lambda t: F.normalize(t, dim=0, eps=0.15), (xs,))
    assert tt.autograd.gradgradcheck(lambda t: F.normalize(t, dim=1), (xs,))
    out = tt.empty(300, 257, dtype=dt)
    assert F.normalize(x.detach(), dim=1, out=out) is out
    np.testing.assert_array_equal(out.numpy(), y.detach().numpy())


def test_normalize_cpu_matches_cuda():
    rng = np.random.default_rng(17)
    a = rng.standard_normal((3, 5))
    a[0] = 0
    results = []
    for device in ("cpu", "cuda"):
        x = tt.tensor(a, dtype=tt.float32, device=device, requires_grad=True)
        y = F.normalize(x, dim=0, eps=0.3)
        y.backward(tt.tensor(a[::-1].copy(), dtype=tt.float32, device=device))
        results.append([y.detach().cpu().numpy(), x.grad.cpu().numpy()])
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cpu, cuda, rtol=1e-5, atol=1e-6)
