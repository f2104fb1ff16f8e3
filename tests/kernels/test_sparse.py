"""kernels/sparse.py: the CSR SpMM in Triton's interpreter against its SciPy reference and a dense product."""

import numpy as np
import pytest
import scipy.sparse as sp
from tritensor.kernels import sparse as K
from tritensor.kernels.device_array import host_array

from tests.conftest import as_device


def _csr(rng, m, k, density, dtype):
    a = sp.random(m, k, density=density, format="csr", random_state=rng, dtype=np.float64)
    a.sort_indices()
    return (a.indptr.astype(np.int64), a.indices.astype(np.int64), a.data.astype(dtype), a.toarray())


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("m,k,n,density", [(7, 5, 3, 0.4), (33, 20, 70, 0.1), (4, 6, 1, 0.0), (20, 9, 17, 0.6)])
def test_spmm_matches_reference_and_dense(rng, dtype, m, k, n, density):
    crow, col, val, dense_a = _csr(rng, m, k, density, dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)  # every element written, empty rows included
    K.csr_spmm(as_device(out), as_device(crow), as_device(col), as_device(val), as_device(b))
    ref = K.spmm_ref(crow, col, val, b, k)
    exact = dense_a.astype(dtype).astype(np.float64) @ b.astype(np.float64)
    tol = dict(rtol=1e-2, atol=1e-2) if dtype is np.float16 else dict(rtol=1e-5 if dtype is np.float32 else 1e-12,
                                                                      atol=1e-6 if dtype is np.float32 else 1e-12)
    np.testing.assert_allclose(ref.astype(np.float64), exact, **tol)
    np.testing.assert_allclose(out.astype(np.float64), exact, **tol)
    assert ref.dtype == dtype


def test_spmm_row_stride_and_bf16(rng):
    from tritensor import dtypes

    crow, col, val, dense_a = _csr(rng, 9, 12, 0.3, np.float32)
    full = rng.standard_normal((12, 40)).astype(np.float32)
    view = as_device(full).view_as((12, 21), (40, 1))  # a column slice: row stride 40
    out = np.zeros((9, 21), np.float32)
    K.csr_spmm(as_device(out), as_device(crow), as_device(col), as_device(val), view)
    np.testing.assert_allclose(out, dense_a @ full[:, :21].astype(np.float64), rtol=1e-5, atol=1e-6)
    # bf16 operands, fp32 accumulation: exact products of bf16-representable values, one rounding at the end
    def bits(a):
        return ((a.astype(np.float32).view(np.uint32) + 0x8000) >> 16).astype(np.uint16)

    def value(b):
        return (b.astype(np.uint32) << 16).view(np.float32)

    vb, bb = bits(val), bits(full[:, :8])
    ob = np.zeros((9, 8), np.uint16)
    K.csr_spmm(host_array(ob, dtypes.bfloat16), as_device(crow), as_device(col), host_array(vb, dtypes.bfloat16),
               host_array(np.ascontiguousarray(bb), dtypes.bfloat16))
    exact = K.spmm_ref(crow, col, value(vb).astype(np.float64), value(bb).astype(np.float64), 12)
    np.testing.assert_allclose(value(ob), exact, rtol=8e-3, atol=1e-3)


def test_spmm_rejects_a_strided_dense_operand():
    out = np.zeros((2, 2), np.float32)
    b = np.zeros((2, 4), np.float32)
    crow, col, val = np.array([0, 0, 0], np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    with pytest.raises(ValueError, match="csr_spmm needs a 2-d b with unit column stride"):
        strided = as_device(b).view_as((2, 2), (4, 2))
        K.csr_spmm(as_device(out), as_device(crow), as_device(col), as_device(val), strided)
