"""nn.utils.rnn: padding and packing variable-length batches against NumPy-built expectations, round trips,
gradients through packing, and PyTorch's errors."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.nn.utils import rnn

DEVICES = ["cpu", "cuda"]


def _seqs(rng, lengths, feat=3):
    return [rng.standard_normal((n, feat)).astype(np.float32) for n in lengths]


def _padded(seqs, value=0.0, left=False):
    longest = max(len(s) for s in seqs)
    out = np.full((len(seqs), longest) + seqs[0].shape[1:], value, np.float32)
    for i, s in enumerate(seqs):
        if left:
            out[i, longest - len(s):] = s
        else:
            out[i, :len(s)] = s
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_pad_sequence_both_layouts_and_sides(rng, device):
    seqs = _seqs(rng, [4, 1, 3])
    ts = [tt.tensor(s, device=device) for s in seqs]
    want = _padded(seqs, -1.0)
    np.testing.assert_array_equal(rnn.pad_sequence(ts, batch_first=True, padding_value=-1.0).cpu().numpy(), want)
    np.testing.assert_array_equal(rnn.pad_sequence(ts, padding_value=-1.0).cpu().numpy(), want.transpose(1, 0, 2))
    np.testing.assert_array_equal(rnn.pad_sequence(ts, True, 0.0, "left").cpu().numpy(), _padded(seqs, left=True))
    with pytest.raises(ValueError, match="padding_side to be one of left or right"):
        rnn.pad_sequence(ts, padding_side="middle")


@pytest.mark.parametrize("device", DEVICES)
def test_pack_padded_sequence_layout_and_round_trip(rng, device):
    lengths = [2, 5, 3]  # unsorted: enforce_sorted=False sorts by decreasing length
    seqs = _seqs(rng, lengths)
    padded = tt.tensor(_padded(seqs), device=device)  # (B, T, F)
    packed = rnn.pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    order = [1, 2, 0]
    assert packed.sorted_indices.cpu().numpy().tolist() == order
    assert packed.unsorted_indices.cpu().numpy().tolist() == [2, 0, 1]
    assert packed.batch_sizes.numpy().tolist() == [3, 3, 2, 1, 1] and packed.batch_sizes.dtype is tt.int64
    want = np.concatenate([np.stack([seqs[i][t] for i in order if lengths[i] > t]) for t in range(5)])
    np.testing.assert_array_equal(packed.data.cpu().numpy(), want)
    out, out_lengths = rnn.pad_packed_sequence(packed, batch_first=True, padding_value=7.0, total_length=6)
    assert out_lengths.numpy().tolist() == lengths
    np.testing.assert_array_equal(out.cpu().numpy(), np.concatenate(
        [_padded(seqs, 7.0), np.full((3, 1, 3), 7.0, np.float32)], axis=1))
    back = rnn.unpack_sequence(packed)
    for got, s in zip(back, seqs):
        np.testing.assert_array_equal(got.cpu().numpy(), s)


def test_pack_sequence_sorted_and_unpad(rng):
    seqs = _seqs(rng, [4, 4, 2])
    packed = rnn.pack_sequence([tt.tensor(s) for s in seqs])
    assert packed.sorted_indices is None and packed.batch_sizes.numpy().tolist() == [3, 3, 2, 2]
    padded, lengths = rnn.pad_packed_sequence(packed)
    assert padded.shape == (4, 3, 3)
    for got, s in zip(rnn.unpad_sequence(padded, lengths), seqs):
        np.testing.assert_array_equal(got.numpy(), s)


def test_gradients_flow_through_packing(rng):
    seqs = [tt.tensor(s, dtype=tt.float64, requires_grad=True) for s in _seqs(rng, [3, 1, 2])]
    packed = rnn.pack_sequence(seqs, enforce_sorted=False)
    weights = tt.tensor(rng.standard_normal(packed.data.shape))
    (packed.data * weights).sum().backward()
    w = weights.numpy()
    # Packed row order: t=0: seqs 0, 2, 1; t=1: seqs 0, 2; t=2: seq 0.
    rows = {(0, 0): 0, (2, 0): 1, (1, 0): 2, (0, 1): 3, (2, 1): 4, (0, 2): 5}
    for i, s in enumerate(seqs):
        want = np.stack([w[rows[(i, t)]] for t in range(s.shape[0])])
        np.testing.assert_array_equal(s.grad.numpy(), want)


def test_errors():
    x = tt.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
        rnn.pack_padded_sequence(x, [1, 3, 2])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn.pack_padded_sequence(x, [3, 0, 0])
    with pytest.raises(RuntimeError, match="Expected `len\\(lengths\\)` to be equal to batch_size"):
        rnn.pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="smaller than or equal to 4"):
        rnn.pack_padded_sequence(x, [5, 2, 1])
    packed = rnn.pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="total_length to be at least the length of the longest"):
        rnn.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        rnn.pad_sequence([])
