"""tt.backends' submodules import as PyTorch's do, and their switches are the ones the ops read."""

from __future__ import annotations

import numpy as np

import tritensor as tt


def test_backend_submodules_import_like_pytorchs():
    import tritensor.backends.cudnn as cudnn
    import tritensor.backends.mps as mps

    assert tt.backends.cudnn is cudnn and tt.backends.mps is mps
    assert mps.is_available() is False and mps.is_built() is False
    assert cudnn.is_available() is False and cudnn.version() is None
    old = cudnn.benchmark
    try:
        cudnn.benchmark = True  # dcgan/imagenet set it; accepted, no effect
        assert tt.backends.cudnn.benchmark is True
    finally:
        cudnn.benchmark = old


def test_conv_reads_the_cudnn_tf32_switch(monkeypatch):
    from tritensor.ops.conv_autograd import _allow_tf32 as allow_tf32

    monkeypatch.setattr(tt.backends.cudnn, "allow_tf32", False)
    assert allow_tf32() is False
    monkeypatch.setattr(tt.backends.cudnn, "allow_tf32", True)
    assert allow_tf32() is True
    x = tt.ones(1, 1, 3, 3)
    np.testing.assert_array_equal(tt.nn.functional.conv2d(x, tt.ones(1, 1, 2, 2)).numpy(), np.full((1, 1, 2, 2), 4.0))
