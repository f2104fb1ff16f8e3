"""The recurrent layers' autograd Functions: one layer-direction of an RNN/LSTM/GRU, and one cell step.

`RnnLayer` runs one direction of one layer over a sequence of rows x (N, In): time-major, `batch_sizes[t]`
rows at step t (a padded batch is every step at full size; a PackedSequence's data as it is). Its forward:

  1. gi = x W_ih^T + b: the input projection of ALL steps in one matmul (b = b_ih + b_hh for LSTM/RNN,
     whose equations only ever add the two; b_ih for GRU, whose n gate scales gh_n by r);
  2. per step: gh = h_{t-1} W_hh^T (+ b_hh for GRU) and ONE fused gate kernel (kernels/rnn_gates.py), which
     writes h_t into the output rows and the running state (and c_t, and the saved activations);
     with proj_size, h_t = (o tanh c_t) W_hr^T is one more matmul (and two row copies) per step.

The state buffers are updated in place on the rows still running, so a packed batch's h_n / c_n is simply
the state after the loop, and its reverse direction starts each sequence from h0 at its own last step.
Backward through time: per step (in reverse order) one gate-gradient kernel and one matmul
dh_{t-1} = dgates W_hh (+ dh z for GRU, in the matmul's epilogue); dX, dW_ih, dW_hh, the bias gradients
(and dW_hr) are single matmuls / sums over all steps at the end. The cpu runs the same algorithm in NumPy
(16-bit in fp32). The backward is first order (no create_graph through these nodes).

`CellGates` is one cell step's fused gates; `lstm_cell`, `gru_cell`, `rnn_tanh_cell` and `rnn_relu_cell`
(torch's names) compute gi and gh with linear and run it: nn.LSTMCell/GRUCell/RNNCell call them, and
autocast casts them as whole ops. `_rnn_layer` has no public torch name; it is bound (as `tt._rnn_layer`)
so that autocast casts the recurrent layers like PyTorch's cuDNN / oneDNN ones.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..kernels import rnn_gates as K
from ..tensor import Tensor
from .autocast import autocast_op
from .index_select import index_select
from .matmul import addmm, linear, mm
from .shape import cat

__all__ = ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "_rnn_layer"]

MODES = K.MODES


# ---------------------------------------------------------------- the two backends: NumPy arrays, cuda Tensors
class _Cpu:
    """Buffers are NumPy arrays in the compute type (fp32 for 16-bit, fp64 for fp64)."""

    @staticmethod
    def arr(t: Tensor | None, ct):
        return None if t is None else t._host().astype(ct, copy=False)

    @staticmethod
    def empty(like, shape: tuple):
        return np.empty(shape, like.dtype)

    @staticmethod
    def copy(a):
        return np.array(a, copy=True)

    @staticmethod
    def mm(a, b, c=None):
        with np.errstate(invalid="ignore", over="ignore"):  # PyTorch's matmul never warns (see ops/matmul.py)
            out = a @ b
        return out if c is None else out + c

    @staticmethod
    def t(a):
        return a.T

    @staticmethod
    def put(dst, src) -> None:
        dst[...] = src

    @staticmethod
    def sum0(a):
        return a.sum(0)

    @staticmethod
    def gather(parts: list, index: np.ndarray):
        return np.concatenate(parts, 0)[index]

    @staticmethod
    def gates(mode, h, gi, gh, hp, cp, c, act, h_state, c_state) -> None:
        hh, cc, aa = K.rnn_gates_ref(mode, gi, gh, hp, cp)
        h[...] = hh
        if h_state is not None:
            h_state[...] = hh
        if cc is not None:
            c[...] = cc
            if c_state is not None:
                c_state[...] = cc
        if act is not None and aa is not None:
            act[...] = aa

    @staticmethod
    def gates_backward(mode, dgi, rec, n_rec, fb, dy, act, c, cp, h, dc, dcp, dgh, dhp) -> None:
        n = dgi.shape[0]
        dh = np.array(rec[:n] if n_rec >= n else fb[:n], copy=True)
        if 0 < n_rec < n:
            dh[:n_rec] = rec[:n_rec]
        if dy is not None:
            dh += dy
        g, gh, hp, cp_grad = K.rnn_gates_backward_ref(mode, dh, act, c, cp, h, dc)
        dgi[...] = g
        if dgh is not None:
            dgh[...] = gh
            dhp[...] = hp
        if dcp is not None:
            dcp[...] = cp_grad


class _Cuda:
    """Buffers are contiguous cuda Tensors; the kernels of kernels/rnn_gates.py, the matmul op."""

    @staticmethod
    def arr(t: Tensor | None, ct):
        return t

    @staticmethod
    def empty(like: Tensor, shape: tuple) -> Tensor:
        return Tensor._empty(shape, like.dtype, like.device)

    @staticmethod
    def copy(a: Tensor) -> Tensor:
        return a.clone()

    @staticmethod
    def mm(a: Tensor, b: Tensor, c: Tensor | None = None) -> Tensor:
        return mm(a, b) if c is None else addmm(c, a, b)

    @staticmethod
    def t(a: Tensor) -> Tensor:
        return a.t()

    @staticmethod
    def put(dst: Tensor, src: Tensor) -> None:
        dst.copy_(src)

    @staticmethod
    def sum0(a: Tensor) -> Tensor:
        return a.sum(0)

    @staticmethod
    def gather(parts: list, index: np.ndarray) -> Tensor:
        src = cat(parts, 0)
        return index_select(src, 0, Tensor._from_host(index.astype(np.int64), src.device))

    @staticmethod
    def gates(mode, h, gi, gh, hp, cp, c, act, h_state, c_state) -> None:
        d = (lambda t: None if t is None else t._dev())
        K.rnn_gates(mode, h._dev(), gi._dev(), gh._dev(), d(hp), d(cp), d(c), d(act), d(h_state), d(c_state))

    @staticmethod
    def gates_backward(mode, dgi, rec, n_rec, fb, dy, act, c, cp, h, dc, dcp, dgh, dhp) -> None:
        d = (lambda t: None if t is None else t._dev())
        K.rnn_gates_backward(mode, dgi._dev(), d(rec) if rec is not None else fb._dev(), n_rec, d(fb), d(dy),
                             d(act), d(c), d(cp), d(h), d(dc), d(dcp), d(dgh), d(dhp))


def _rows(a, start: int, n: int):
    """Rows start .. start + n of a contiguous 2-D buffer, as a view (NumPy slice or Tensor view)."""
    if isinstance(a, np.ndarray):
        return a[start:start + n]
    return a._view((n, a._shape[1]), (a._shape[1], 1), a._offset + start * a._shape[1])


def _ct(dtype: D.dtype):
    return np.float64 if dtype is D.float64 else np.float32


def _offsets(batch_sizes: tuple) -> list[int]:
    return [int(v) for v in np.concatenate([[0], np.cumsum(batch_sizes)])]


def _prev_index(batch_sizes: tuple, reverse: bool) -> np.ndarray:
    """For each row of the sequence, the row of cat([outputs, h0]) holding its h_{t-1} (its previous step's
    output, or h0 for the step where its sequence starts in this direction)."""
    off = _offsets(batch_sizes)
    N, T = off[-1], len(batch_sizes)
    index = np.empty(N, np.int64)
    for t, n in enumerate(batch_sizes):
        r = np.arange(n)
        src = t + 1 if reverse else t - 1
        if 0 <= src < T:
            from_prev = r < batch_sizes[src]
            index[off[t]:off[t] + n] = np.where(from_prev, off[src] + r, N + r)
        else:
            index[off[t]:off[t] + n] = N + r
    return index


# ---------------------------------------------------------------- one layer-direction
def _forward(be, mode: int, x, h0, c0, w_ih, w_hh, bias, b_hh, w_hr, reverse: bool, batch_sizes: tuple, save: bool):
    """The forward loop (see the module docstring): (out, h_n, c_n, cseq, act, hpre)."""
    off = _offsets(batch_sizes)
    N = off[-1]
    G = K.GATES[mode]
    H = w_ih.shape[0] // G
    gi = be.mm(x, be.t(w_ih), bias)
    out = be.empty(x, (N, h0.shape[1]))
    h_state = be.copy(h0)
    c_state = be.copy(c0) if mode == K.LSTM else None
    cseq = be.empty(x, (N, H)) if mode == K.LSTM else None
    act = be.empty(x, (N, 4 * H)) if save and K.SAVED[mode] else None
    hpre = be.empty(x, (N, H)) if w_hr is not None else None
    w_hh_t = be.t(w_hh)
    w_hr_t = None if w_hr is None else be.t(w_hr)
    for t in (range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))):
        s, n = off[t], batch_sizes[t]
        hp = _rows(h_state, 0, n)
        gh = be.mm(hp, w_hh_t, b_hh)
        cp = None if c_state is None else _rows(c_state, 0, n)
        rows = (lambda a, s=s, n=n: None if a is None else _rows(a, s, n))
        if hpre is None:
            be.gates(mode, rows(out), rows(gi), gh, hp, cp, rows(cseq), rows(act), hp, cp)
        else:  # the kernel's h is o * tanh(c), projected by W_hr into the output and the state
            be.gates(mode, rows(hpre), rows(gi), gh, None, cp, rows(cseq), rows(act), rows(hpre), cp)
            hr = be.mm(rows(hpre), w_hr_t)
            be.put(rows(out), hr)
            be.put(hp, hr)
    return out, h_state, c_state, cseq, act, hpre


def _backward(be, mode: int, saved: tuple, grads: tuple, reverse: bool, batch_sizes: tuple, need: tuple):
    """Backward through time: (dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh, dW_hr), None where not needed."""
    x, h0, c0, w_ih, w_hh, w_hr, out, cseq, act, hpre = saved
    dout, dhn, dcn = grads
    off = _offsets(batch_sizes)
    N = off[-1]
    H = w_ih.shape[0] // K.GATES[mode]
    prev = _prev_index(batch_sizes, reverse)
    hprev = be.gather([out, h0], prev)
    cprev = be.gather([cseq, c0], prev) if mode == K.LSTM else None
    dg = be.empty(x, (N, w_ih.shape[0]))
    dgh = be.empty(x, (N, 3 * H)) if mode == K.GRU else None
    dc_state = be.copy(dcn) if mode == K.LSTM else None
    dh0 = be.empty(x, h0.shape)
    dhtot = be.empty(x, (N, w_hr.shape[0])) if w_hr is not None else None
    dh_state = be.copy(dhn) if w_hr is not None else None
    rec, n_rec = None, 0
    order = list(range(len(batch_sizes))) if reverse else list(range(len(batch_sizes) - 1, -1, -1))
    for k, t in enumerate(order):
        s, n = off[t], batch_sizes[t]
        rows = (lambda a, s=s, n=n: None if a is None else _rows(a, s, n))
        dc = None if dc_state is None else _rows(dc_state, 0, n)
        dhp = be.empty(x, (n, H)) if mode == K.GRU else None
        h = hprev if mode == K.GRU else out if mode != K.LSTM else None
        if w_hr is None:
            be.gates_backward(mode, rows(dg), rec, n_rec, dhn, rows(dout), rows(act), rows(cseq), rows(cprev),
                              rows(h), dc, dc, rows(dgh), dhp)
        else:  # dh_t (P) = state + dy, through W_hr to the kernel's h
            tot = rows(dhtot)
            be.put(tot, _rows(dh_state, 0, n) + rows(dout))
            be.gates_backward(mode, rows(dg), be.mm(tot, w_hr), n, dhn, None, rows(act), rows(cseq), rows(cprev),
                              None, dc, dc, None, None)
        rec = be.mm(rows(dgh) if mode == K.GRU else rows(dg), w_hh, dhp)
        if w_hr is not None:
            be.put(_rows(dh_state, 0, n), rec)
        n_next = batch_sizes[order[k + 1]] if k + 1 < len(order) else 0
        if n_next < n:  # rows whose sequence starts (in this direction) at this step: their dh0
            be.put(_rows(dh0, n_next, n - n_next), _rows(rec, n_next, n - n_next))
        n_rec = n
    d_in, d_h0, d_c0, d_wih, d_whh, d_bih, d_bhh, d_whr = need
    dgh_all = dgh if mode == K.GRU else dg
    db = be.sum0(dg) if d_bih or (d_bhh and mode != K.GRU) else None
    return (be.mm(dg, w_ih) if d_in else None, dh0 if d_h0 else None, dc_state if d_c0 else None,
            be.mm(be.t(dg), x) if d_wih else None, be.mm(be.t(dgh_all), hprev) if d_whh else None,
            db if d_bih else None, (be.sum0(dgh) if mode == K.GRU else db) if d_bhh else None,
            be.mm(be.t(dhtot), hpre) if d_whr else None)


def _to_tensor(a, dtype: D.dtype, device):
    if a is None or isinstance(a, Tensor):
        return a
    return Tensor._wrap(np.ascontiguousarray(a).astype(dtype.np, copy=False), device)


class RnnLayer(Function):
    """One direction of one recurrent layer over time-major rows x (N, In), `batch_sizes[t]` rows at step t;
    returns (output (N, H or P), h_n (B, H or P)) and c_n (B, H) for LSTM. Arguments already checked."""

    differentiable_forward = False

    def name(self) -> str:
        return {K.LSTM: "LstmBackward0", K.GRU: "GruBackward0"}.get(self.mode, "RnnTanhBackward0"
                                                                    if self.mode == K.RNN_TANH else
                                                                    "RnnReluBackward0")

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                b_hh: Tensor | None, w_hr: Tensor | None, mode: int, reverse: bool, batch_sizes: tuple):
        save = bool(ctx.needs_input_grad) and any(ctx.needs_input_grad)
        ctx.mode, ctx.reverse, ctx.batch_sizes = mode, reverse, batch_sizes
        with no_grad():
            be = _Cpu if x.device.type == "cpu" else _Cuda
            ct = _ct(x.dtype)
            a = [be.arr(t, ct) for t in (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)]
            bias, b_hh_step = a[5], None
            if mode == K.GRU:
                b_hh_step = a[6]
            elif bias is not None:
                bias = bias + a[6]
            out, hn, cn, cseq, act, hpre = _forward(be, mode, a[0], a[1], a[2], a[3], a[4], bias, b_hh_step, a[7],
                                                    reverse, batch_sizes, save)
        wrap = (lambda v: _to_tensor(v, x.dtype, x.device))
        out, hn, cn = wrap(out), wrap(hn), wrap(cn)
        if save:
            ctx.save_for_backward(x, h0, c0, w_ih, w_hh, w_hr, out, wrap(cseq), wrap(act), wrap(hpre))
        return (out, hn, cn) if mode == K.LSTM else (out, hn)

    @staticmethod
    def backward(ctx, dout, dhn, dcn=None):
        saved = ctx.saved_tensors
        x = saved[0]
        with no_grad():
            be = _Cpu if x.device.type == "cpu" else _Cuda
            ct = _ct(x.dtype)
            arrs = tuple(be.arr(t, ct) for t in saved)
            grads = tuple(be.arr(None if g is None else g.contiguous(), ct) for g in (dout, dhn, dcn))
            need = ctx.needs_input_grad
            res = _backward(be, ctx.mode, arrs, grads, ctx.reverse, ctx.batch_sizes,
                            (need[0], need[1], need[2], need[3], need[4], need[5], need[6], need[7]))
        dx, dh0, dc0, dwih, dwhh, dbih, dbhh, dwhr = res
        cast = (lambda v, like: None if v is None else _to_tensor(v, like.dtype, x.device).to(like.dtype))
        return (cast(dx, x), cast(dh0, saved[1]), cast(dc0, x), cast(dwih, saved[3]), cast(dwhh, saved[4]),
                cast(dbih, x), cast(dbhh, x), cast(dwhr, x), None, None, None)


def _rnn_layer(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None, b_hh: Tensor | None, w_hr: Tensor | None, reverse: bool,
               batch_sizes: tuple) -> tuple:
    """One layer-direction (see RnnLayer): mode 'LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU'; x (N, In) time-major
    rows with `batch_sizes[t]` rows at step t (non-increasing); h0 (B, H or P), c0 (B, H) for LSTM."""
    m = MODES[mode]
    args = [t.contiguous() if t is not None else None for t in (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)]
    return RnnLayer.apply(*args, m, bool(reverse), tuple(int(b) for b in batch_sizes))


# ---------------------------------------------------------------- one cell step
class CellGates(Function):
    """The fused gates of one cell step from gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh (B, G*H): h' for
    RNN (hp, cp unused) and GRU (hp = h), (h', c') for LSTM (cp = c)."""

    differentiable_forward = False

    def name(self) -> str:
        return "CellGatesBackward0"

    @staticmethod
    def forward(ctx, gi: Tensor, gh: Tensor, hp: Tensor | None, cp: Tensor | None, mode: int):
        ctx.mode = mode
        B, H = gi._shape[0], gi._shape[1] // K.GATES[mode]
        save = bool(ctx.needs_input_grad) and any(ctx.needs_input_grad)
        if gi.device.type == "cpu":
            ct = _ct(gi.dtype)
            h, c, act = K.rnn_gates_ref(mode, *(None if t is None else t._host().astype(ct) for t in (gi, gh, hp, cp)))
            h, c, act = (_to_tensor(v, gi.dtype, gi.device) for v in (h, c, act))
        else:
            h = Tensor._empty((B, H), gi.dtype, gi.device)
            c = Tensor._empty((B, H), gi.dtype, gi.device) if mode == K.LSTM else None
            act = Tensor._empty((B, 4 * H), gi.dtype, gi.device) if save and K.SAVED[mode] else None
            _Cuda.gates(mode, h, gi, gh, hp, cp, c, act, None, None)
        if save:
            ctx.save_for_backward(hp, cp, h, c, act)
        return (h, c) if mode == K.LSTM else h

    @staticmethod
    def backward(ctx, dh, dc=None):
        hp, cp, h, c, act = ctx.saved_tensors
        mode = ctx.mode
        B, H = dh._shape
        with no_grad():
            if dh.device.type == "cpu":
                ct = _ct(dh.dtype)
                arr = (lambda t: None if t is None else t._host().astype(ct))
                hh = arr(hp) if mode == K.GRU else arr(h)
                dgi, dgh, dhp, dcp = K.rnn_gates_backward_ref(mode, arr(dh), arr(act), arr(c), arr(cp), hh, arr(dc))
                dgi, dgh, dhp, dcp = (_to_tensor(v, dh.dtype, dh.device) for v in (dgi, dgh, dhp, dcp))
            else:
                dh = dh.contiguous()
                dgi = Tensor._empty((B, K.GATES[mode] * H), dh.dtype, dh.device)
                dgh = Tensor._empty((B, 3 * H), dh.dtype, dh.device) if mode == K.GRU else None
                dhp = Tensor._empty((B, H), dh.dtype, dh.device) if mode == K.GRU else None
                dcp = Tensor._empty((B, H), dh.dtype, dh.device) if mode == K.LSTM else None
                _Cuda.gates_backward(mode, dgi, dh, B, dh, None, act, c, cp, hp if mode == K.GRU else h,
                                     None if dc is None else dc.contiguous(), dcp, dgh, dhp)
        return dgi, dgi if dgh is None else dgh, dhp, dcp, None


def _cell_gates(mode: str, gi: Tensor, gh: Tensor, hp: Tensor | None = None, cp: Tensor | None = None):
    """One cell step's fused gates (see CellGates); mode 'LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU'. Operands of
    mixed dtypes run in the promoted one (PyTorch's composite cells promote: bf16 gates with an fp32 state
    under cpu autocast give an fp32 state)."""
    m = MODES[mode]
    operands = [t for t in (gi, gh, hp, cp) if t is not None]
    dtype = operands[0].dtype
    for t in operands[1:]:
        dtype = D.promote_types(dtype, t.dtype)
    gi, gh, hp, cp = (None if t is None else t.to(dtype).contiguous() for t in (gi, gh, hp, cp))
    return CellGates.apply(gi, gh, hp, cp, m)


# A cell is a composite in PyTorch: where autocast does not cast the whole cell (cpu), its linears still are.
_linear = autocast_op("linear", linear)


def _cell(mode: str, input: Tensor, h: Tensor, c: Tensor | None, w_ih: Tensor, w_hh: Tensor,
          b_ih: Tensor | None, b_hh: Tensor | None):
    gi, gh = _linear(input, w_ih, b_ih), _linear(h, w_hh, b_hh)
    if mode == "LSTM":
        return _cell_gates(mode, gi, gh, None, c)
    return _cell_gates(mode, gi, gh, h if mode == "GRU" else None)


def lstm_cell(input: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step on (B, In) rows: hx = (h, c), each (B, H); returns (h', c') (torch.lstm_cell)."""
    return _cell("LSTM", input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step on (B, In) rows with state hx (B, H); returns h' (torch.gru_cell)."""
    return _cell("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (torch.rnn_tanh_cell)."""
    return _cell("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step with relu instead of tanh (torch.rnn_relu_cell)."""
    return _cell("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)
