"""Trigonometric and hyperbolic kernels (sin, cos, tan, asin, acos, atan, sinh, cosh, tanh) in Triton's
interpreter against their NumPy references (forward and backward), and the backward references against
central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import trigonometric as TR

from tests.kernels.unary_helpers import FLOATS, check_backward_ref, check_forward_backward

# Lanes past the end of a block load 0 in the interpreter, so log(0), 1/0 ... raise NumPy warnings
# for elements that are never stored.


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(TR.OPS))
def test_forward_backward_vs_ref(rng, name, dt):
    check_forward_backward(TR.OPS[name], rng, name, dt)


@pytest.mark.parametrize("name", list(TR.OPS))
def test_backward_ref_vs_finite_differences(rng, name):
    check_backward_ref(TR.OPS[name], rng, name)
