"""torch.nn.utils.rnn: variable-length batches of sequences, padded or packed.

A PackedSequence holds the time steps of a batch one after the other, each step only for the sequences still
running (`batch_sizes[t]` of them, longest first), as PyTorch's recurrent layers consume it. Everything here is
composed of tensor ops (index_select, slicing, cat, stack), so gradients flow through packing and padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ... import creation
from ...dtypes import int64
from ...ops.shape import cat, stack
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence"]

_SORTED_ERROR = ("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
                 "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement "
                 "if you do not need ONNX exportability.")


class PackedSequence(NamedTuple):
    """A packed batch: `data` (sum(lengths), *), `batch_sizes` (int64, cpu: sequences alive at each step),
    and the permutation that sorted the batch by decreasing length (`sorted_indices`) with its inverse."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        """The same packing with `data` moved/cast as Tensor.to does (batch_sizes stay on the cpu)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device
        move = (lambda t: None if t is None else t.to(device))
        return PackedSequence(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    @property
    def is_cuda(self) -> bool:
        """Whether the packed data lives on a cuda device."""
        return self.data.device.type == "cuda"


def _lengths(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        return lengths.detach().cpu().numpy().astype(np.int64).reshape(-1)
    return np.asarray(list(lengths), dtype=np.int64).reshape(-1)


def _index(values: np.ndarray, device) -> Tensor:
    return creation.tensor(values.astype(np.int64), dtype=int64, device=device)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences of `lengths`."""
    lens = _lengths(lengths)
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2 or lens.size != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lens.size} "
                           f"(batch_size={input.shape[batch_dim] if input.ndim >= 2 else 0})")
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    sorted_indices = unsorted_indices = None
    if enforce_sorted:
        if np.any(lens[:-1] < lens[1:]):
            raise RuntimeError(_SORTED_ERROR)
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = _index(order, input.device)
        unsorted_indices = _index(np.argsort(order, kind="stable"), input.device)
        input = input.index_select(batch_dim, sorted_indices)
    time_major = input.transpose(0, 1) if batch_first else input
    if lens.size and lens[0] > time_major.shape[0]:
        raise RuntimeError(f"Expected sequence length to be smaller than or equal to {time_major.shape[0]}, "
                           f"but got {int(lens[0])}")
    steps = int(lens[0]) if lens.size else 0
    batch_sizes = np.array([(lens > t).sum() for t in range(steps)], dtype=np.int64)
    data = cat([time_major[t, :int(b)] for t, b in enumerate(batch_sizes)], 0)
    return PackedSequence(data, creation.tensor(batch_sizes, dtype=int64), sorted_indices, unsorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths in the original order)."""
    sizes = sequence.batch_sizes.numpy().astype(np.int64)
    steps, batch = len(sizes), int(sizes[0]) if len(sizes) else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    data = sequence.data
    rows, start = [], 0
    for t in range(steps):
        b = int(sizes[t]) if t < len(sizes) else 0
        step = data[start:start + b]
        start += b
        if b < batch:
            pad = creation.full((batch - b, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
            step = cat([step, pad], 0)
        rows.append(step)
    padded = stack(rows, 0)  # (T, B, *), sorted by decreasing length
    lengths = np.array([(sizes > i).sum() for i in range(batch)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.cpu().numpy()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, creation.tensor(lengths, dtype=int64)


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks sequences of shapes (L_i, *) into (max L, B, *) ((B, max L, *) with batch_first), padded."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if len(sequences) == 0:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            pad = creation.full((missing, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """The list of sequences a right-padded batch holds, each cut to its length."""
    batch_major = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [batch_major[i, :int(n)] for i, n in enumerate(_lengths(lengths))]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """pack_padded_sequence of pad_sequence(sequences) with their lengths."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a PackedSequence holds, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
