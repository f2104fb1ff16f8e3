"""sum's and mean's cpu hot path (a float32/float64 tensor, no graph) gives exactly what the recording path gives:
the same bits, shapes and dtypes, and a result that owns its memory."""

import numpy as np
import pytest

import tritensor as tt

SHAPES_AND_DIMS = [((10007,), None), ((3, 1000), 1), ((1000, 3), 0), ((4, 5, 6), (0, 2)), ((4, 5, 6), -1),
                   ((2, 3), ()), ((), None), ((0, 3), 0)]


def _bits(t: tt.Tensor) -> np.ndarray:
    return t.numpy().reshape(-1).view(np.uint8)  # NaN == NaN and -0.0 != 0.0


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_no_graph_reductions_equal_the_recording_path(op, dtype, keepdim):
    rng = np.random.default_rng(0)
    for shape, dim in SHAPES_AND_DIMS:
        data = rng.standard_normal(shape).astype(dtype.np) * 1e3
        fast = getattr(tt.tensor(data), op)(dim, keepdim)
        recorded = getattr(tt.tensor(data, requires_grad=True), op)(dim, keepdim)
        assert recorded.grad_fn is not None and fast.grad_fn is None
        assert fast.shape == recorded.shape and fast.dtype is recorded.dtype is dtype
        np.testing.assert_array_equal(_bits(fast), _bits(recorded.detach()))
        # strided input (a transposed view) goes the same way as its recording twin
        if len(shape) == 2:
            np.testing.assert_array_equal(getattr(tt.tensor(data).t(), op)(dim, keepdim).numpy(),
                                          getattr(tt.tensor(data, requires_grad=True).t(), op)(dim, keepdim)
                                          .detach().numpy())


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_a_reduction_of_a_zero_dim_tensor_owns_its_memory(op):
    x = tt.tensor(2.0)
    out = getattr(x, op)()
    out.add_(1)
    assert x.item() == 2.0 and out.item() == 3.0


def test_reductions_keep_their_errors_and_dtype_rules():
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.ones(2).sum(3)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        tt.ones(2, 2).mean((0, 0))
    assert tt.ones(3, dtype=tt.float16).sum().dtype is tt.float16
    assert tt.ones(3).sum(dtype=tt.float64).dtype is tt.float64
    assert tt.ones(3, dtype=tt.int32).sum().dtype is tt.int64
    assert np.isnan(tt.zeros(0).mean().item())
