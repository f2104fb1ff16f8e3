"""Distances and similarities: torch.cdist, torch.pdist (over kernels/distance.py), torch.cosine_similarity,
torch.pairwise_distance and nn.functional's normalize core (composed of the norm reduction and elementwise ops).

On the cpu, cosine_similarity of two fp32/fp64 tensors of one dtype and F.normalize with p = 2 are one autograd node
each over kernels/distance.py's NumPy references (row blocks, no full-size temporaries; the composite's values, its
norms and sums in the same order where dim is the last, contiguous one); their `backward` is the same gradient in
tensor ops, for create_graph=True. Other dtypes, other p and cuda run the composite (Triton kernels on cuda).

cdist runs the tiled p-norm kernel (any p >= 0, with its backward kernel), or for p = 2 PyTorch's
matmul form sqrt(clamp(|x1|^2 + |x2|^2 - 2 x1 x2^T, 0)) where compute_mode asks for it (by default when
either input has more than 25 rows), differentiated through the matmul. pdist is the upper triangle of
the kernel's cdist of the input with itself (never the matmul form: its zero diagonal would make sqrt's
gradient 0/0).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import tensor as _tensor
from ..kernels import distance as K
from ..tensor import Tensor, wrap_dim
from .broadcast import broadcast_shapes
from .unary import torch_type_name

_COMPUTE_MODES = {"use_mm_for_euclid_dist_if_necessary": 0, "use_mm_for_euclid_dist": 1,
                  "donot_use_mm_for_euclid_dist": 2}


class Cdist(Function):
    """Autograd node of the cdist kernel (3-D operands): x1, x2 and the distances saved."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x1: Tensor, x2: Tensor, p: float) -> Tensor:
        if x1.device.type == "cpu":
            out = Tensor._wrap(K.cdist_ref(x1._host(), x2._host(), p))
        else:
            out = Tensor._empty((x1.shape[0], x1.shape[1], x2.shape[1]), x1.dtype, x1.device)
            K.cdist(out._dev(), x1._dev(), x2._dev(), p)
        ctx.p = p
        ctx.save_for_backward(x1, x2, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # As PyTorch's _cdist_backward, this gradient is not differentiable again.
        x1, x2, dist = ctx.saved_tensors
        need1, need2 = ctx.needs_input_grad[:2]
        if grad.device.type == "cpu":
            g1, g2 = K.cdist_backward_ref(grad._host(), dist._host(), x1._host(), x2._host(), ctx.p)
            return (Tensor._wrap(g1) if need1 else None), (Tensor._wrap(g2) if need2 else None), None
        grads = []
        for need, a, b, g, d in ((need1, x1, x2, grad._dev(), dist._dev()),
                                 (need2, x2, x1, _transposed(grad._dev()), _transposed(dist._dev()))):
            if not need:
                grads.append(None)
                continue
            out = Tensor._empty(a._shape, a.dtype, a.device)
            K.cdist_backward(out._dev(), g, d, a._dev(), b._dev(), ctx.p)
            grads.append(out)
        return grads[0], grads[1], None


def _transposed(a):
    """The (B, R, P) view of a (B, P, R) device array (strides swapped, nothing copied)."""
    b, p, r = a.shape
    sb, sp, sr = a.strides
    return a.view_as((b, r, p), (sb, sr, sp))


def _check_cdist(name: str, x: Tensor, label: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument '{label.lower()}' must be Tensor, not {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{name} only supports floating-point dtypes, {label} got: {torch_type_name(x.dtype)}")


def _euclidean(x1: Tensor, x2: Tensor) -> Tensor:
    """sqrt(clamp(|x1|^2 + |x2|^2 - 2 x1 x2^T, 0)): PyTorch's matmul form of the p = 2 distances."""
    n1 = (x1 * x1).sum(-1, keepdim=True)
    n2 = (x2 * x2).sum(-1, keepdim=True)
    sq = (x1 @ x2.transpose(-1, -2)) * -2 + n1 + n2.transpose(-1, -2)
    return sq.clamp_min(0).sqrt()


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """p-norm distances between each row of x1 (B..., P, M) and each row of x2 (B..., R, M): (B..., P, R).

    Batch dims broadcast. compute_mode: 'use_mm_for_euclid_dist_if_necessary' (the matmul form for p = 2
    when P > 25 or R > 25), 'use_mm_for_euclid_dist' (always for p = 2), 'donot_use_mm_for_euclid_dist'.
    """
    _check_cdist("cdist", x1, "X1")
    _check_cdist("cdist", x2, "X2")
    if compute_mode not in _COMPUTE_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if x1.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"cdist only supports floating-point dtypes, X2 got: {torch_type_name(x2.dtype)}")
    if x1.device != x2.device:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                           f"{x1.device} and {x2.device}!")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    batch = broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    P, R, M = x1.shape[-2], x2.shape[-2], x1.shape[-1]
    a = x1.expand(batch + (P, M))
    b = x2.expand(batch + (R, M))
    mode = _COMPUTE_MODES[compute_mode]
    # The cuda matmul has no fp64 path: fp64 on cuda stays on the (exact) distance kernel.
    mm_ok = not (a.device.type == "cuda" and a.dtype is D.float64)
    if p == 2 and mm_ok and (mode == 1 or (mode == 0 and (P > 25 or R > 25))):
        return _euclidean(a, b)
    n = 1
    for s in batch:
        n *= s
    if len(batch) == 1:  # already (B, P, M): no view node between the result and its CdistBackward0
        return Cdist.apply(a, b, float(p))
    out = Cdist.apply(a.reshape((n, P, M)), b.reshape((n, R, M)), float(p))
    return out.reshape(batch + (P, R))


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distances between every pair of rows i < j of a 2-D input (N, M), row-major: N(N-1)/2."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pdist(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n, m = input.shape
    full = Cdist.apply(input.reshape((1, n, m)), input.reshape((1, n, m)), float(p)).reshape((n * n,))
    rows, cols = np.triu_indices(n, 1)  # row-major pairs i < j, as PyTorch orders them
    index = _tensor(rows * n + cols, dtype=D.int64, device=input.device)
    return full.index_select(0, index)


def _clamped(norm: Tensor, eps: float) -> Tensor:
    """max(norm, eps) in value with norm's gradient: PyTorch clamps a clone of the norm in place under no_grad."""
    return norm - norm.detach() + norm.clamp_min(eps).detach()


class CosineSimilarityFunction(Function):
    """cosine_similarity of two cpu fp32/fp64 tensors of one shape and dtype, NumPy in row blocks (kernels/distance.py):
    the composite's values without its dozen full-size temporaries. grad_fn SumBackward0, as the composite's."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, dim: int, eps: float) -> Tensor:
        out, n1, n2 = K.cosine_similarity_ref(a._host(), b._host(), dim, eps)
        if ctx.needs_input_grad:
            ctx.save_for_backward(a, b)
            # The result is copied: an in-place change of the returned tensor must not reach the backward.
            ctx.dim, ctx.eps, ctx.state = dim, eps, (out.copy(), n1, n2)
        return Tensor._fresh(out, a.dtype)

    def name(self) -> str:
        return "SumBackward0"

    @staticmethod
    def backward(ctx, grad):
        # The same gradient as tensor ops (differentiable again): x1 beta1 + x2 g / (c1 c2), see the reference.
        a, b = ctx.saved_tensors
        d, eps = ctx.dim, ctx.eps
        n1, n2 = a.norm(2, d, keepdim=True), b.norm(2, d, keepdim=True)
        c1, c2 = _clamped(n1, eps), _clamped(n2, eps)
        g = grad.unsqueeze(d)
        gs = g * ((a / c1) * (b / c2)).sum(d, keepdim=True)
        gamma = g / (c1 * c2)
        grads = []
        need1, need2 = ctx.needs_input_grad[:2]
        for need, mine, other, n, c in ((need1, a, b, n1, c1), (need2, b, a, n2, c2)):
            if not need:
                grads.append(None)
                continue
            zero = n == 0
            beta = (-gs / (c * n.masked_fill(zero, 1))).masked_fill(zero, 0)
            grads.append(mine * beta + other * gamma)
        return grads[0], grads[1], None, None

    def backward_fused(self, grad):
        a, b = self.saved_tensors
        out, n1, n2 = self.state
        need = tuple(self.needs_input_grad[:2])
        grads = K.cosine_similarity_backward_ref(grad._host(), a._host(), b._host(), self.dim, self.eps, out, n1, n2,
                                                 need)
        return tuple(None if g is None else Tensor._fresh(g, a.dtype) for g in grads) + (None, None)


_HOST_FLOATS = (D.float32, D.float64)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2, dim) / (max(|x1|, eps) * max(|x2|, eps)) along dim, inputs broadcast together.

    As PyTorch: each input is divided by its own clamped norm first (the result stays in [-1, 1]), and the
    clamp passes the norm's gradient through unchanged.
    """
    for label, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"cosine_similarity(): argument '{label}' must be Tensor, not {type(x).__name__}")
    dtype = D.promote_types(x1.dtype, x2.dtype)
    if not dtype.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is {torch_type_name(dtype)}")
    shape = broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    a = x1.to(dtype).expand(shape) if x1.shape != shape or x1.dtype is not dtype else x1
    b = x2.to(dtype).expand(shape) if x2.shape != shape or x2.dtype is not dtype else x2
    d = wrap_dim(dim, len(shape))
    if shape and x1.dtype is x2.dtype and dtype in _HOST_FLOATS and a.device.type == "cpu" and b.device.type == "cpu":
        return CosineSimilarityFunction.apply(a, b, d, float(eps))
    n1 = a.norm(2, d, keepdim=True)
    n2 = b.norm(2, d, keepdim=True)
    c1, c2 = _clamped(n1, eps), _clamped(n2, eps)
    return ((a / c1) * (b / c2)).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim of the broadcast inputs."""
    for label, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"pairwise_distance(): argument '{label}' must be Tensor, not {type(x).__name__}")
    last = max(x1.ndim, x2.ndim) - 1
    return (x1 - x2 + eps).norm(p, last if last >= 0 else None, keepdim=keepdim)  # 0-d inputs: the whole


class NormalizeFunction(Function):
    """F.normalize with p = 2 of a cpu fp32/fp64 tensor, NumPy in row blocks (kernels/distance.py): the composite's
    values without its full-size temporaries. grad_fn DivBackward0, as the composite's (and PyTorch's)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, eps: float) -> Tensor:
        y, norm = K.normalize_ref(x._host(), dim, eps)
        if ctx.needs_input_grad:
            ctx.save_for_backward(x)
            ctx.dim, ctx.eps, ctx.norm = dim, eps, norm
        return Tensor._fresh(y, x.dtype)

    def name(self) -> str:
        return "DivBackward0"

    @staticmethod
    def backward(ctx, grad):
        # g / c + x beta as tensor ops (differentiable again); the clamp_min is PyTorch's differentiable one.
        (x,) = ctx.saved_tensors
        d, eps = ctx.dim, ctx.eps
        n = x.norm(2, d, keepdim=True)
        c = n.clamp_min(eps)
        blocked = (n >= eps).logical_and(n != 0).logical_not()
        scale = (-(grad * x).sum(d, keepdim=True) / (c * c * n.masked_fill(blocked, 1))).masked_fill(blocked, 0)
        return grad / c + x * scale, None, None

    def backward_fused(self, grad):
        (x,) = self.saved_tensors
        gx = K.normalize_backward_ref(grad._host(), x._host(), self.norm, self.dim, self.eps)
        return Tensor._fresh(gx, x.dtype), None, None


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p, eps) along dim (nn.functional.normalize)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"normalize(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if p == 2 and input.ndim and input.dtype in _HOST_FLOATS and input.device.type == "cpu":
        result = NormalizeFunction.apply(input, wrap_dim(dim, input.ndim), float(eps))
    else:
        denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand(tuple(input.shape))
        result = input / denom
    if out is None:
        return result
    from .elementwise import _into

    return _into(out, result)


__all__ = ["cdist", "pdist", "cosine_similarity", "pairwise_distance"]
METHODS: dict = {}
