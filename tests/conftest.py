"""Test-wide setup: Triton kernels run in Triton's interpreter in this same pytest run.

TRITON_INTERPRET must be set before triton is imported (`triton.jit` reads it when a kernel is
defined), so it is set here, before anything imports tritensor. With no GPU present, device
"cuda" then means host memory driven by the interpreted kernels.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from tritensor.kernels.device_array import host_array  # noqa: E402

INTERPRETED = os.environ["TRITON_INTERPRET"] == "1"


def _record_triton_language():
    """Every attribute Triton's interpreter patches in triton.language, with its value before the first patch.

    The interpreter patches the language while it runs a kernel and restores it afterwards, but a jit function
    called as a plain function (InterpretedFunction.__call__) patches it and never restores it. Tests that compile
    for a real target in this interpreting process (the stub driver's sm_90) then build IR through the patched
    language and fail, depending on which tests ran before them on the same worker. This records what to put back
    (`_unpatched_triton_language`); the hook is installed before any kernel runs, so each first value is the
    original."""
    from triton.runtime import interpreter

    originals: dict = {}
    set_attr = interpreter._LangPatchScope.set_attr

    def recording_set_attr(scope, obj, name, value):
        originals.setdefault((id(obj), name), (obj, name, getattr(obj, name, interpreter._MISSING)))
        set_attr(scope, obj, name, value)

    interpreter._LangPatchScope.set_attr = recording_set_attr
    return originals, interpreter._MISSING


_LANGUAGE_ORIGINALS, _MISSING = _record_triton_language() if INTERPRETED else ({}, None)


@pytest.fixture(autouse=True)
def _unpatched_triton_language():
    """Each test starts with triton.language as Triton defines it: whatever interpreter patches an earlier test
    left in place (see _record_triton_language) are undone (a few hundred attribute reads per test)."""
    for obj, name, original in _LANGUAGE_ORIGINALS.values():
        if original is _MISSING:
            if name in vars(obj):
                delattr(obj, name)
        elif getattr(obj, name, _MISSING) is not original:
            setattr(obj, name, original)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def as_device(a: np.ndarray):
    """A host NumPy array as the DeviceArray a launch wrapper takes (interpreter memory)."""
    from tritensor import dtypes

    return host_array(a, dtypes.from_numpy_dtype(a.dtype))
