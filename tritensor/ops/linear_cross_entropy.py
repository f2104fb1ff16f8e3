"""linear_cross_entropy: cross_entropy(linear(input, weight, bias), target) without the (N, V) logits.

A tritensor extension (PyTorch has no such function), after Liger-Kernel's fused linear cross entropy. The
rows are processed in chunks of `chunk_size`; per chunk:

  1. logits_c = x_c @ W^T (+ b), (chunk, V), with the matmul op (kernels/matmul.py on cuda);
  2. the cross-entropy kernel (kernels/loss.py) writes the chunk's per-row loss, target weight and logsumexp;
  3. when a gradient is wanted, the cross-entropy backward kernel overwrites logits_c with d loss_sum / d
     logits_c (each program reads a tile of logits and writes the same tile: in place is safe), and
     grad_x_c = grad_logits_c @ W, grad_W += grad_logits_c^T @ x_c, grad_b += sum_rows grad_logits_c.

So at most one chunk's logits exist at a time: memory O(chunk * V + V * D) instead of O(N * V). For
reduction "sum" / "mean" the gradients are computed in the forward, for the sum of the losses, and the
backward only scales them by the incoming gradient (divided by the number of counted targets for "mean",
known after the last chunk); for "none" the per-row incoming gradient is only known in backward, which
then recomputes each chunk's logits the same way. Gradients are first-order only (no create_graph).
The cpu path does the same chunking in NumPy (the loss references of kernels/loss.py).

16-bit inputs: logits and their gradients are in the input dtype (as the unfused composition); the cuda
path accumulates grad_weight in the weight's dtype, the cpu path in fp32.
"""

from __future__ import annotations

import numpy as np

from .. import device_errors
from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..kernels import loss as KL
from ..tensor import Tensor
from .dispatch import check_same_device
from .loss import check_reduction
from .matmul import _C10_NAMES, addmm, check_dtype, mm
from .unary import check_tensor, torch_type_name

__all__: list[str] = []

_OUT_OF_BOUNDS = "Target {index} is out of bounds."


CPU_MIN_CHUNK = 64


def default_chunk_size(n: int, d: int, v: int, device_type: str = "cuda") -> int:
    """Liger's choice: about as many logits per chunk as the input holds elements (n * d), a power of two.

    On cpu at least CPU_MIN_CHUNK rows: every chunk adds a (V, D) product into grad_weight, which on a CPU
    costs a pass over V * D floats (on a GPU a fraction of the chunk's matmul), so few, larger chunks."""
    inc = max(1, -(-v // max(d, 1)))
    rows = max(1, -(-n // inc))
    chunk = 1 << (rows - 1).bit_length()
    return max(chunk, CPU_MIN_CHUNK) if device_type == "cpu" else chunk


def _acc(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


# ---------------------------------------------------------------- cpu: NumPy, chunked
def _cpu_chunks(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, t: np.ndarray, args, chunk: int,
                row_grad: np.ndarray | None, want_grads: bool):
    """(per-row loss, per-row target weight, grad_x, grad_w, grad_b) for the summed loss (row_grad None) or
    for sum_i row_grad[i] * loss_i; grads None unless want_grads."""
    ignore_index, eps = args
    ct = np.float64 if x.dtype == np.float64 else np.float32
    N = x.shape[0]
    loss = np.zeros(N, ct)
    wt = np.zeros(N, ct)
    gx = np.empty(x.shape, x.dtype) if want_grads else None
    gw = np.zeros(w.shape, ct) if want_grads else None
    gb = np.zeros(w.shape[0], ct) if want_grads and b is not None else None
    wc = w.astype(ct, copy=False)
    prod = np.empty(w.shape, ct) if want_grads else None  # grad_logits^T @ x_c, reused by every chunk
    for s in range(0, N, chunk):
        e = min(s + chunk, N)
        xc = x[s:e].astype(ct, copy=False)
        # PyTorch's matmul never warns; OpenBLAS's small-matrix kernels can raise a stale "invalid" flag on
        # finite inputs (seen once in CI on a 1 x 5 @ 5 x 11 fp32 product), which NumPy would turn into a warning.
        with np.errstate(invalid="ignore", over="ignore"):
            logits = xc @ wc.T
        if b is not None:
            logits += b.astype(ct, copy=False)
        logits = logits.astype(x.dtype, copy=False)
        loss[s:e], wt[s:e], _ = KL.cross_entropy_rows_ref(logits, t[s:e], None, ignore_index, eps)
        if not want_grads:
            continue
        if row_grad is None:
            gl = KL.cross_entropy_backward_ref(np.asarray(1.0, ct), logits, t[s:e], None, ignore_index, "sum", eps)
        else:
            gl = KL.cross_entropy_backward_ref(row_grad[s:e], logits, t[s:e], None, ignore_index, "none", eps)
        gl = gl.astype(ct, copy=False)
        with np.errstate(invalid="ignore", over="ignore"):
            gx[s:e] = (wc.T @ gl.T).T  # as W^T G^T: BLAS is slow on (few rows) x (long K) products
            gw += np.matmul(gl.T, xc, out=prod)
        if gb is not None:
            gb += gl.sum(0)
    return loss, wt, gx, gw, gb


# ---------------------------------------------------------------- cuda: matmul op + loss kernels, chunked
def _cuda_chunks(x: Tensor, w: Tensor, b: Tensor | None, t: Tensor, args, chunk: int, row_grad: Tensor | None,
                 want_grads: bool):
    """_cpu_chunks on cuda: Tensors, the loss kernels writing into per-row buffers."""
    ignore_index, eps = args
    N = x._shape[0]
    acc = _acc(x.dtype)
    loss = Tensor._empty((N,), acc, x.device)
    wt = Tensor._empty((N,), acc, x.device)
    lse = Tensor._empty((N,), acc, x.device)
    gx = Tensor._empty(x._shape, x.dtype, x.device) if want_grads else None
    gw = gb = None
    ones = Tensor._full((1,), 1.0, acc, x.device)
    wT = w.t()
    for s in range(0, N, chunk):
        e = min(s + chunk, N)
        xc, tc = x[s:e], t[s:e]
        logits = mm(xc, wT) if b is None else addmm(b, xc, wT)
        lv, tv = logits._dev(), tc._dev()
        code = device_errors.expect(x.device, IndexError, _OUT_OF_BOUNDS)  # marks the word pending: every launch
        KL.cross_entropy(loss[s:e]._dev(), wt[s:e]._dev(), lse[s:e]._dev(), lv, tv, None, ignore_index, eps, False,
                         err=device_errors.error_word(x.device), err_code=code)
        device_errors.after_launch(x.device)
        if not want_grads:
            continue
        g = ones._dev().view_as((e - s,), (0,)) if row_grad is None else row_grad[s:e]._dev()
        KL.cross_entropy_backward(lv, g, None, lv, tv, None, lse[s:e]._dev(), ignore_index, eps, False)
        gx[s:e].copy_(mm(logits, w))
        gw = mm(logits.t(), xc) if gw is None else addmm(gw, logits.t(), xc)
        if b is not None:
            gb = logits.sum(0) if gb is None else gb + logits.sum(0)
    return loss, wt, gx, gw, gb


def _chunks(x: Tensor, w: Tensor, b: Tensor | None, t: Tensor, args, chunk: int, row_grad, want_grads: bool):
    if x.device.type == "cuda":
        return _cuda_chunks(x, w, b, t, args, chunk, row_grad, want_grads)
    bh = None if b is None else b._host()
    rg = None if row_grad is None else row_grad._host()
    loss, wt, gx, gw, gb = _cpu_chunks(x._host(), w._host(), bh, t._host(), args, chunk, rg, want_grads)
    wrap = (lambda a, dt: None if a is None else Tensor._wrap(a.astype(dt.np, copy=False)))
    return (Tensor._wrap(loss), Tensor._wrap(wt), wrap(gx, x.dtype), wrap(gw, w.dtype),
            wrap(gb, b.dtype if b is not None else x.dtype))


class LinearCrossEntropy(Function):
    """Arguments validated: x (N, D), weight (V, D), bias (V,) or None, target int64 (N,)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, ignore_index: int,
                label_smoothing: float, reduction: str, chunk: int) -> Tensor:
        needs = ctx.needs_input_grad or ()
        want = reduction != "none" and any(needs[:3])
        args = (ignore_index, label_smoothing)
        with no_grad():
            loss, wt, gx, gw, gb = _chunks(x, weight, bias, target, args, chunk, None, want)
            if reduction == "none":
                out = loss.to(x.dtype).reshape(target._shape)
                denom = None
            else:
                total = loss.sum()
                denom = wt.sum() if reduction == "mean" else None
                out = (total / denom if denom is not None else total).to(x.dtype)
        ctx.args = (args, reduction, chunk)
        ctx.grads = (gx, gw, gb, denom)
        ctx.save_for_backward(x, weight, bias, target)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias, target = ctx.saved_tensors
        args, reduction, chunk = ctx.args
        with no_grad():
            if reduction == "none":
                _, _, gx, gw, gb = _chunks(x, weight, bias, target, args, chunk,
                                           grad.reshape(-1).to(_acc(x.dtype)).contiguous(), True)
            else:
                gx, gw, gb, denom = ctx.grads
                scale = grad.to(_acc(x.dtype))
                if denom is not None:
                    scale = scale / denom
                gx, gw = (gx * scale).to(x.dtype), (gw * scale).to(weight.dtype)
                gb = None if gb is None else (gb * scale).to(bias.dtype)
        # ctx.grads stay: a retained graph (retain_graph=True, gradcheck) backpropagates again
        return gx, gw, gb, None, None, None, None, None


def _check(input: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None) -> None:
    for name, t in (("input", input), ("weight", weight), ("target", target)):
        check_tensor(name, t)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"linear_cross_entropy\" not implemented for '{torch_type_name(input.dtype)}'")
    check_dtype("linear", input)  # the matmul kernels' dtypes (no float64 on cuda)
    if input.ndim != 2 or weight.ndim != 2:
        raise ValueError(f"linear_cross_entropy: expected input (N, D) and weight (V, D), got input of shape "
                         f"{list(input.shape)} and weight of shape {list(weight.shape)}")
    if input._shape[1] != weight._shape[1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input._shape[0]}x{input._shape[1]} and "
                           f"{weight._shape[1]}x{weight._shape[0]})")
    if weight.dtype is not input.dtype or (bias is not None and bias.dtype is not input.dtype):
        other = weight.dtype if weight.dtype is not input.dtype else bias.dtype
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_C10_NAMES[input.dtype.name]} != "
                           f"{_C10_NAMES[other.name]}")
    if bias is not None and (bias.ndim != 1 or bias._shape[0] != weight._shape[0]):
        raise RuntimeError(f"linear_cross_entropy: bias of shape {list(bias.shape)} for {weight._shape[0]} classes")
    if target.dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {torch_type_name(target.dtype)}")
    if target.ndim != 1 or target._shape[0] != input._shape[0]:
        raise ValueError(f"Expected input batch_size ({input._shape[0]}) to match target batch_size "
                         f"({target._shape[0] if target.ndim else 0}).")
    check_same_device(*(t for t in (input, weight, bias, target) if t is not None))


def linear_cross_entropy(input: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None = None,
                         reduction: str = "mean", ignore_index: int = -100, label_smoothing: float = 0.0,
                         chunk_size: int | None = None) -> Tensor:
    """cross_entropy(linear(input, weight, bias), target, ...) for input (N, D), weight (V, D), class-index target
    (N,), computed `chunk_size` rows at a time so that the (N, V) logits never exist (default: Liger's size,
    about N * D logits per chunk; at least 64 rows on cpu). Values and gradients equal the unfused composition's."""
    check_reduction(reduction)
    _check(input, weight, target, bias)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    N, Dm = input._shape
    chunk = default_chunk_size(N, Dm, weight._shape[0], input.device.type) if chunk_size is None else int(chunk_size)
    if chunk <= 0:
        raise ValueError(f"linear_cross_entropy: chunk_size must be positive, got {chunk}")
    x = input if input.is_contiguous() else input.contiguous()
    return LinearCrossEntropy.apply(x, weight, None if bias is None else bias, target.detach().contiguous(),
                                    int(ignore_index), float(label_smoothing), reduction, chunk)
