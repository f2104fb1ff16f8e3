"""kernels/quiet_numpy.py: the cpu ops' ufunc calls give IEEE results silently (as PyTorch does), leave the
caller's NumPy error state alone, and fall back to errstate when the shared context is in use."""

import threading
import warnings

import numpy as np
import pytest
from tritensor.kernels import quiet_numpy as Q

BIG = np.array([3e38, 1.0], np.float32)


def test_overflow_and_invalid_are_silent_ieee_results():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(Q.quiet(np.add, BIG, BIG), [np.inf, 2.0])
        out = Q.quiet(np.multiply, np.array([0.0, 2.0]), np.array([np.inf, 3.0]))
        assert np.isnan(out[0]) and out[1] == 6.0
        with np.errstate(all="raise"):  # the caller's own setting does not reach the op
            np.testing.assert_array_equal(Q.quiet(np.subtract, -BIG, BIG), [-np.inf, -2.0])


def test_the_callers_error_state_is_untouched():
    Q.quiet(np.add, BIG, BIG)
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.add(BIG, BIG)


def test_a_nested_call_falls_back_to_errstate():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nested = Q._run(lambda: Q.quiet(np.add, BIG, BIG))  # the context is entered already
    np.testing.assert_array_equal(nested, [np.inf, 2.0])


def test_other_errors_propagate():
    with pytest.raises(ValueError, match="broadcast"):
        Q.quiet(np.add, np.ones(2), np.ones(3))


def test_threads_share_the_context_safely():
    big = np.full(1 << 20, 3e38, np.float32)  # long enough for NumPy to release the GIL mid-ufunc
    results = []

    def work():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results.append(bool(np.isinf(Q.quiet(np.add, big, big)).all()))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


def test_quiet_call_runs_a_reference_once_silently_even_nested():
    calls = []

    def reference(x, y):
        calls.append(1)
        inner = Q.quiet(np.multiply, x, y)  # a quiet call inside: the shared context is held by the outer one
        return np.exp(inner)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Q.quiet_call(reference, BIG, BIG)
        nested = Q._run(lambda: Q.quiet_call(reference, BIG, BIG))  # the outer entry itself falls back
    np.testing.assert_array_equal(out, np.exp(np.array([np.inf, 1.0], np.float32)))
    np.testing.assert_array_equal(nested, out)
    assert len(calls) == 2  # once per quiet_call: a fallback never reruns the reference
