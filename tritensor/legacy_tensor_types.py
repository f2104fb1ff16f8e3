"""PyTorch's legacy tensor types: `tt.FloatTensor`, `tt.LongTensor`, ... and `tt.cuda.FloatTensor`, ...

Old scripts still call them: `torch.LongTensor(n)` (an uninitialised tensor of n elements), `torch.FloatTensor(
array_or_list)` (a copy as that dtype), and `isinstance(x, torch.cuda.FloatTensor)` (the dtype and device test).
Each is a class whose call makes a plain Tensor and whose instance check reads dtype and device, as in PyTorch.
"""

from __future__ import annotations

from . import cuda
from . import dtypes as D
from .creation import empty, tensor
from .tensor import Tensor

# PyTorch's type name -> dtype
_TYPES = {"Float": D.float32, "Double": D.float64, "Half": D.float16, "BFloat16": D.bfloat16, "Byte": D.uint8,
          "Char": D.int8, "Short": D.int16, "Int": D.int32, "Long": D.int64, "Bool": D.bool}


class _LegacyTensorType(type):
    """The metaclass: calling the class builds a tensor; isinstance checks dtype and device type."""

    _dtype: D.dtype
    _device: str

    def __call__(cls, *args, device=None) -> Tensor:
        where = cls._device if device is None else device
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, Tensor):
                if data.dtype is not cls._dtype:
                    raise TypeError(f"expected {cls._dtype.name} (got {data.dtype.name})")
                return data
            return tensor(data, dtype=cls._dtype, device=where)
        if not all(isinstance(n, int) for n in args):
            raise TypeError(f"new(): argument 'size' must be tuple of ints, but found element of type "
                            f"{next(type(n).__name__ for n in args if not isinstance(n, int))}")
        return empty(*args, dtype=cls._dtype, device=where) if args else empty(0, dtype=cls._dtype, device=where)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls._dtype and obj.device.type == cls._device

    def __repr__(cls) -> str:
        prefix = "torch.cuda." if cls._device == "cuda" else "torch."
        return f"<class '{prefix}{cls.__name__}'>"


def _make(name: str, dtype: D.dtype, device: str) -> type:
    doc = (f"The legacy type of {device} {dtype.name} tensors: `{name}(*sizes)` is an uninitialised tensor, "
           f"`{name}(data)` a {dtype.name} copy of a list or array; isinstance(x, {name}) tests dtype and device.")
    return _LegacyTensorType(name, (), {"_dtype": dtype, "_device": device, "__doc__": doc, "__module__": __name__})


CPU_TYPES = {f"{kind}Tensor": _make(f"{kind}Tensor", dtype, "cpu") for kind, dtype in _TYPES.items()}
CUDA_TYPES = {f"{kind}Tensor": _make(f"{kind}Tensor", dtype, "cuda") for kind, dtype in _TYPES.items()}
globals().update(CPU_TYPES)
for _name, _cls in CUDA_TYPES.items():  # tt.cuda.FloatTensor & co., bound here so tt.cuda stays below creation
    setattr(cuda, _name, _cls)

__all__ = sorted(CPU_TYPES)
