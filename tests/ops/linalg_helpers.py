"""What the tt.linalg test modules share: the devices and the NumPy <-> tensor conversions."""

from __future__ import annotations

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _t(a, device="cpu", **kw):
    return tt.tensor(a, device=device, **kw)


def _np(t):
    return t.cpu().numpy()
