"""What the map-kernel families share (kernels/map_ops.py): Python scalars as kernel parameters, and the
comparison families' op tables."""

import numpy as np
import pytest
from tritensor.kernels import clamp, comparison, logical, nonfinite, where
from tritensor.kernels import map_ops as M

from tritensor import dtypes


def test_encode_scalar():
    assert M.encode_scalar(0.1, dtypes.float64) == int(np.float64(0.1).view(np.int64))
    assert M.encode_scalar(0.1, dtypes.float16) == float(np.float16(0.1))
    assert M.encode_scalar(0.1, dtypes.float16, opmath=True) == float(np.float32(0.1))
    assert M.encode_scalar(3.0, dtypes.int32) == 3 and M.encode_scalar(True, dtypes.bool) == 1
    with pytest.raises(ValueError):
        M.encode_scalar(0.5, dtypes.int64)


# The comparison families' registries together: which of their ops are differentiable.
CMP_OPS = {**comparison.OPS, **logical.OPS, **where.OPS, **clamp.OPS, **nonfinite.OPS}


def test_ops_table():
    for name, entry in CMP_OPS.items():
        assert callable(entry.forward) and callable(entry.forward_ref), name
        assert (entry.backward is None) == (entry.backward_ref is None), name
    assert {name for name, e in CMP_OPS.items() if e.backward} == {"where", "clamp", "clip", "nan_to_num"}
