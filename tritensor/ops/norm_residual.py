"""Residual add + layer_norm / rms_norm as one op (tritensor extensions, in tt.nn.functional):

    s, y = F.add_layer_norm(input, residual, normalized_shape, weight, bias, eps)   # s = input + residual,
    s, y = F.add_rms_norm(input, residual, normalized_shape, weight, eps)           # y = norm(s)

the pair a pre-norm transformer block computes at every residual connection (`x = x + attn(...)`, then
`ln2(x)`). cuda runs kernels/norm_residual.py: one launch reads input and residual once and writes s, y and the
statistics; the backward is one launch for d_input == d_residual = norm_backward(dy) + ds with the weight/bias
partials, plus one fixed-order column sum per affine gradient. cpu runs the NumPy references. Values equal
`s = input + residual; y = F.layer_norm(s, ...)` (s rounded to the storage dtype before the norm reads it).

Inputs the kernel does not cover (a residual of another shape or dtype, which broadcasts or promotes; rows
longer than kernels.norm_residual.MAX_ROW; integer dtypes, which raise as layer_norm does) take that unfused
pair, so the op always means exactly that.
"""

from __future__ import annotations

import math

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import norm_residual as KR
from ..kernels import norm_rows as K
from ..tensor import Tensor
from .normalization import FINFO_EPS, _check_float, _check_normalized, _param, layer_norm, layer_norm_grads, rms_norm


def _acc(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


def _rows(t: Tensor, M: int, R: int):
    return t._dev().view_as((M, R), (R, 1))


def _col_sum(part: Tensor, rows: int, dtype: D.dtype) -> Tensor:
    """part[:rows].sum(0) in a fixed order, as `dtype`."""
    n = part._shape[1]
    out = Tensor._empty((n,), dtype, part.device)
    K.col_sum(out._dev(), part._dev().view_as((rows, n), (n, 1)))
    return out


class AddNorm(Function):
    """(s, y) = (x + r, norm(x + r)) of contiguous x, r of one shape over their last dims seen as (M, R) rows."""

    differentiable_forward = False
    _materialize_grads = False  # an unused s (the last block's sum) costs no zeros: the kernel skips its add

    def name(self) -> str:
        return "AddRmsNormBackward0" if self.rms else "AddLayerNormBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, r: Tensor, weight: Tensor | None, bias: Tensor | None, R: int, eps: float,
                rms: bool) -> tuple[Tensor, Tensor]:
        M = x.numel() // R
        ctx.eps, ctx.rms, ctx.M, ctx.R = eps, rms, M, R
        if x.device.type == "cpu":
            w, b = (None if t is None else t._host() for t in (weight, bias))
            s, y, mean, rstd = KR.add_norm_ref(x._host().reshape(M, R), r._host().reshape(M, R), w, b, eps, rms)
            s, y = Tensor._wrap(s.reshape(x._shape)), Tensor._wrap(y.reshape(x._shape))
            mean, rstd = Tensor._wrap(mean), Tensor._wrap(rstd)
        else:
            s, y = Tensor._empty(x._shape, x.dtype, x.device), Tensor._empty(x._shape, x.dtype, x.device)
            mean = Tensor._empty((M,), _acc(x.dtype), x.device)
            rstd = Tensor._empty((M,), _acc(x.dtype), x.device)
            KR.add_norm(_rows(s, M, R), _rows(y, M, R), _rows(x, M, R), _rows(r, M, R),
                        None if weight is None else weight._dev(), None if bias is None else bias._dev(),
                        None if rms else mean._dev(), rstd._dev(), eps, rms)
        ctx.save_for_backward(s, weight, mean, rstd)
        return s, y

    @staticmethod
    def backward(ctx, grad_s, grad_y):
        s, weight, _, _ = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx = dw = db = None
        if grad_y is not None:  # layer_norm's tensor-op backward, on the sum
            dx, dw, db = layer_norm_grads(ctx, s, grad_y, weight, need[2], need[3])
        if grad_s is not None:
            dx = grad_s if dx is None else dx + grad_s
        return dx, dx, dw, db, None, None, None

    def backward_fused(self, grad_s, grad_y):
        if grad_y is None:  # only s was used: the add's gradient
            return grad_s, grad_s, None, None, None, None, None
        s, weight, mean, rstd = self.saved_tensors
        need = self.needs_input_grad
        M, R = self.M, self.R
        if s.device.type == "cpu":
            dx, dw, db = KR.add_norm_backward_ref(
                grad_y._host().reshape(M, R), None if grad_s is None else grad_s._host().reshape(M, R),
                s._host().reshape(M, R), None if weight is None else weight._host(), mean._host(), rstd._host(),
                self.rms)
            dx = Tensor._wrap(dx.reshape(s._shape))
            dw = Tensor._wrap(dw.astype(weight.dtype.np)) if need[2] else None
            db = Tensor._wrap(db.astype(s.dtype.np)) if need[3] else None
            return dx, dx, dw, db, None, None, None
        grad_y = grad_y.contiguous()
        grad_s = None if grad_s is None else grad_s.contiguous()
        rows = K.partial_rows(M)
        dw_part = Tensor._empty((rows, R), _acc(s.dtype), s.device) if need[2] else None
        db_part = Tensor._empty((rows, R), _acc(s.dtype), s.device) if need[3] else None
        dx = Tensor._empty(s._shape, s.dtype, s.device)
        used = KR.add_norm_backward(_rows(dx, M, R), _rows(grad_y, M, R),
                                    None if grad_s is None else _rows(grad_s, M, R), _rows(s, M, R),
                                    None if weight is None else weight._dev(), None if self.rms else mean._dev(),
                                    rstd._dev(), None if dw_part is None else dw_part._dev(),
                                    None if db_part is None else db_part._dev(), self.rms)
        dw = _col_sum(dw_part, used, weight.dtype) if need[2] else None
        db = _col_sum(db_part, used, s.dtype) if need[3] else None
        return dx, dx, dw, db, None, None, None


def _fusable(input: Tensor, residual, R: int) -> bool:
    """Whether the kernel covers these operands: same shape, dtype and device, a floating dtype the norm
    kernels take on this device, rows short enough to stay in registers."""
    if not isinstance(residual, Tensor) or residual._shape != input._shape or residual.dtype is not input.dtype:
        return False
    if residual.device != input.device or not input.dtype.is_floating_point or not KR.supported(R):
        return False
    return input.device.type == "cpu" or input.dtype in (D.float16, D.bfloat16, D.float32, D.float64)


def _add_norm(name: str, input: Tensor, residual: Tensor, normalized_shape, weight, bias, eps: float,
              rms: bool) -> tuple[Tensor, Tensor]:
    _check_float(name, input, weight, bias)
    if not isinstance(residual, Tensor):
        raise TypeError(f"{name}(): argument 'residual' (position 2) must be Tensor, not {type(residual).__name__}")
    shape = _check_normalized(input, normalized_shape, weight, bias)
    R = math.prod(shape)
    if not _fusable(input, residual, R):
        s = input + residual
        return s, (rms_norm(s, shape, weight, eps) if rms else layer_norm(s, shape, weight, bias, eps))
    return AddNorm.apply(input.contiguous(), residual.contiguous(), _param(weight, input.dtype, (R,)),
                         _param(bias, input.dtype, (R,)), R, float(eps), rms)


def add_layer_norm(input: Tensor, residual: Tensor, normalized_shape, weight: Tensor | None = None,
                   bias: Tensor | None = None, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """(s, F.layer_norm(s, normalized_shape, weight, bias, eps)) with s = input + residual: a tritensor extension
    (no PyTorch counterpart) that runs both as one kernel on cuda, forward and backward.

    >>> s, y = tt.nn.functional.add_layer_norm(tt.ones(2, 4), tt.arange(4.0).expand(2, 4), (4,))
    >>> s[0].tolist(), [round(v, 3) for v in y[0].tolist()]
    ([1.0, 2.0, 3.0, 4.0], [-1.342, -0.447, 0.447, 1.342])
    """
    return _add_norm("add_layer_norm", input, residual, normalized_shape, weight, bias, eps, False)


def add_rms_norm(input: Tensor, residual: Tensor, normalized_shape, weight: Tensor | None = None,
                 eps: float | None = None) -> tuple[Tensor, Tensor]:
    """(s, F.rms_norm(s, normalized_shape, weight, eps)) with s = input + residual: a tritensor extension run as
    one kernel on cuda (see `add_layer_norm`); eps None is finfo(dtype).eps, as rms_norm's."""
    if eps is None and isinstance(input, Tensor) and input.dtype in FINFO_EPS:
        eps = FINFO_EPS[input.dtype]
    return _add_norm("add_rms_norm", input, residual, normalized_shape, weight, None, 1e-5 if eps is None else eps,
                     True)


__all__: list[str] = []
