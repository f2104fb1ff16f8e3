"""Exponential and logarithm kernels (exp, exp2, expm1, log, log2, log10, log1p) in Triton's interpreter
against their NumPy references (forward and backward), and the backward references against central finite
differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import exponential as E

from tests.kernels.unary_helpers import FLOATS, check_backward_ref, check_forward_backward

# Lanes past the end of a block load 0 in the interpreter, so log(0), 1/0 ... raise NumPy warnings
# for elements that are never stored.


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(E.OPS))
def test_forward_backward_vs_ref(rng, name, dt):
    check_forward_backward(E.OPS[name], rng, name, dt)


@pytest.mark.parametrize("name", list(E.OPS))
def test_backward_ref_vs_finite_differences(rng, name):
    check_backward_ref(E.OPS[name], rng, name)
