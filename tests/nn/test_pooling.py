"""Pooling modules (nn/modules/pooling.py): PyTorch's stored attributes and reprs, no parameters or buffers,
forward through nn.functional (values and return_indices), and MaxUnpool's output_size."""

import numpy as np

import tritensor as tt
import tritensor.nn.functional as F
from tritensor import nn


def test_reprs_match_pytorch():
    assert repr(nn.MaxPool2d(3, 2)) == "MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.MaxPool1d(2)) == "MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.MaxPool3d((1, 2, 2), padding=1, dilation=2, ceil_mode=True)) == (
        "MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2), padding=1, dilation=2, ceil_mode=True)")
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.AvgPool3d(2)) == "AvgPool3d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((None, 7))) == "AdaptiveAvgPool2d(output_size=(None, 7))"
    assert repr(nn.AdaptiveAvgPool1d(5)) == "AdaptiveAvgPool1d(output_size=5)"
    assert repr(nn.AdaptiveMaxPool3d(1)) == "AdaptiveMaxPool3d(output_size=1)"
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.MaxUnpool1d(2, 1)) == "MaxUnpool1d(kernel_size=(2,), stride=(1,), padding=(0,))"
    assert repr(nn.LPPool2d(2, 3)) == "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    assert repr(nn.LPPool1d(1.5, 2, 1)) == "LPPool1d(norm_type=1.5, kernel_size=2, stride=1, ceil_mode=False)"


def test_no_state_and_train_eval_alike(rng):
    x = tt.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    for m in (nn.MaxPool2d(2), nn.AvgPool2d(3, 1, 1, count_include_pad=False, divisor_override=2),
              nn.AdaptiveAvgPool2d(2), nn.AdaptiveMaxPool2d((3, None)), nn.LPPool2d(2, 2)):
        assert list(m.state_dict().keys()) == [] and list(m.parameters()) == []
        y = m(x)
        m.eval()
        np.testing.assert_array_equal(m(x).numpy(), y.numpy())


def test_forward_matches_functional(rng):
    x = tt.tensor(np.abs(rng.standard_normal((2, 3, 7, 6))).astype(np.float32))  # positive: the round trip holds
    y, i = nn.MaxPool2d(3, 2, 1, return_indices=True, ceil_mode=True)(x)
    y2, i2 = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    np.testing.assert_array_equal(i.numpy(), i2.numpy())
    u = nn.MaxUnpool2d(3, 2, 1)(y, i, output_size=x.shape)
    assert u.shape == x.shape
    np.testing.assert_array_equal(F.max_pool2d(u, 3, 2, 1, ceil_mode=True).numpy(), y.numpy())
    np.testing.assert_allclose(nn.AvgPool1d(2)(x[0]).numpy(), F.avg_pool1d(x[0], 2).numpy())
    np.testing.assert_allclose(nn.AdaptiveAvgPool3d((1, 2, None))(x).numpy(),
                               F.adaptive_avg_pool3d(x, (1, 2, 6)).numpy())
    m, j = nn.AdaptiveMaxPool1d(4, return_indices=True)(x[0, 0])
    assert m.shape == (7, 4) and j.dtype == tt.int64
    np.testing.assert_allclose(nn.LPPool1d(2, 3)(x[0]).numpy(), F.lp_pool1d(x[0], 2.0, 3).numpy())
