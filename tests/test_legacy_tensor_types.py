"""The legacy tensor types old PyTorch scripts call: tt.LongTensor(n), tt.FloatTensor(data), isinstance checks."""

from __future__ import annotations

import numpy as np
import pytest

import tritensor as tt


def test_calls_make_tensors_of_their_dtype():
    x = tt.LongTensor(3).zero_()  # word_language_model's --onnx-export dummy input
    assert x.dtype is tt.int64 and x.shape == (3,) and x.tolist() == [0, 0, 0]
    y = tt.FloatTensor(np.array([[1, 2], [3, 4]]))  # gcn/gat
    assert y.dtype is tt.float32 and y.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert tt.DoubleTensor([1, 2]).dtype is tt.float64 and tt.BoolTensor([1, 0]).tolist() == [True, False]
    assert tt.IntTensor(2, 3).shape == (2, 3) and tt.ByteTensor().shape == (0,)
    z = tt.cuda.FloatTensor([1.5])
    assert z.device.type == "cuda" and z.dtype is tt.float32 and z.cpu().tolist() == [1.5]


def test_isinstance_reads_dtype_and_device():
    x = tt.zeros(2)
    assert isinstance(x, tt.FloatTensor) and not isinstance(x, tt.DoubleTensor)
    assert not isinstance(x, tt.cuda.FloatTensor) and isinstance(x.cuda(), tt.cuda.FloatTensor)
    assert not isinstance(np.zeros(2), tt.FloatTensor)
    assert repr(tt.LongTensor) == "<class 'torch.LongTensor'>"


def test_errors():
    with pytest.raises(TypeError, match="expected float32 \\(got int64\\)"):
        tt.FloatTensor(tt.arange(3))
    with pytest.raises(TypeError, match="must be tuple of ints, but found element of type float"):
        tt.FloatTensor(2, 1.5)


def test_device_flags_and_size_keyword():
    x = tt.zeros(size=(2, 3))
    assert x.shape == (2, 3) and not (x.is_xpu or x.is_mps or x.is_meta or x.is_quantized or x.is_nested)
    assert tt.ones(size=[4]).tolist() == [1.0] * 4 and tt.empty(size=(1, 2)).shape == (1, 2)
    tt.manual_seed(0)
    a = tt.rand(size=(2,))
    tt.manual_seed(0)
    assert tt.rand(2).tolist() == a.tolist() and tt.randn(size=(3, 1)).shape == (3, 1)
    with pytest.raises(TypeError, match="multiple values for argument 'size'"):
        tt.zeros(2, size=(2,))
