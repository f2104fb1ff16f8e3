"""Fused gate kernels of the recurrent layers (LSTM, GRU, RNN tanh/relu), forward and backward.

One time step of a recurrent layer is a matmul of the hidden state (the input projection of every step is
one matmul before the loop) plus ONE launch of `rnn_gates_fwd_kernel`, which reads the step's projected input
gi (B, G*H) and hidden projection gh (B, G*H) (and c_{t-1} / h_{t-1} where the gates need them), and writes
h_t (and c_t) where the layer wants them plus the activations its backward reads:

  LSTM (G=4, gates i, f, g, o):  c = sig(f) c_{t-1} + sig(i) tanh(g),  h = sig(o) tanh(c);   saves i, f, g, o
  GRU  (G=3, gates r, z, n):     n = tanh(gi_n + sig(r) gh_n),  h = n + sig(z) (h_{t-1} - n);  saves r, z, n, gh_n
  RNN  (G=1):                    h = tanh(gi + gh) or relu(gi + gh);                          saves nothing (h)

(gi, gh hold the biases: the layer folds b_ih + b_hh into gi where the equations allow it.)
The backward step, `rnn_gates_bwd_kernel`, turns dh_t (a recurrent part plus the output's gradient, summed
on load) and dc_t into the pre-activation gate gradients and dc_{t-1} in one launch; GRU also writes the
hidden-side gradients (its n gate differs: gh_n is scaled by r) and the direct part dh z of dh_{t-1}.

Layout: every (B, X) operand has contiguous rows and its own row stride, so a step's rows of a (T*B, X)
sequence buffer are passed as they are; gate k of a row is columns k*H .. k*H + H - 1. The grid is (row
blocks, column blocks) of BLOCK_B x BLOCK_H tiles, small enough that a step fills the GPU. Gates are
computed in fp32 (fp64 for fp64); 16-bit values are upcast on load and rounded once on store.

The recurrent part of dh may cover only the first `n_rec` rows (a packed batch shrinks as steps go by):
rows from n_rec on read `fb` (the gradient of the final state) instead.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl
from scipy.special import expit

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .special import _sigmoid_pair
from .strided import cast_to, compute_type
from .trigonometric import _tanh_math
from .tuning import Cost, Tunable, next_pow2

LSTM, GRU, RNN_TANH, RNN_RELU = 0, 1, 2, 3
MODES = {"LSTM": LSTM, "GRU": GRU, "RNN_TANH": RNN_TANH, "RNN_RELU": RNN_RELU}
GATES = {LSTM: 4, GRU: 3, RNN_TANH: 1, RNN_RELU: 1}
SAVED = {LSTM: 4, GRU: 4, RNN_TANH: 0, RNN_RELU: 0}  # activations saved per hidden unit (h itself for RNN)


# ---------------------------------------------------------------- kernels
@triton.jit
def _sig(x):
    s, _ = _sigmoid_pair(x)
    return s


@triton.jit
def _load(ptr, rows64, stride, col0, cols, mask, acc_type: tl.constexpr):
    """A (BLOCK_B, BLOCK_H) tile at columns col0 + cols of rows `rows64`, in the compute type."""
    return compute_type(tl.load(ptr + rows64 * stride + col0 + cols[None, :], mask=mask, other=0.0)).to(acc_type)


@triton.jit
def _store(ptr, rows64, stride, col0, cols, value, mask):
    tl.store(ptr + rows64 * stride + col0 + cols[None, :], cast_to(value, ptr.dtype.element_ty), mask=mask)


@fast_jit
def rnn_gates_fwd_kernel(
    gi_ptr,  # (B, G*H) projected input of the step (+ folded biases)
    gh_ptr,  # (B, G*H) hidden projection h_{t-1} W_hh^T (+ b_hh for GRU)
    hp_ptr,  # (B, H) h_{t-1} (GRU only)
    cp_ptr,  # (B, H) c_{t-1} (LSTM only)
    h_ptr,  # (B, H) h_t out (the output sequence's rows)
    hs_ptr,  # (B, H) second copy of h_t: the running state (if STATE)
    c_ptr,  # (B, H) c_t out (LSTM)
    cs_ptr,  # (B, H) second copy of c_t: the running state (LSTM, if STATE)
    act_ptr,  # (B, 4*H) saved activations (if SAVE, LSTM/GRU)
    B, H,  # rows, hidden size
    s_gi, s_gh, s_hp, s_cp, s_h, s_hs, s_c, s_cs, s_act,  # row strides (elements)
    MODE: tl.constexpr,  # LSTM, GRU, RNN_TANH, RNN_RELU
    STATE: tl.constexpr,  # also write h (and c) to the state buffers
    SAVE: tl.constexpr,  # write the activations the backward reads
    BLOCK_B: tl.constexpr,  # rows per program
    BLOCK_H: tl.constexpr,  # hidden units per program
):
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = (rows < B)[:, None] & (cols < H)[None, :]
    r64 = rows.to(tl.int64)[:, None]
    acc: tl.constexpr = tl.float64 if gi_ptr.dtype.element_ty == tl.float64 else tl.float32
    if MODE == 0:  # LSTM
        i = _sig(_load(gi_ptr, r64, s_gi, 0, cols, mask, acc) + _load(gh_ptr, r64, s_gh, 0, cols, mask, acc))
        f = _sig(_load(gi_ptr, r64, s_gi, H, cols, mask, acc) + _load(gh_ptr, r64, s_gh, H, cols, mask, acc))
        g = _tanh_math(_load(gi_ptr, r64, s_gi, 2 * H, cols, mask, acc)
                       + _load(gh_ptr, r64, s_gh, 2 * H, cols, mask, acc))
        o = _sig(_load(gi_ptr, r64, s_gi, 3 * H, cols, mask, acc) + _load(gh_ptr, r64, s_gh, 3 * H, cols, mask, acc))
        c = f * _load(cp_ptr, r64, s_cp, 0, cols, mask, acc) + i * g
        h = o * _tanh_math(c)
        _store(c_ptr, r64, s_c, 0, cols, c, mask)
        if STATE:
            _store(cs_ptr, r64, s_cs, 0, cols, c, mask)
        if SAVE:
            _store(act_ptr, r64, s_act, 0, cols, i, mask)
            _store(act_ptr, r64, s_act, H, cols, f, mask)
            _store(act_ptr, r64, s_act, 2 * H, cols, g, mask)
            _store(act_ptr, r64, s_act, 3 * H, cols, o, mask)
    elif MODE == 1:  # GRU
        r = _sig(_load(gi_ptr, r64, s_gi, 0, cols, mask, acc) + _load(gh_ptr, r64, s_gh, 0, cols, mask, acc))
        z = _sig(_load(gi_ptr, r64, s_gi, H, cols, mask, acc) + _load(gh_ptr, r64, s_gh, H, cols, mask, acc))
        hn = _load(gh_ptr, r64, s_gh, 2 * H, cols, mask, acc)
        n = _tanh_math(_load(gi_ptr, r64, s_gi, 2 * H, cols, mask, acc) + r * hn)
        h = n + z * (_load(hp_ptr, r64, s_hp, 0, cols, mask, acc) - n)
        if SAVE:
            _store(act_ptr, r64, s_act, 0, cols, r, mask)
            _store(act_ptr, r64, s_act, H, cols, z, mask)
            _store(act_ptr, r64, s_act, 2 * H, cols, n, mask)
            _store(act_ptr, r64, s_act, 3 * H, cols, hn, mask)
    else:  # RNN: the saved output h is all the backward needs
        pre = _load(gi_ptr, r64, s_gi, 0, cols, mask, acc) + _load(gh_ptr, r64, s_gh, 0, cols, mask, acc)
        if MODE == 2:
            h = _tanh_math(pre)
        else:
            h = tl.where(pre < 0, 0.0, pre)  # NaN stays NaN (PyTorch's relu propagates it)
    _store(h_ptr, r64, s_h, 0, cols, h, mask)
    if STATE:
        _store(hs_ptr, r64, s_hs, 0, cols, h, mask)


@fast_jit
def rnn_gates_bwd_kernel(
    dgi_ptr,  # (B, G*H) out: pre-activation gate gradients (input side; LSTM/RNN: also the hidden side)
    dgh_ptr,  # (B, 3*H) out: GRU's hidden-side gate gradients
    dhp_ptr,  # (B, H) out: GRU's dh_t * z, the direct part of dh_{t-1}
    dc_ptr,  # (B, H) in: dc_t (LSTM)
    dcp_ptr,  # (B, H) out: dc_{t-1} (LSTM; may alias dc_ptr: each lane reads before it writes)
    rec_ptr,  # (n_rec, H) recurrent part of dh_t
    fb_ptr,  # (B, H) dh_t of rows >= n_rec (the final state's gradient)
    dy_ptr,  # (B, H) the output's gradient at t (if HAS_DY)
    act_ptr,  # (B, 4*H) saved activations (LSTM/GRU)
    c_ptr,  # (B, H) c_t (LSTM)
    cp_ptr,  # (B, H) c_{t-1} (LSTM)
    h_ptr,  # (B, H) RNN: h_t; GRU: h_{t-1}
    B, H, n_rec,  # rows, hidden size, rows of rec
    s_dgi, s_dgh, s_dhp, s_dc, s_dcp, s_rec, s_fb, s_dy, s_act, s_c, s_cp, s_h,  # row strides (elements)
    MODE: tl.constexpr,  # LSTM, GRU, RNN_TANH, RNN_RELU
    HAS_DY: tl.constexpr,  # add dy to dh
    BLOCK_B: tl.constexpr,  # rows per program
    BLOCK_H: tl.constexpr,  # hidden units per program
):
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = (rows < B)[:, None] & (cols < H)[None, :]
    r64 = rows.to(tl.int64)[:, None]
    acc: tl.constexpr = tl.float64 if dgi_ptr.dtype.element_ty == tl.float64 else tl.float32
    rec = (rows < n_rec)[:, None]
    dh = (_load(rec_ptr, r64, s_rec, 0, cols, mask & rec, acc)
          + _load(fb_ptr, r64, s_fb, 0, cols, mask & (rows >= n_rec)[:, None], acc))
    if HAS_DY:
        dh += _load(dy_ptr, r64, s_dy, 0, cols, mask, acc)
    if MODE == 0:  # LSTM
        i = _load(act_ptr, r64, s_act, 0, cols, mask, acc)
        f = _load(act_ptr, r64, s_act, H, cols, mask, acc)
        g = _load(act_ptr, r64, s_act, 2 * H, cols, mask, acc)
        o = _load(act_ptr, r64, s_act, 3 * H, cols, mask, acc)
        tc = _tanh_math(_load(c_ptr, r64, s_c, 0, cols, mask, acc))
        dc = _load(dc_ptr, r64, s_dc, 0, cols, mask, acc) + dh * o * (1.0 - tc * tc)
        _store(dgi_ptr, r64, s_dgi, 0, cols, dc * g * i * (1.0 - i), mask)
        _store(dgi_ptr, r64, s_dgi, H, cols, dc * _load(cp_ptr, r64, s_cp, 0, cols, mask, acc) * f * (1.0 - f), mask)
        _store(dgi_ptr, r64, s_dgi, 2 * H, cols, dc * i * (1.0 - g * g), mask)
        _store(dgi_ptr, r64, s_dgi, 3 * H, cols, dh * tc * o * (1.0 - o), mask)
        _store(dcp_ptr, r64, s_dcp, 0, cols, dc * f, mask)
    elif MODE == 1:  # GRU
        r = _load(act_ptr, r64, s_act, 0, cols, mask, acc)
        z = _load(act_ptr, r64, s_act, H, cols, mask, acc)
        n = _load(act_ptr, r64, s_act, 2 * H, cols, mask, acc)
        hn = _load(act_ptr, r64, s_act, 3 * H, cols, mask, acc)
        dn = dh * (1.0 - z) * (1.0 - n * n)
        dr = dn * hn * r * (1.0 - r)
        dz = dh * (_load(h_ptr, r64, s_h, 0, cols, mask, acc) - n) * z * (1.0 - z)
        _store(dgi_ptr, r64, s_dgi, 0, cols, dr, mask)
        _store(dgi_ptr, r64, s_dgi, H, cols, dz, mask)
        _store(dgi_ptr, r64, s_dgi, 2 * H, cols, dn, mask)
        _store(dgh_ptr, r64, s_dgh, 0, cols, dr, mask)
        _store(dgh_ptr, r64, s_dgh, H, cols, dz, mask)
        _store(dgh_ptr, r64, s_dgh, 2 * H, cols, dn * r, mask)
        _store(dhp_ptr, r64, s_dhp, 0, cols, dh * z, mask)
    else:
        h = _load(h_ptr, r64, s_h, 0, cols, mask, acc)
        if MODE == 2:
            dpre = dh * (1.0 - h * h)
        else:
            dpre = tl.where(h > 0, dh, 0.0)
        _store(dgi_ptr, r64, s_dgi, 0, cols, dpre, mask)


# ---------------------------------------------------------------- configs and tuning
# A step's tile: 2 x 128 at 1 warp or 4 x 256 at 4 warps; both give each thread 8 contiguous elements of a row
# (128-bit accesses in 16-bit too). The small tile keeps ~2 programs per SM for the batch x hidden sizes of
# typical recurrent layers (B x H of 32 x 128 is only 4096 units a step). Spilling in unaligned builds (AOT
# check): 16 elements a thread (LSTM backward, sm_80), 8 x 128 at 4 warps (16-bit GRU backward, sm_80) and
# 4 x 64 at 1 warp (16-bit LSTM backward, sm_90: more rows, more row addresses).
SMALL = dict(BLOCK_B=2, BLOCK_H=128, num_warps=1)
LARGE = dict(BLOCK_B=4, BLOCK_H=256, num_warps=4)
SHIPPED = [SMALL, LARGE]
# (8 x 64 at 2 warps spills in the unaligned 16-bit GRU backward, sm_80: not in the space.)
SPACE = [dict(BLOCK_B=1, BLOCK_H=256, num_warps=1), SMALL, dict(BLOCK_B=4, BLOCK_H=128, num_warps=2), LARGE,
         dict(BLOCK_B=2, BLOCK_H=512, num_warps=4)]


def _programs(cfg: dict, B: int, H: int) -> int:
    return triton.cdiv(B, cfg["BLOCK_B"]) * triton.cdiv(H, cfg["BLOCK_H"])


def _heuristic(key: tuple) -> dict:
    """Keys are (mode, dtype name, next_pow2(B), next_pow2(H)): the large tile for wide layers once it still
    gives two programs per SM, else the small one."""
    B, H = key[2], key[3]
    return dict(LARGE if H >= 256 and _programs(LARGE, B, H) >= 2 * tuning.sm_count() else SMALL)


def _space(key: tuple, space: str) -> list[dict]:
    return [dict(c) for c in (SPACE if space == "max" else SHIPPED)]


def _cost(B: int, H: int, G: int, A: int, itemsize: int, fwd: bool) -> Cost:
    # Forward: gi, gh, the state reads, h and c written (twice with STATE), the activations; backward alike.
    tiles = (2 * G + A + 4) if fwd else (G + A + 6)
    return Cost(float(B) * H * tiles * itemsize, 12.0 * B * H * G)


FWD_TUNING = Tunable("rnn_gates.forward", _space, _heuristic,
                     lambda B, H, G, A, itemsize: _cost(B, H, G, A, itemsize, True))
# The backward writes dc_{t-1} over dc_t in place: never timed on a user's buffers.
BWD_TUNING = Tunable("rnn_gates.backward", _space, _heuristic,
                     lambda B, H, G, A, itemsize: _cost(B, H, G, A, itemsize, False), repeatable=False)


# ---------------------------------------------------------------- launch wrappers
def _rows(a: DeviceArray | None, like: DeviceArray) -> tuple[DeviceArray, int]:
    """(array, row stride); a missing operand is a dummy pointer the mode never reads."""
    if a is None:
        return like, 0
    if a.ndim != 2 or (a.shape[1] > 1 and a.strides[1] != 1):
        raise ValueError(f"expected (rows, X) with contiguous rows, got shape {a.shape} strides {a.strides}")
    return a, a.strides[0]


def rnn_gates(mode: int, h: DeviceArray, gi: DeviceArray, gh: DeviceArray, hp: DeviceArray | None = None,
              cp: DeviceArray | None = None, c: DeviceArray | None = None, act: DeviceArray | None = None,
              h_state: DeviceArray | None = None, c_state: DeviceArray | None = None) -> None:
    """One forward step: h (B, H) (and c, LSTM) from gi, gh (B, G*H); hp = h_{t-1} (GRU), cp = c_{t-1} (LSTM).

    act (B, 4*H) receives the activations the backward reads (LSTM/GRU; None: not saved). h_state / c_state
    (both or neither) receive second copies of h and c (the running state of a layer); they may be hp / cp."""
    B, H = h.shape
    if B == 0 or H == 0:
        return
    ops = [_rows(a, gi) for a in (gi, gh, hp, cp, h, h_state, c, c_state, act)]

    def run(cfg):
        grid = (triton.cdiv(B, cfg["BLOCK_B"]), triton.cdiv(H, cfg["BLOCK_H"]))
        rnn_gates_fwd_kernel[grid](*(a for a, _ in ops), B, H, *(s for _, s in ops), MODE=mode,
                                   STATE=h_state is not None, SAVE=act is not None and SAVED[mode] > 0, **cfg)

    key = (mode, gi.dtype.name, next_pow2(B), next_pow2(H))
    # A layer's step reads its state (hp / cp) and writes it in place: never timed on those buffers.
    tuning.launch(FWD_TUNING, key, dict(B=B, H=H, G=GATES[mode], A=SAVED[mode], itemsize=gi.dtype.itemsize), run,
                  repeatable=h_state is None and c_state is None)


def rnn_gates_backward(mode: int, dgi: DeviceArray, rec: DeviceArray, n_rec: int, fb: DeviceArray | None = None,
                       dy: DeviceArray | None = None, act: DeviceArray | None = None, c: DeviceArray | None = None,
                       cp: DeviceArray | None = None, h: DeviceArray | None = None, dc: DeviceArray | None = None,
                       dcp: DeviceArray | None = None, dgh: DeviceArray | None = None,
                       dhp: DeviceArray | None = None) -> None:
    """One backward step: dgi (B, G*H) (GRU: and dgh (B, 3H), dhp (B, H); LSTM: dcp (B, H)) from
    dh_t = rec (first n_rec rows) or fb (rows from n_rec on), plus dy when given; dc = dc_t (LSTM, may be dcp).

    act, c (c_t), cp (c_{t-1}): what the LSTM forward saved; h: h_t (RNN) or h_{t-1} (GRU)."""
    B = dgi.shape[0]
    H = dgi.shape[1] // GATES[mode]
    if B == 0 or H == 0:
        return
    ops = [_rows(a, dgi) for a in (dgi, dgh, dhp, dc, dcp, rec, fb, dy, act, c, cp, h)]

    def run(cfg):
        grid = (triton.cdiv(B, cfg["BLOCK_B"]), triton.cdiv(H, cfg["BLOCK_H"]))
        rnn_gates_bwd_kernel[grid](*(a for a, _ in ops), B, H, n_rec, *(s for _, s in ops), MODE=mode,
                                   HAS_DY=dy is not None, **cfg)

    key = (mode, dgi.dtype.name, next_pow2(B), next_pow2(H))
    tuning.launch(BWD_TUNING, key, dict(B=B, H=H, G=GATES[mode], A=SAVED[mode], itemsize=dgi.dtype.itemsize), run,
                  repeatable=False)


# ---------------------------------------------------------------- NumPy references
def _acc(dtype) -> type:
    return np.float64 if dtype == np.float64 else np.float32


def _np_sig(x: np.ndarray) -> np.ndarray:
    return expit(x)  # SciPy's logistic: correctly rounded, no overflow, in x's dtype


def rnn_gates_ref(mode: int, gi: np.ndarray, gh: np.ndarray, hp: np.ndarray | None = None,
                  cp: np.ndarray | None = None) -> tuple:
    """(h, c or None, act or None) of one forward step, as rnn_gates computes them (act: (B, 4H) for LSTM/GRU)."""
    ct, out = _acc(gi.dtype), gi.dtype
    gi, gh = gi.astype(ct, copy=False), gh.astype(ct, copy=False)
    H = gi.shape[1] // GATES[mode]
    c = act = None
    if mode == LSTM:
        pre = gi + gh
        act = _np_sig(pre)  # one call for the gates (g overwritten with its tanh): no per-gate arrays to join
        act[:, 2 * H:3 * H] = np.tanh(pre[:, 2 * H:3 * H])
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        c = f * cp.astype(ct, copy=False) + i * g
        h = o * np.tanh(c)
    elif mode == GRU:
        act = np.empty((gi.shape[0], 4 * H), ct)
        act[:, :2 * H] = _np_sig(gi[:, :2 * H] + gh[:, :2 * H])
        r, z = act[:, :H], act[:, H:2 * H]
        act[:, 3 * H:] = gh[:, 2 * H:]
        act[:, 2 * H:3 * H] = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        n = act[:, 2 * H:3 * H]
        h = n + z * (hp.astype(ct, copy=False) - n)
    else:
        pre = gi + gh
        h = np.tanh(pre) if mode == RNN_TANH else np.where(pre < 0, 0.0, pre).astype(ct)
    return h.astype(out, copy=False), None if c is None else c.astype(out, copy=False), act


def rnn_gates_backward_ref(mode: int, dh: np.ndarray, act: np.ndarray | None = None, c: np.ndarray | None = None,
                           cp: np.ndarray | None = None, h: np.ndarray | None = None,
                           dc: np.ndarray | None = None) -> tuple:
    """(dgi, dgh, dhp, dcp) of one backward step from the total dh_t (None where the mode has none): dgh and
    dhp for GRU, dcp for LSTM; dgh is dgi itself for LSTM/RNN."""
    ct = _acc(dh.dtype)
    dh = dh.astype(ct, copy=False)
    H = dh.shape[1]
    dgh = dhp = dcp = None
    if mode == LSTM:
        a = act.astype(ct, copy=False)
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        tc = np.tanh(c.astype(ct, copy=False))
        dct = dc.astype(ct, copy=False) + dh * o * (1 - tc * tc)
        dgi = np.empty((dh.shape[0], 4 * H), ct)
        dgi[:, :H] = dct * g * i * (1 - i)
        dgi[:, H:2 * H] = dct * cp.astype(ct, copy=False) * f * (1 - f)
        dgi[:, 2 * H:3 * H] = dct * i * (1 - g * g)
        dgi[:, 3 * H:] = dh * tc * o * (1 - o)
        dcp = dct * f
    elif mode == GRU:
        a = act.astype(ct, copy=False)
        r, z, n, hn = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        dn = dh * (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        dz = dh * (h.astype(ct, copy=False) - n) * z * (1 - z)
        dgi = np.concatenate([dr, dz, dn], axis=1)
        dgh = np.concatenate([dr, dz, dn * r], axis=1)
        dhp = dh * z
    else:
        hh = h.astype(ct, copy=False)
        dgi = dh * (1 - hh * hh) if mode == RNN_TANH else np.where(hh > 0, dh, 0.0).astype(ct)
    return dgi, dgh, dhp, dcp


# ---------------------------------------------------------------- AOT / tuning declarations
_T = {"fp32": "*fp32", "fp16": "*fp16", "bf16": "*bf16", "fp64": "*fp64"}
_FWD_PTRS = ("gi_ptr", "gh_ptr", "hp_ptr", "cp_ptr", "h_ptr", "hs_ptr", "c_ptr", "cs_ptr", "act_ptr")
_FWD_INTS = ("B", "H", "s_gi", "s_gh", "s_hp", "s_cp", "s_h", "s_hs", "s_c", "s_cs", "s_act")
_BWD_PTRS = ("dgi_ptr", "dgh_ptr", "dhp_ptr", "dc_ptr", "dcp_ptr", "rec_ptr", "fb_ptr", "dy_ptr", "act_ptr", "c_ptr",
             "cp_ptr", "h_ptr")
_BWD_INTS = ("B", "H", "n_rec", "s_dgi", "s_dgh", "s_dhp", "s_dc", "s_dcp", "s_rec", "s_fb", "s_dy", "s_act", "s_c",
             "s_cp", "s_h")


def _spec(fwd: bool, mode: int, dtype: str) -> KernelSpec:
    ptrs, ints = (_FWD_PTRS, _FWD_INTS) if fwd else (_BWD_PTRS, _BWD_INTS)
    sig = {**{p: _T[dtype] for p in ptrs}, **{n: "i32" for n in ints}}
    name = next(k for k, v in MODES.items() if v == mode).lower()
    flags = dict(STATE=True, SAVE=True) if fwd else dict(HAS_DY=True)
    return KernelSpec(f"rnn_gates.{'forward' if fwd else 'backward'}[{name}:{dtype}]",
                      rnn_gates_fwd_kernel if fwd else rnn_gates_bwd_kernel, sig, dict(MODE=mode, **flags),
                      [dict(c) for c in SHIPPED], [dict(c) for c in SPACE], unit_args=())


# Every mode in fp32, LSTM and GRU (the most registers) also in bf16 and fp16 (cuda has no fp64 matmul: fp64
# steps run on the cpu; the kernels take fp64 in the interpreter tests).
SPECS = [_spec(fwd, mode, dtype) for fwd in (True, False)
         for mode, dtype in [(LSTM, "fp32"), (GRU, "fp32"), (RNN_TANH, "fp32"), (RNN_RELU, "fp32"), (LSTM, "bf16"),
                             (GRU, "bf16"), (LSTM, "fp16"), (GRU, "fp16")]]
