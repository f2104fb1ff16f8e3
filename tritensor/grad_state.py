"""The switches autograd reads on every op: grad mode, inference mode, anomaly detection.

They live below the Tensor because the Tensor reads them too (inference tensors); `tt.autograd.grad_mode`
holds the context managers and decorators that set them.
"""

from __future__ import annotations


class _State:
    __slots__ = ("enabled", "inference", "anomaly", "check_nan")

    def __init__(self):
        self.enabled = True
        self.inference = False
        self.anomaly = False
        self.check_nan = True


state = _State()
