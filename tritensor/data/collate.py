"""default_collate (samples -> a batch) and default_convert (NumPy -> tensors), as PyTorch's."""

from __future__ import annotations

import collections.abc
import copy
import re
from typing import Any

import numpy as np

from ..creation import as_tensor, from_numpy, tensor
from ..dtypes import float64
from ..ops.shape import stack
from ..tensor import Tensor

_np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)

# In a DataLoader worker: (shape, numpy dtype) -> an array in shared memory to stack a batch into, or None.
_stack_allocator = None


def set_stack_allocator(allocate) -> None:
    """Make `default_collate` stack cpu tensors into `allocate(shape, np_dtype)`'s array when it returns one
    (DataLoader workers stack straight into shared memory); None restores plain stacking."""
    global _stack_allocator
    _stack_allocator = allocate


def _field_error(err: RuntimeError, key) -> RuntimeError:
    """`err` raised while collating field `key` of the samples, as a RuntimeError whose message names the field's
    path (e.g. [1]['image']): the key is prepended to the path an inner field's error already names."""
    path = f"[{key!r}]" + getattr(err, "_collate_path", "")
    base = getattr(err, "_collate_message", str(err))
    out = RuntimeError(f"{base} (collating field {path} of the samples)")
    out._collate_path, out._collate_message = path, base
    return out


def _stack(batch: list[Tensor]) -> Tensor:
    first = batch[0]
    for i, t in enumerate(batch):
        if t._shape != first._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first.shape)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    if all(t.device.type == "cpu" and not t.requires_grad for t in batch):
        # One NumPy stack of the host views: the cpu path of a batch costs a single copy.
        arrays = [t.numpy() for t in batch]
        if _stack_allocator is not None and all(t.dtype is first.dtype for t in batch):
            out = _stack_allocator((len(arrays), *first._shape), first.dtype.np)
            if out is not None:
                return from_numpy(np.stack(arrays, out=out))
        return from_numpy(np.stack(arrays))
    return stack(batch, 0)


def _is_numpy(elem) -> bool:
    """A NumPy array, memmap or scalar (NumPy's string scalars are not: they collate as strings)."""
    elem_type = type(elem)
    return elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_")


def _collate_numpy(batch: list) -> Any:
    elem = batch[0]
    if type(elem).__name__ in ("ndarray", "memmap"):
        if _np_str_obj_array_pattern.search(elem.dtype.str) is not None:
            raise TypeError(default_collate_err_msg_format.format(elem.dtype))
        return default_collate([as_tensor(b) for b in batch])
    if elem.shape == ():  # NumPy scalars
        return tensor(np.array(batch))
    return None


def _collate_mapping(batch: list) -> Any:
    """Collate per key, keeping the mapping's type (a copy of a mutable first sample, updated)."""
    elem = batch[0]
    collated = {}
    try:
        for key in elem:
            collated[key] = default_collate([d[key] for d in batch])
    except RuntimeError as err:
        raise _field_error(err, key) from err
    if isinstance(elem, collections.abc.MutableMapping):
        clone = copy.copy(elem)
        clone.update(collated)
        return clone
    try:
        return type(elem)(collated)
    except TypeError:
        return collated


def _collate_sequence(batch: list) -> Any:
    """Transpose a batch of equal-length sequences and collate each position (tuples give lists)."""
    elem = batch[0]
    it = iter(batch)
    elem_size = len(next(it))
    if not all(len(e) == elem_size for e in it):
        raise RuntimeError("each element in list of batch should be of equal size")
    fields = _collate_fields(list(zip(*batch)))
    if isinstance(elem, tuple):
        return fields
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, field in enumerate(fields):
                clone[i] = field
            return clone
        return type(elem)(fields)
    except TypeError:
        return fields


def _collate_fields(transposed: list) -> list:
    """default_collate of each position of the samples; an error names the position."""
    out = []
    try:
        for samples in transposed:
            out.append(default_collate(samples))
    except RuntimeError as err:
        raise _field_error(err, len(out)) from err
    return out


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch: tensors are stacked (a new first dimension), NumPy arrays and
    numbers become tensors (Python floats float64, ints int64), strings stay lists, dicts are collated per
    key, namedtuples per field, and other sequences are transposed (a list of tuples becomes a list of
    batches)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if _is_numpy(elem):
        collated = _collate_numpy(batch)
        if collated is not None:
            return collated
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(batch)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*_collate_fields(list(zip(*batch))))
    if isinstance(elem, collections.abc.Sequence):
        return _collate_sequence(batch)
    raise TypeError(default_collate_err_msg_format.format(type(elem)))


def default_convert(data: Any) -> Any:
    """What a DataLoader without batching (batch_size=None) returns: NumPy arrays and scalars become tensors,
    containers are converted element by element, anything else passes through."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if _is_numpy(data):
        if elem_type.__name__ == "ndarray" and _np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
