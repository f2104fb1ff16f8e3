"""P(a, x) (torch.special.gammainc) on 1 << 16 float32 elements: tritensor's cpu path (SciPy's gammainc in
float64 behind PyTorch's edge values, rounded to float32) against SciPy's own float32 call (the floor on a host:
the same series and continued fraction, no edge pass, no Tensor), and on cuda the Triton kernel
(kernels/special_igamma.py, one program per 128 elements, loops until every lane converges). Compare the means
within a group. The cuda case needs a GPU (a real one: the interpreter's timing means nothing).

Measured on the loaded 2-core host, one thread (min of ~56 rounds): SciPy 10.4 ms, tritensor cpu 16.5 ms (1.59x:
the float64 casts each way and the edge-value masks).

Run: OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_special_igamma_bench.py --benchmark-only
"""

import numpy as np
import pytest
from scipy import special as scipy_special

import tritensor as tt
from tritensor.device import interpreting

N = 1 << 16


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, 2.0, N).astype(np.float32)  # shapes and points around a: both branches of the split
    x = rng.gamma(2.0, 2.0, N).astype(np.float32)
    return a, x


@pytest.mark.benchmark(group="igamma-cpu")
def test_scipy_gammainc(benchmark, operands):
    a, x = operands
    out = benchmark(scipy_special.gammainc, a, x)
    assert out.dtype == np.float32 and np.all((out >= 0) & (out <= 1))


@pytest.mark.benchmark(group="igamma-cpu")
def test_tritensor_gammainc_cpu(benchmark, operands):
    a, x = operands
    out = benchmark(tt.special.gammainc, tt.from_numpy(a), tt.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), scipy_special.gammainc(a.astype(np.float64), x.astype(np.float64)),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.benchmark(group="igamma-cuda")
@pytest.mark.skipif(not tt.cuda.is_available() or interpreting(), reason="needs a GPU")
def test_tritensor_gammainc_cuda(benchmark, operands):
    a, x = (tt.from_numpy(v).cuda() for v in operands)

    def run():
        out = tt.special.gammainc(a, x)
        tt.cuda.synchronize()
        return out

    out = benchmark(run)
    expected = scipy_special.gammainc(operands[0].astype(np.float64), operands[1].astype(np.float64))
    np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=4e-6, atol=1e-7)
