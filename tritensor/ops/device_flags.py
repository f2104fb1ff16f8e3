"""Tensor properties PyTorch scripts test for devices and layouts tritensor does not have: `is_xpu`, `is_mps`,
`is_meta`, `is_quantized`, `is_nested` (always False; dcgan's `input.is_cuda or input.is_xpu`, for one)."""

from __future__ import annotations

__all__: list[str] = []


def _false_property(what: str) -> property:
    def get(self) -> bool:
        return False

    get.__doc__ = f"False: tritensor has no {what}."
    return property(get)


METHODS: dict = {"is_xpu": _false_property("XPU device"), "is_mps": _false_property("MPS device"),
                 "is_meta": _false_property("meta device"), "is_quantized": _false_property("quantized tensors"),
                 "is_nested": _false_property("nested tensors")}
