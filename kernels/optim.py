"""Fused optimizer steps: SGD and Adam/AdamW, one launch per parameter, updating it and its state in place.

PyTorch's unfused step reads and writes the parameter and each state buffer several times (one
kernel per `mul_`/`add_`/`lerp_`/`addcmul_`/`sqrt`/`addcdiv_`); here one pass loads the parameter, its
gradient and state once, does the whole update in registers and stores the results. The math
follows PyTorch's `_single_tensor_sgd` / `_single_tensor_adam` operation by operation (including
`lerp`'s two-sided formula), so results match within rounding. 16-bit parameters and state are
upcast to fp32 for the math; fp64 stays fp64. Scalar hyper-parameters reach the kernel as fp32.

Operands are flat and contiguous (the Tensor side copies the rare non-contiguous parameter).
The NumPy references do the same update in place on host arrays (the cpu path of tritensor.optim).

Accepted dtypes: param/state fp32, fp16, bf16, fp64; grad any float dtype (converted on load).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

BLOCK = 1024
NUM_WARPS = 4
# Elementwise over flat operands: wider blocks amortise the per-program setup on large parameters, smaller
# ones spread small parameters over more SMs. Steps update their operands in place, so the tuner never
# times them on a user's tensors (repeatable=False).
_SPACE = [dict(BLOCK=BLOCK, num_warps=NUM_WARPS), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8),
          dict(BLOCK=4096, num_warps=8)]


def _step_cost(n: int, itemsize: int, grad_itemsize: int, states: int) -> Cost:
    """Reads the gradient and reads and writes the parameter and each state tensor once."""
    return Cost(float(n) * (grad_itemsize + 2 * itemsize * (1 + states)), float(n) * (4 + 4 * states))


# Keys: (constexpr flags..., param dtype, grad dtype, next_pow2(n)).
SGD_TUNING = Tunable("optim.sgd", _SPACE, lambda key: dict(_SPACE[0]), _step_cost, repeatable=False)
ADAM_TUNING = Tunable("optim.adam", _SPACE, lambda key: dict(_SPACE[0]), _step_cost, repeatable=False)

# weight-decay modes of the Adam kernel
WD_NONE, WD_L2, WD_DECOUPLED = 0, 1, 2


@triton.jit
def _lerp(start, end, weight):
    # PyTorch's lerp: the formula on the side of the nearer endpoint (exact at weight 0 and 1).
    return tl.where(tl.abs(weight) < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))


@triton.jit
def sgd_kernel(
    param_ptr, grad_ptr, buf_ptr,  # buf (momentum buffer) unused unless MOMENTUM
    n,  # elements
    lr, weight_decay, momentum, dampening,
    MOMENTUM: tl.constexpr,  # momentum != 0
    FIRST: tl.constexpr,  # the buffer does not exist yet: it becomes a copy of the (decayed) grad
    NESTEROV: tl.constexpr,
    HAS_WD: tl.constexpr,
    MAXIMIZE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    p = compute_type(tl.load(param_ptr + offs, mask=mask, other=0))
    g = compute_type(tl.load(grad_ptr + offs, mask=mask, other=0)).to(p.dtype)
    if MAXIMIZE:
        g = -g
    if HAS_WD:
        g = g + weight_decay * p
    if MOMENTUM:
        if FIRST:
            buf = g
        else:
            buf = compute_type(tl.load(buf_ptr + offs, mask=mask, other=0)).to(p.dtype)
            buf = buf * momentum + (1 - dampening) * g
        tl.store(buf_ptr + offs, cast_to(buf, buf_ptr.dtype.element_ty), mask=mask)
        if NESTEROV:
            g = g + momentum * buf
        else:
            g = buf
    p = p + (-lr) * g
    tl.store(param_ptr + offs, cast_to(p, param_ptr.dtype.element_ty), mask=mask)


@triton.jit
def adam_kernel(
    param_ptr, grad_ptr, exp_avg_ptr, exp_avg_sq_ptr, max_exp_avg_sq_ptr,  # the last unused unless AMSGRAD
    n,  # elements
    weight_decay,  # L2: added to the gradient as weight_decay * param
    decay_factor,  # decoupled (AdamW): param *= 1 - lr * weight_decay
    beta1_weight,  # 1 - beta1: exp_avg.lerp_(grad, 1 - beta1)
    beta2, one_minus_beta2,
    step_size,  # lr / (1 - beta1 ** step)
    bias_correction2_sqrt,  # sqrt(1 - beta2 ** step)
    eps,
    WD: tl.constexpr,  # WD_NONE, WD_L2 or WD_DECOUPLED
    AMSGRAD: tl.constexpr,
    MAXIMIZE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    p = compute_type(tl.load(param_ptr + offs, mask=mask, other=0))
    g = compute_type(tl.load(grad_ptr + offs, mask=mask, other=0)).to(p.dtype)
    if MAXIMIZE:
        g = -g
    if WD == 1:
        g = g + weight_decay * p
    if WD == 2:
        p = p * decay_factor
    m = compute_type(tl.load(exp_avg_ptr + offs, mask=mask, other=0)).to(p.dtype)
    v = compute_type(tl.load(exp_avg_sq_ptr + offs, mask=mask, other=0)).to(p.dtype)
    m = _lerp(m, g, beta1_weight)
    v = v * beta2 + one_minus_beta2 * g * g
    tl.store(exp_avg_ptr + offs, cast_to(m, exp_avg_ptr.dtype.element_ty), mask=mask)
    tl.store(exp_avg_sq_ptr + offs, cast_to(v, exp_avg_sq_ptr.dtype.element_ty), mask=mask)
    if AMSGRAD:
        vmax = compute_type(tl.load(max_exp_avg_sq_ptr + offs, mask=mask, other=0)).to(p.dtype)
        vmax = tl.maximum(vmax, v)
        tl.store(max_exp_avg_sq_ptr + offs, cast_to(vmax, max_exp_avg_sq_ptr.dtype.element_ty), mask=mask)
        v = vmax
    # Correctly rounded sqrt and division, as PyTorch's sqrt / div kernels are (fp64's plain ones already are).
    if p.dtype.is_fp64():
        denom = tl.sqrt(v) / bias_correction2_sqrt + eps
        p = p + (-step_size) * (m / denom)
    else:
        denom = tl.div_rn(tl.sqrt_rn(v), tl.full([BLOCK], bias_correction2_sqrt, p.dtype)) + eps
        p = p + (-step_size) * tl.div_rn(m, denom)
    tl.store(param_ptr + offs, cast_to(p, param_ptr.dtype.element_ty), mask=mask)


def _check_flat(*arrays: DeviceArray) -> int:
    n = arrays[0].numel()
    for a in arrays:
        if not a.is_contiguous() or a.numel() != n:
            raise ValueError(f"optimizer kernels take contiguous operands of one size; got {a}")
    return n


def sgd_step(param: DeviceArray, grad: DeviceArray, buf: DeviceArray | None, *, lr: float, momentum: float,
             dampening: float, weight_decay: float, nesterov: bool, maximize: bool, first: bool) -> None:
    """One SGD step on one parameter in place; buf (the momentum buffer) is written when momentum != 0,
    initialised from the gradient when `first`."""
    has_momentum = momentum != 0
    if has_momentum and buf is None:
        raise ValueError("sgd_step: momentum needs a buffer")
    buf = buf if has_momentum else param
    n = _check_flat(param, grad, buf)
    if n == 0:
        return
    flags = dict(MOMENTUM=has_momentum, FIRST=bool(first), NESTEROV=bool(nesterov), HAS_WD=weight_decay != 0,
                 MAXIMIZE=bool(maximize))

    def run(cfg):
        sgd_kernel[(triton.cdiv(n, cfg["BLOCK"]),)](
            param, grad, buf, n, float(lr), float(weight_decay), float(momentum), float(dampening), **flags, **cfg)

    key = (*flags.values(), param.dtype.name, grad.dtype.name, next_pow2(n))
    sizes = dict(n=n, itemsize=param.dtype.itemsize, grad_itemsize=grad.dtype.itemsize, states=int(has_momentum))
    tuning.launch(SGD_TUNING, key, sizes, run, repeatable=False)


def adam_scalars(step: int, lr: float, beta1: float, beta2: float) -> tuple[float, float]:
    """(step_size, bias_correction2_sqrt), computed in Python floats as PyTorch does."""
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    return lr / bias_correction1, bias_correction2 ** 0.5


def adam_step(param: DeviceArray, grad: DeviceArray, exp_avg: DeviceArray, exp_avg_sq: DeviceArray,
              max_exp_avg_sq: DeviceArray | None, *, step: int, lr: float, beta1: float, beta2: float, eps: float,
              weight_decay: float, decoupled: bool, amsgrad: bool, maximize: bool) -> None:
    """One Adam (decoupled=False) or AdamW (decoupled=True) step on one parameter in place; `step` is the
    step count after this step's increment (1 on the first step)."""
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError("adam_step: amsgrad needs max_exp_avg_sq")
    vmax = max_exp_avg_sq if amsgrad else exp_avg_sq
    n = _check_flat(param, grad, exp_avg, exp_avg_sq, vmax)
    if n == 0:
        return
    step_size, bc2_sqrt = adam_scalars(step, lr, beta1, beta2)
    wd = WD_NONE if weight_decay == 0 else (WD_DECOUPLED if decoupled else WD_L2)
    flags = dict(WD=wd, AMSGRAD=bool(amsgrad), MAXIMIZE=bool(maximize))

    def run(cfg):
        adam_kernel[(triton.cdiv(n, cfg["BLOCK"]),)](
            param, grad, exp_avg, exp_avg_sq, vmax, n, float(weight_decay), float(1 - lr * weight_decay),
            float(1 - beta1), float(beta2), float(1 - beta2), float(step_size), float(bc2_sqrt), float(eps),
            **flags, **cfg)

    key = (*flags.values(), param.dtype.name, grad.dtype.name, next_pow2(n))
    sizes = dict(n=n, itemsize=param.dtype.itemsize, grad_itemsize=grad.dtype.itemsize, states=2 + int(amsgrad))
    tuning.launch(ADAM_TUNING, key, sizes, run, repeatable=False)


# ---------------------------------------------------------------- NumPy references (in place)
def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _load(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a if a.dtype == dtype else a.astype(dtype)


def _store(dst: np.ndarray, value: np.ndarray) -> None:
    if value is not dst:
        np.copyto(dst, value, casting="unsafe")


def sgd_step_ref(param: np.ndarray, grad: np.ndarray, buf: np.ndarray | None, *, lr: float, momentum: float,
                 dampening: float, weight_decay: float, nesterov: bool, maximize: bool, first: bool) -> None:
    """PyTorch's SGD step on host arrays, in place (param and buf).

    When param, grad and buf already have the compute dtype, buffers are updated with in-place ufuncs:
    the same operations in the same order (so the same roundings) as the out-of-place formulas, without
    param-sized temporaries.
    """
    ct = _compute_dtype(param.dtype)
    native = param.dtype == ct and (buf is None or buf.dtype == ct)
    p = _load(param, ct)
    g = _load(grad, ct)
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        if native:
            if first:
                np.copyto(buf, g)
            else:
                buf *= momentum
                buf += g if dampening == 0 else (1 - dampening) * g
            b = buf
        else:
            b = g.copy() if first else _load(buf, ct) * momentum + (1 - dampening) * g
            _store(buf, b)
        g = g + momentum * b if nesterov else b
    if p is param:
        param += (-lr) * g
    else:
        _store(param, p + (-lr) * g)


def _lerp_ref(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def adam_step_ref(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                  max_exp_avg_sq: np.ndarray | None, *, step: int, lr: float, beta1: float, beta2: float, eps: float,
                  weight_decay: float, decoupled: bool, amsgrad: bool, maximize: bool) -> None:
    """PyTorch's Adam/AdamW step on host arrays, in place (param and state); `step` counts this step."""
    ct = _compute_dtype(param.dtype)
    states = (exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ())
    if param.dtype == ct and all(s.dtype == ct for s in states):
        _adam_in_place(param, grad.astype(ct, copy=False), exp_avg, exp_avg_sq, max_exp_avg_sq, step=step, lr=lr,
                       beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, decoupled=decoupled,
                       amsgrad=amsgrad, maximize=maximize)
        return
    p = _load(param, ct)
    g = _load(grad, ct)
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    m = _lerp_ref(_load(exp_avg, ct), g, 1 - beta1)
    v = _load(exp_avg_sq, ct) * beta2 + (1 - beta2) * g * g
    _store(exp_avg, m)
    _store(exp_avg_sq, v)
    if amsgrad:
        v = np.maximum(_load(max_exp_avg_sq, ct), v)
        _store(max_exp_avg_sq, v)
    step_size, bc2_sqrt = adam_scalars(step, lr, beta1, beta2)
    denom = np.sqrt(v) / bc2_sqrt + eps
    _store(param, p + (-step_size) * (m / denom))


def _adam_in_place(param, g, m, v, vmax, *, step, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
                   maximize) -> None:
    """adam_step_ref's formulas, operation for operation, as in-place ufuncs on one scratch buffer."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    tmp = np.subtract(g, m)  # lerp(m, g, w): m + w * (g - m), or g - (g - m) * (1 - w)
    w = 1 - beta1
    if abs(w) < 0.5:
        tmp *= w
        m += tmp
    else:
        tmp *= 1 - w
        np.subtract(g, tmp, out=m)
    np.multiply(g, 1 - beta2, out=tmp)  # v = v * beta2 + (1 - beta2) * g * g
    tmp *= g
    v *= beta2
    v += tmp
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    step_size, bc2_sqrt = adam_scalars(step, lr, beta1, beta2)
    np.sqrt(v, out=tmp)  # denom = sqrt(v) / bc2_sqrt + eps
    tmp /= bc2_sqrt
    tmp += eps
    np.divide(m, tmp, out=tmp)  # param += -step_size * (m / denom)
    tmp *= -step_size
    param += tmp


# ---------------------------------------------------------------- declarations for the tuner / AOT check
def _sgd_signature(dtype: str) -> dict[str, str]:
    sig = {"param_ptr": f"*{dtype}", "grad_ptr": f"*{dtype}", "buf_ptr": f"*{dtype}", "n": "i32"}
    sig.update({k: "fp32" for k in ("lr", "weight_decay", "momentum", "dampening")})
    return sig


def _adam_signature(dtype: str) -> dict[str, str]:
    sig = {k: f"*{dtype}" for k in ("param_ptr", "grad_ptr", "exp_avg_ptr", "exp_avg_sq_ptr", "max_exp_avg_sq_ptr")}
    sig["n"] = "i32"
    sig.update({k: "fp32" for k in ("weight_decay", "decay_factor", "beta1_weight", "beta2", "one_minus_beta2",
                                    "step_size", "bias_correction2_sqrt", "eps")})
    return sig


_CONFIG = _SPACE[:1]  # the heuristic's

SPECS = [
    KernelSpec(f"optim.sgd[{dtype}:{name}]", sgd_kernel, _sgd_signature(dtype),
               dict(MOMENTUM=mom, FIRST=False, NESTEROV=nest, HAS_WD=True, MAXIMIZE=False), _CONFIG, _SPACE)
    for dtype in ("fp32", "bf16", "fp16")
    for name, mom, nest in (("momentum", True, False), ("nesterov", True, True), ("plain", False, False))
] + [
    KernelSpec(f"optim.adam[{dtype}:{name}]", adam_kernel, _adam_signature(dtype),
               dict(WD=wd, AMSGRAD=ams, MAXIMIZE=False), _CONFIG, _SPACE)
    for dtype in ("fp32", "bf16", "fp16")
    for name, wd, ams in (("adamw", WD_DECOUPLED, False), ("adam", WD_NONE, False), ("amsgrad", WD_L2, True))
]
