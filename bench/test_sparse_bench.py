"""CSR SpMM on the cpu path against SciPy in the same run: a 4096 x 4096 CSR matrix of density 1% (about 168k
stored values) times a dense 4096 x 64 float32 matrix, through tt.sparse.mm (whose cpu path is SciPy's product,
plus the operands' conversion and float64 accumulation) and through scipy.sparse directly. Also the COO path
(coalesce + CSR pattern each call). Compare means within one group of one run: the machine is shared."""

import numpy as np
import pytest
import scipy.sparse as sp

import tritensor as tt

M = K = 4096
N = 64


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    a = sp.random(M, K, density=0.01, format="csr", random_state=rng, dtype=np.float32)
    a.sort_indices()
    b = rng.standard_normal((K, N), dtype=np.float32)
    return a, b


@pytest.mark.benchmark(group="spmm-csr-4096x4096-1%-x64-fp32")
def test_scipy_csr_matmul(benchmark, operands):
    a, b = operands
    benchmark(lambda: a @ b)


@pytest.mark.benchmark(group="spmm-csr-4096x4096-1%-x64-fp32")
def test_tritensor_csr_mm(benchmark, operands):
    a, b = operands
    s = tt.sparse_csr_tensor(a.indptr.astype(np.int64), a.indices.astype(np.int64), a.data, (M, K))
    d = tt.from_numpy(b)
    result = benchmark(tt.sparse.mm, s, d)
    np.testing.assert_allclose(result.numpy()[:8], (a @ b)[:8], rtol=1e-4, atol=1e-4)


@pytest.mark.benchmark(group="spmm-csr-4096x4096-1%-x64-fp32")
def test_tritensor_coo_mm(benchmark, operands):
    a, b = operands
    coo = a.tocoo()
    s = tt.sparse_coo_tensor(np.stack([coo.row, coo.col]).astype(np.int64), coo.data, (M, K))
    d = tt.from_numpy(b)
    result = benchmark(tt.sparse.mm, s, d)
    np.testing.assert_allclose(result.numpy()[:8], (a @ b)[:8], rtol=1e-4, atol=1e-4)
