"""matmul, mm, bmm, addmm, baddbmm, mv, dot, vdot, outer and linear over kernels/matmul.py (einsum, built on
these, is ops/einsum.py).

Every product reduces to one autograd Function, `Matmul`: alpha * a @ b + beta * c_in + bias for
operands of at least two dims whose batch dims broadcast. cpu runs np.matmul (16-bit operands in
fp32, rounded once); cuda runs the Triton kernel with every operand passed by its strides, so
transposed operands and broadcast batches (stride 0) cost no copy, and the backward is the same op on
transposed views (dA = dC @ B^T, dB = A^T @ dC), written with tensor ops so create_graph works. On sm_90+
operands that tensor descriptors can describe go to the persistent TMA kernel (kernels/matmul_tma.py),
the others to the pointer kernel (`KM.choose_path`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import matmul as KM
from ..kernels import matmul_tma as KT
from ..kernels import tuning
from ..kernels.device_array import contiguous_layout
from ..kernels.strided import collapse
from ..tensor import Tensor, strided
from .autocast import op_hook
from .copy import to_out
from .dispatch import broadcast_shapes, check_same_device, expanded, sum_to
from .linear import host_product, linear_rows
from .views import View, reshape, view_strides

# c10's scalar type names, as PyTorch's dtype-mismatch messages print them.
_C10_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}
_CUDA_DTYPES = ("float16", "bfloat16", "float32")


# ---------------------------------------------------------------- the one Function
class Matmul(Function):
    """alpha * a @ b + beta * c_in + bias; a (..., M, K), b (..., K, N), batch dims broadcast.

    bias (N,) uses the kernel's bias epilogue; c_in broadcasts to the output (ignored when beta == 0,
    as in PyTorch, though it still gets a gradient of beta * grad).
    """

    differentiable_forward = False

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, bias: Tensor | None, c_in: Tensor | None, alpha, beta) -> Tensor:
        need = ctx.needs_input_grad
        if need:
            # dA needs only B and dB only A: keep no more alive than the backward will read.
            ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
            ctx.shapes = (a._shape, b._shape, None if c_in is None else c_in._shape)
            ctx.strides = (a.stride(), b.stride())
            ctx.alpha, ctx.beta = alpha, beta
        if a.device.type == "cpu":
            return _forward_cpu(a, b, bias, c_in, alpha, beta)
        return _forward_cuda(a, b, bias, c_in, alpha, beta)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        shape_a, shape_b, shape_c = ctx.shapes
        strides_a, strides_b = ctx.strides
        need_a, need_b, need_bias, need_c = ctx.needs_input_grad[:4]
        alpha = ctx.alpha
        grad_a = grad_b = grad_bias = grad_c = None
        if need_a:
            if _column_major(shape_a, strides_a):
                grad_a = _product(b, grad.mT, alpha).mT  # the grad keeps a's (transposed) layout
            else:
                grad_a = _product(grad, b.mT, alpha)
            grad_a = sum_to(grad_a, shape_a)
        if need_b:
            if len(shape_b) == 2 and grad.ndim > 2:
                # b was shared by every batch entry: one (K, rows) @ (rows, N) product sums the batch.
                k, n = shape_b
                a2, g2 = a.reshape(-1, k), grad.reshape(-1, n)
            else:
                a2, g2 = a, grad
            if _column_major(shape_b, strides_b):
                grad_b = _product(g2.mT, a2, alpha).mT  # keeps a transposed weight's grad contiguous
            else:
                grad_b = _product(a2.mT, g2, alpha)
            grad_b = sum_to(grad_b, shape_b)
        if need_bias:
            grad_bias = grad.sum(tuple(range(grad.ndim - 1))) if grad.ndim > 1 else grad
        if need_c:
            grad_c = sum_to(grad if ctx.beta == 1 else grad * ctx.beta, shape_c)
        return grad_a, grad_b, grad_bias, grad_c, None, None

    def backward_fused(self, grad):
        """`backward` when no graph is requested: 2-D float32/float64 cpu operands (every F.linear of a matrix)
        take their gradients straight from NumPy; the rest run the tensor-op backward."""
        if (grad.device.type == "cpu" and grad.ndim == 2 and (grad.dtype is D.float32 or grad.dtype is D.float64)
                and len(self.shapes[0]) == 2 and len(self.shapes[1]) == 2 and not self.needs_input_grad[3]):
            return _backward_cpu(self, grad)
        return type(self).backward(self, grad)


class Mm(Matmul):
    """Matmul under PyTorch's grad_fn names (MmBackward0, AddmmBackward0, BmmBackward0, BaddbmmBackward0)."""


class Addmm(Matmul):
    pass


class Bmm(Matmul):
    pass


class Baddbmm(Matmul):
    pass


def _apply(a: Tensor, b: Tensor, bias: Tensor | None, c_in: Tensor | None, alpha, beta) -> Tensor:
    batched = a.ndim > 2 or b.ndim > 2
    plain = bias is None and c_in is None
    fn = (Bmm if plain else Baddbmm) if batched else (Mm if plain else Addmm)
    return fn.apply(a, b, bias, c_in, alpha, beta)


def _column_major(shape: tuple, strides: tuple) -> bool:
    """True for a (..., R, C) operand stored transposed (rows contiguous), e.g. weight.t() in linear."""
    if len(shape) < 2 or shape[-2] <= 1 or shape[-1] <= 1:
        return False
    return strides[-2] == 1 and strides[-1] != 1


def _product(a: Tensor, b: Tensor, alpha=1) -> Tensor:
    return _apply(a, b, None, None, alpha, 0)


# ---------------------------------------------------------------- cpu: NumPy
def _forward_cpu(a: Tensor, b: Tensor, bias, c_in, alpha, beta) -> Tensor:
    x = a._np if a._np is not None else a._host()
    y = b._np if b._np is not None else b._host()
    return host_product(x, y, a.dtype, bias, c_in, alpha, beta)


def _transposed(arr: np.ndarray, dtype: D.dtype) -> Tensor:
    """The (..., C, R) transposed view of a fresh contiguous (..., R, C) product: a gradient that keeps its
    operand's column-major layout (as the tensor-op backward's `.mT` of a product)."""
    return Tensor._fresh(arr, dtype).mT


def _backward_cpu(node: Matmul, grad: Tensor) -> tuple:
    """Matmul.backward's gradients for 2-D float32/float64 operands, straight from NumPy (same products, same
    layouts): F.linear's backward on cpu without the view and product nodes the tensor-op form builds."""
    a, b = node.saved_tensors
    shape_a, shape_b, _ = node.shapes
    strides_a, strides_b = node.strides
    need_a, need_b, need_bias = node.needs_input_grad[:3]
    alpha, dtype = node.alpha, grad.dtype
    g = grad._np if grad._np is not None else grad._host()
    grad_a = grad_b = grad_bias = None
    if need_a:
        y = b._host()
        if _column_major(shape_a, strides_a):
            grad_a = _transposed(host_product(y, g.T, dtype, alpha=alpha)._np, dtype)
        else:
            grad_a = host_product(g, y.T, dtype, alpha=alpha)
    if need_b:
        x = a._host()
        if _column_major(shape_b, strides_b):
            grad_b = _transposed(host_product(g.T, x, dtype, alpha=alpha)._np, dtype)
        else:
            grad_b = host_product(x.T, g, dtype, alpha=alpha)
    if need_bias:
        grad_bias = Tensor._fresh(np.sum(g, axis=0), dtype)
    return grad_a, grad_b, grad_bias, None, None, None


# ---------------------------------------------------------------- cuda: the Triton kernel
def _forward_cuda(a: Tensor, b: Tensor, bias, c_in, alpha, beta, activation: str | None = None,
                  z: Tensor | None = None) -> Tensor:
    """The product on the Triton kernel; `activation` runs in its epilogue, `z` (out's shape, contiguous)
    receives the pre-activation (tritensor/ops/linear_act.py's fused linear)."""
    M, K = a._shape[-2:]
    N = b._shape[-1]
    batch_shape = broadcast_shapes(a._shape[:-2], b._shape[:-2])
    out_shape = batch_shape + (M, N)
    out = Tensor._empty(out_shape, a.dtype, a.device)
    if out.numel() == 0:
        return out
    use_cin = c_in is not None and beta != 0
    arrays = [out._dev(), expanded(a, batch_shape + (M, K)), expanded(b, batch_shape + (K, N))]
    if use_cin:
        arrays.append(expanded(c_in, out_shape))
    if z is not None:
        arrays.append(z._dev())
    # Batch dims collapse to one kernel batch dim where every operand allows it; what stays apart
    # (e.g. a batch broadcast over one of two dims) is covered by one launch per outer index.
    nb = len(batch_shape)
    bshape, bstrides = collapse(batch_shape, [arr.strides[:nb] for arr in arrays])
    inner = bshape[-1] if bshape else 1

    def views(index: tuple) -> list:
        result = []
        for arr, st in zip(arrays, bstrides):
            offset = arr.offset + sum(i * s for i, s in zip(index, st[:-1]))
            result.append(arr.view_as((inner,) + arr.shape[-2:], (st[-1] if st else 0,) + arr.strides[-2:], offset))
        return result

    from ..backends import cuda as cuda_flags

    allow_tf32 = a.dtype is D.float32 and cuda_flags.matmul.allow_tf32
    bias_arr = None if bias is None else bias._dev()
    scratch: dict = {}

    def buffer(shape: tuple | None, dtype):  # stream-ordered memory, freed after the call's launches
        if shape is not None and (shape, dtype) not in scratch:
            scratch[shape, dtype] = Tensor._empty(shape, dtype, a.device)._dev()
        return None if shape is None else scratch[shape, dtype]

    def launch(config: dict, ops: list) -> None:
        buf = buffer(KM.scratch_shape(config, inner, M, N), D.float32)  # split-K partial sums
        workspace = buffer(KT.workspace_shape(config, inner, M, N), D.uint8) if path == "tma" else None
        KM.matmul(ops[0], ops[1], ops[2], bias=bias_arr, alpha=alpha, beta=beta, c_in=ops[3] if use_cin else None,
                  allow_tf32=allow_tf32, config=config, scratch=buf, path=path, workspace=workspace,
                  activation=activation, z=ops[-1] if z is not None else None)

    outer = list(itertools.product(*(range(n) for n in bshape[:-1])))
    # One kernel for every launch of the call: TMA only if each outer index's views allow descriptors.
    arch = KT.device_arch()
    fma = a.dtype is D.float32 and not allow_tf32  # fp32 on the FMA units keeps the pointer kernel
    path = "tma" if all(KT.choose_path(arch, *views(index), fma=fma) == "tma" for index in outer) else "ptr"

    def run(config: dict) -> None:  # every launch of this call, so the tuner times (and picks for) all of them
        for index in outer:
            launch(config, views(index))

    first = views((0,) * max(len(bshape) - 1, 0))
    key = KM.tuning_key(M, N, K, a.dtype, first[1].strides, first[2].strides, allow_tf32, inner, path, z is not None)
    tuning.launch(KM.MATMUL_TUNING, key, KM.tuning_sizes(first[0], first[1], inner * len(outer)), run)
    return out


# ---------------------------------------------------------------- checks (raised before any kernel runs)
def require_tensor(name: str, arg, what: str, position: int) -> None:
    if not isinstance(arg, Tensor):
        raise TypeError(f"{name}(): argument '{what}' (position {position}) must be Tensor, not {type(arg).__name__}")


def _check_operands(name: str, a: Tensor, b: Tensor) -> None:
    require_tensor(name, a, "input", 1)
    require_tensor(name, b, "other" if name == "matmul" else "mat2", 2)
    if a.device != b.device:
        check_same_device(a, b)
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_C10_NAMES[a.dtype.name]} != "
                           f"{_C10_NAMES[b.dtype.name]}")
    check_dtype(name, a)


def check_dtype(name: str, t: Tensor) -> None:
    if t.dtype is D.bool:
        raise RuntimeError(f"\"{name}\" not implemented for 'Bool'")
    if t.device.type == "cuda" and t.dtype.name not in _CUDA_DTYPES:
        raise RuntimeError(f"{name} on cuda supports float16, bfloat16 and float32 (the Triton matmul kernel has "
                           f"no {t.dtype.name} path), got {D.scalar_type_name(t.dtype)}; use one of those dtypes or "
                           "compute on device='cpu'")


def _check_addend(name: str, c: Tensor, like: Tensor, shape: tuple) -> None:
    require_tensor(name, c, "input", 1)
    if c.device != like.device:
        check_same_device(c, like)
    if c.dtype is not like.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {D.scalar_type_name(c.dtype)} and "
                           f"{D.scalar_type_name(like.dtype)}")
    if len(c._shape) > len(shape) or any(n != 1 and n != m for n, m in zip(reversed(c._shape), reversed(shape))):
        raise RuntimeError(f"The expanded size of the tensor ({shape[-1]}) must match the existing size "
                           f"({c._shape[-1] if c._shape else 1}) at non-singleton dimension {len(shape) - 1}.  "
                           f"Target sizes: {list(shape)}.  Tensor sizes: {list(c._shape)}")


def _mat_error(a_shape: tuple, b_shape: tuple) -> RuntimeError:
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a_shape[0]}x{a_shape[1]} and "
                        f"{b_shape[0]}x{b_shape[1]})")


# ---------------------------------------------------------------- the public ops
def _fold(a: Tensor, b: Tensor) -> tuple[Tensor, tuple] | None:
    """a (..., M, K) as one (rows, K) matrix when b has no batch and that is a view: one large product
    instead of many small ones. Returns the view and the batch shape to restore, or None."""
    if a.ndim <= 2 or b.ndim != 2:
        return None
    rows = math.prod(a._shape[:-1])
    if view_strides(a._shape, a.stride(), (rows, a._shape[-1])) is None:
        return None
    return a.reshape(rows, a._shape[-1]), a._shape[:-1]


def product_nd(a: Tensor, b: Tensor, bias=None, c_in=None, alpha=1, beta=0) -> Tensor:
    """Matmul over >= 2-D operands, folding a's batch into rows when b is a plain matrix."""
    folded = _fold(a, b) if c_in is None or c_in.ndim <= 1 else None
    if folded is not None:
        flat, lead = folded
        return _apply(flat, b, bias, c_in, alpha, beta).reshape(lead + (b._shape[-1],))
    return _apply(a, b, bias, c_in, alpha, beta)


def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """PyTorch's matmul: 1-D . 1-D dot, 2-D mm, 1-D operands get a dim prepended/appended (then removed),
    and >= 3-D operands multiply batch by batch with broadcast batch dims."""
    if isinstance(input, Tensor) and input.layout is not strided:  # a sparse first operand: ops/sparse_ops.py
        return to_out(input._sparse_mm(other), out)
    _check_operands("matmul", input, other)
    da, db = input.ndim, other.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    k_a = input._shape[-1]
    k_b = other._shape[0] if db == 1 else other._shape[-2]
    if k_a != k_b:
        if da == 1 and db == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k_a}] and src [{k_b}] to have the same "
                               f"number of elements, but got {k_a} and {k_b} elements respectively")
        if da == 2 and db == 1:
            raise RuntimeError(f"size mismatch, got input ({input._shape[0]}), mat ({input._shape[0]}x{k_a}), "
                               f"vec ({k_b})")
        if da <= 2 and db <= 2:
            raise _mat_error(input._shape if da == 2 else (1, k_a), other._shape if db == 2 else (k_b, 1))
        batch = math.prod(broadcast_shapes(input._shape[:-2], other._shape[:-2]))
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {k_a}] but "
                           f"got: [{batch}, {k_b}].")
    a = input.unsqueeze(0) if da == 1 else input
    b = other.unsqueeze(1) if db == 1 else other
    if a.ndim > 2 and b.ndim > 2:
        broadcast_shapes(a._shape[:-2], b._shape[:-2])  # PyTorch's message for batch dims that don't broadcast
    result = product_nd(a, b)
    if db == 1:
        result = result.squeeze(-1)
    if da == 1:
        result = result.squeeze(-2 if db > 1 else -1)
    return to_out(result, out)


def mm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix product of an (n, m) and an (m, p) tensor: (n, p); no broadcasting (see `tt.matmul`).

    Example:
        >>> tt.mm(tt.ones(2, 3), tt.ones(3, 4)).shape
        tritensor.Size([2, 4])
    """
    if isinstance(input, Tensor) and input.layout is not strided:  # a sparse first operand: ops/sparse_ops.py
        return to_out(input._sparse_mm(mat2), out)
    _check_operands("mm", input, mat2)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input._shape[1] != mat2._shape[0]:
        raise _mat_error(input._shape, mat2._shape)
    return to_out(_apply(input, mat2, None, None, 1, 0), out)


def _check_batches(a: Tensor, b: Tensor) -> None:
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b._shape[:2] != (a._shape[0], a._shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{a._shape[0]}, "
                           f"{a._shape[2]}] but got: [{b._shape[0]}, {b._shape[1]}].")


def bmm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors: (b, n, p); no broadcasting."""
    _check_operands("bmm", input, mat2)
    _check_batches(input, mat2)
    return to_out(_apply(input, mat2, None, None, 1, 0), out)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to (M, N) and is ignored when beta == 0."""
    if isinstance(mat1, Tensor) and mat1.layout is not strided:  # a sparse mat1: ops/sparse_ops.py
        return to_out(mat1._sparse_addmm(input, mat2, beta, alpha), out)
    _check_operands("addmm", mat1, mat2)
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if m.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {m.ndim}-D tensor")
    if mat1._shape[1] != mat2._shape[0]:
        raise _mat_error(mat1._shape, mat2._shape)
    _check_addend("addmm", input, mat1, (mat1._shape[0], mat2._shape[1]))
    return to_out(_apply(mat1, mat2, None, input, alpha, beta), out)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1, out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2) per batch entry; input broadcasts to (B, M, N)."""
    _check_operands("baddbmm", batch1, batch2)
    _check_batches(batch1, batch2)
    _check_addend("baddbmm", input, batch1, (batch1._shape[0], batch1._shape[1], batch2._shape[2]))
    return to_out(_apply(batch1, batch2, None, input, alpha, beta), out)


def mv(input: Tensor, vec: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix-vector product of an (n, m) matrix and an m-vector: an n-vector."""
    _check_operands("mv", input, vec)
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    return matmul(input, vec, out=out)


def dot(input: Tensor, tensor: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The inner product of two 1-D tensors of equal length (a 0-dim tensor)."""
    require_tensor("dot", input, "input", 1)
    require_tensor("dot", tensor, "tensor", 2)
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.dtype is not tensor.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{D.scalar_type_name(input.dtype)} and {D.scalar_type_name(tensor.dtype)}")
    return matmul(input, tensor, out=out)


def vdot(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """dot with the first argument conjugated: the same thing for real tensors."""
    return dot(input, other, out=out)


def outer(input: Tensor, vec2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """input[:, None] * vec2[None, :] (an elementwise product: a K=1 matmul would waste the tile's K)."""
    require_tensor("outer", input, "input", 1)
    require_tensor("outer", vec2, "vec2", 2)
    if input.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D")
    if vec2.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    from .elementwise import mul

    return to_out(mul(input.unsqueeze(1), vec2), out)


ger = outer


def _plain_cpu_rows(input, weight, bias, batch: bool = False) -> bool:
    """True for the common F.linear call that every check below passes and that goes to `linear_rows`: a 2-D
    input (with `batch`: one of more than two dims, whose leading dims fold into rows) and weight on the same cpu
    device, one non-bool dtype, matching inner sizes, a (out_features,) bias of that dtype and device or none,
    and no op tracer. Tested first, so that a model's forward pays one test."""
    if type(input) is not Tensor or type(weight) is not Tensor:
        return False
    shape, w_shape, device, dtype = input._shape, weight._shape, input.device, input.dtype
    if (len(shape) <= 2 if batch else len(shape) != 2) or len(w_shape) != 2 or shape[-1] != w_shape[1] or \
            device.type != "cpu" or \
            weight.device is not device or weight.dtype is not dtype or dtype is D.bool or op_hook.trace is not None:
        return False
    return bias is None or (type(bias) is Tensor and bias._shape == (w_shape[0],) and bias.dtype is dtype
                            and bias.device is device)


def _cpu_batch_rows(input: Tensor, weight: Tensor, bias: Tensor | None, rows_fn=linear_rows) -> Tensor | None:
    """What the checked path of `linear` (or of F.linear with an activation: `rows_fn`) does for a
    `_plain_cpu_rows(..., batch=True)` call (the input folded into rows by a View node, rows_fn(rows, weight, bias),
    a View back), without its checks; None when the fold would copy."""
    shape = input._shape
    rows = (math.prod(shape[:-1]), shape[-1])
    stride = contiguous_layout(rows)[0] if input._stride is None else view_strides(shape, input._stride, rows)
    if stride is None:
        return None
    out = rows_fn(View.apply(input, rows, stride), weight, bias)
    return reshape(out, shape[:-1] + (weight._shape[0],))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias (nn.functional.linear); on cuda the bias is added in the kernel's epilogue (and
    F.linear's `activation=` too: ops/linear_act.py)."""
    if _plain_cpu_rows(input, weight, bias):
        return linear_rows(input, weight, bias)
    if _plain_cpu_rows(input, weight, bias, batch=True):
        out = _cpu_batch_rows(input, weight, bias)
        if out is not None:
            return out
    require_tensor("linear", input, "input", 1)
    require_tensor("linear", weight, "weight", 2)
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {input.ndim}D and "
                           f"{weight.ndim}D")
    if weight.ndim > 2:
        raise RuntimeError(f"linear(): weight must be 1-D or 2-D, got {weight.ndim}-D")
    _check_operands("linear", input, weight)
    k, n = (weight._shape[1], weight._shape[0]) if weight.ndim == 2 else (weight._shape[0], 1)
    if input._shape[-1] != k:
        raise _mat_error((math.prod(input._shape[:-1]), input._shape[-1]), (k, n))
    epilogue_bias = c_in = None
    if bias is not None:
        require_tensor("linear", bias, "bias", 3)
        out_shape = input._shape[:-1] + ((n,) if weight.ndim == 2 else ())
        _check_addend("linear", bias, input, out_shape or (1,))
        if weight.ndim == 2 and bias._shape == (n,):
            epilogue_bias = bias
        else:  # a bias of another broadcastable shape goes through the C_in addend
            c_in = bias if weight.ndim == 2 else bias.unsqueeze(-1)
    if input.device.type == "cpu" and weight.ndim == 2 and c_in is None and input.ndim >= 2 and \
            op_hook.trace is None:
        # One node with the weight untransposed (ops/linear.py) instead of weight.t() and a general Matmul; a
        # profiler or exporter (op_hook.trace) sees the general path's nested t() and product, as PyTorch's.
        if input.ndim == 2:
            return linear_rows(input, weight, epilogue_bias)
        folded = _fold(input, weight)
        if folded is not None:
            return linear_rows(folded[0], weight, epilogue_bias).reshape(folded[1] + (n,))
    a = input.unsqueeze(0) if input.ndim == 1 else input
    w_t = weight.t() if weight.ndim == 2 else weight.unsqueeze(1)
    result = product_nd(a, w_t, epilogue_bias, c_in, 1, 0 if c_in is None else 1)
    if weight.ndim == 1:
        result = result.squeeze(-1)
    return result.squeeze(0) if input.ndim == 1 else result


__all__ = ["addmm", "baddbmm", "bmm", "dot", "ger", "linear", "matmul", "mm", "mv", "outer", "vdot"]


def _inplace(op):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        from .elementwise import inplace

        return inplace(op, self, *args, **kwargs)

    method.__doc__ = f"In-place `tt.{op.__name__}`: the result is written into self."
    return method


def _rmatmul(self: Tensor, other: Tensor) -> Tensor:
    """`other @ self` (reflected operator): see `tt.matmul`."""
    return matmul(other, self)


METHODS: dict = {
    "matmul": matmul, "mm": mm, "bmm": bmm, "addmm": addmm, "baddbmm": baddbmm, "mv": mv, "dot": dot,
    "vdot": vdot, "outer": outer, "ger": ger,
    "addmm_": _inplace(addmm), "baddbmm_": _inplace(baddbmm),
    "__matmul__": matmul, "__rmatmul__": _rmatmul,
}
