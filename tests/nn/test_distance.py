"""nn.CosineSimilarity, nn.PairwiseDistance, nn.Bilinear and F.bilinear: PyTorch's arguments, init, state_dict,
repr, values and errors."""

import math

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn
import tritensor.nn.functional as F


def test_cosine_similarity_and_pairwise_distance_modules():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    m = nn.CosineSimilarity(dim=1, eps=1e-8)
    assert repr(m) == "CosineSimilarity()" and m.dim == 1 and m.eps == 1e-8
    ref = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(m(tt.tensor(a), tt.tensor(b)).numpy(), ref, rtol=1e-12)
    d = nn.PairwiseDistance(p=1.0, keepdim=True)
    assert d.norm == 1.0 and d.eps == 1e-6 and d.keepdim and repr(d) == "PairwiseDistance()"
    np.testing.assert_allclose(d(tt.tensor(a), tt.tensor(b)).numpy(), np.abs(a - b + 1e-6).sum(1, keepdims=True),
                               rtol=1e-12)


def test_bilinear_module():
    m = nn.Bilinear(3, 4, 2)
    assert repr(m) == "Bilinear(in1_features=3, in2_features=4, out_features=2, bias=True)"
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == (2, 3, 4) and m.bias.shape == (2,)
    big = nn.Bilinear(16, 5, 64)
    bound = 1 / math.sqrt(16)
    w = big.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(big.bias.detach().numpy()).max() <= bound
    assert "bias" not in nn.Bilinear(3, 4, 2, bias=False).state_dict()
    assert repr(nn.Bilinear(3, 4, 2, bias=False)).endswith("bias=False)")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_bilinear_values_and_gradcheck(device):
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 2))
    w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal(4)
    dtype, tol = (tt.float64, 1e-12) if device == "cpu" else (tt.float32, 1e-5)  # cuda matmul: no fp64
    args = [tt.tensor(v, dtype=dtype, device=device, requires_grad=True) for v in (x1, x2, w, b)]
    y = F.bilinear(*args)
    np.testing.assert_allclose(y.detach().cpu().numpy(), np.einsum("bni,oij,bnj->bno", x1, w, x2) + b, rtol=tol,
                               atol=tol)
    if device == "cpu":  # the same composition of ops on both devices; the interpreter is slow
        assert tt.autograd.gradcheck(F.bilinear, tuple(args))
    assert F.bilinear(*args[:3]).shape == (2, 3, 4)


def test_bilinear_errors():
    w = tt.ones(4, 3, 2)
    with pytest.raises(RuntimeError, match="bilinear\\(\\): input dimensions do not match: got 2 and 3"):
        F.bilinear(tt.ones(5, 3), tt.ones(1, 5, 2), w)
    with pytest.raises(RuntimeError, match="input batch dimensions do not match at dim 0: got 5 and 6"):
        F.bilinear(tt.ones(5, 3), tt.ones(6, 2), w)
    with pytest.raises(RuntimeError, match="input1 size does not match weight size: got 4 but expected 3"):
        F.bilinear(tt.ones(5, 4), tt.ones(5, 2), w)
    with pytest.raises(RuntimeError, match="input2 size does not match weight size: got 3 but expected 2"):
        F.bilinear(tt.ones(5, 3), tt.ones(5, 3), w)
    with pytest.raises(RuntimeError, match="bias size does not match weight size: got 3 but expected 4"):
        F.bilinear(tt.ones(5, 3), tt.ones(5, 2), w, tt.ones(3))
