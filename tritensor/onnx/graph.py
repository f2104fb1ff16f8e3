"""The graph a lowering writes into: ONNX names for traced tensors and constants, nodes, initializers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .. import dtypes as D
from ..tensor import Tensor

__all__ = ["GraphContext", "UnsupportedOperatorError", "onnx_type"]


class UnsupportedOperatorError(RuntimeError):
    """An op of the traced run has no ONNX lowering, or is called in a form its lowering cannot express
    (PyTorch's torch.onnx.errors.UnsupportedOperatorError)."""


def onnx_type(dtype: D.dtype) -> int:
    """The TensorProto element type of a tritensor dtype."""
    if dtype is D.bfloat16:
        return TensorProto.BFLOAT16
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype.np))


class GraphContext:
    """What a lowering sees: `tensor(t)` is the ONNX name of a tensor (a traced value, or an initializer for a
    parameter, buffer or constant), `const`/`ints` add constants, `op` adds a node and returns its output
    names. `params` maps id(tensor) -> state_dict name (PyTorch names its initializers so). `leading` maps the
    name of a 2-D value of time-major rows (T*B, F) to its static T (the recurrent layers' output), so that
    reshaping it back to (T, B, F) keeps the batch dim dynamic. `probe` maps id(tensor) -> (its traced shape, its
    shape in a second run with every dynamic input axis one longer): a size that differs follows the dynamic axes,
    so a reshape writes it as a size read from its input or a graph input (`probed_inputs`: name and both
    shapes), or -1, never as the traced constant."""

    def __init__(self, opset: int, params: dict[int, str]) -> None:
        self.opset = opset
        self.params = params
        self.nodes: list = []
        self.initializers: list = []
        self.values: dict[int, str] = {}
        self.leading: dict[str, int] = {}
        self.probe: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.probed_inputs: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []  # (graph input, shapes)
        self._keep: list[Any] = []  # tensors named here stay alive, so their ids stay theirs
        self._count = 0

    def fresh(self, hint: str) -> str:
        """A new unique value name."""
        self._count += 1
        return f"/{hint}_output_{self._count}"

    def bind(self, t: Tensor, name: str) -> None:
        """Name a traced tensor (a graph input, or an output a lowering produced)."""
        self.values[id(t)] = name
        self._keep.append(t)

    def tensor(self, t: Tensor, dtype: D.dtype | None = None) -> str:
        """The ONNX name of `t`, cast to `dtype` when given and different."""
        name = self.values.get(id(t))
        if name is None:
            shapes = self.probe.get(id(t))
            if shapes is not None and shapes[0] != shapes[1]:
                raise UnsupportedOperatorError(
                    f"tt.onnx.export: a constant of shape {shapes[0]} takes shape {shapes[1]} when a dynamic axis "
                    "grows: it was built from a size read in Python, and the graph would hold it at the traced size "
                    "(build it from a traced tensor: zeros_like(x), x.new_zeros(...) of x's sizes, or drop the "
                    "dynamic axis)")
            name = self.params.get(id(t)) or f"onnx::Const_{len(self.initializers)}"
            array = np.ascontiguousarray(t.detach().cpu().numpy())
            self.initializers.append(numpy_helper.from_array(array, name))
            self.bind(t, name)
        if dtype is not None and dtype is not t.dtype:
            return self.op("Cast", [name], to=onnx_type(dtype))
        return name

    def value(self, v: Any, dtype: D.dtype) -> str:
        """A tensor operand or a Python number, as `dtype`."""
        if isinstance(v, Tensor):
            return self.tensor(v, dtype)
        return self.const(np.asarray(v, dtype=dtype.np))

    def const(self, array: np.ndarray) -> str:
        """A constant initializer holding `array`."""
        name = f"onnx::Const_{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 constant (shapes, axes, split sizes)."""
        return self.const(np.asarray(list(values), dtype=np.int64))

    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, **attrs: Any) -> Any:
        """Append a node; return its output name (n_out == 1) or the list of them."""
        outputs = [self.fresh(op_type) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=f"/{op_type}_{self._count}",
                                           **{k: v for k, v in attrs.items() if v is not None}))
        return outputs[0] if n_out == 1 else outputs
