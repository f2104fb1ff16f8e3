"""bernoulli, Tensor.bernoulli_ and multinomial over kernels/sampling.py.

The random numbers come from the Generator on the host (tritensor/random.py), in the same order on every
device: bernoulli draws one fp32 uniform per element; multinomial draws one Exp(1) per probability for the
exponential race (without replacement, and any single sample, as PyTorch) or one uniform per sample for
the inverse CDF (with replacement). The op's kernel (cuda) or NumPy reference (cpu) turns them into
samples with the same arithmetic, so a seed gives the same samples on both devices. Bad probabilities
raise PyTorch's errors: directly on the cpu, through the device error word on cuda (at once under the
interpreter, at the next synchronisation on a GPU, as PyTorch's device-side checks).
"""

from __future__ import annotations

import numpy as np

from .. import device_errors
from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros
from ..kernels import sampling as K
from ..random import Generator, rng
from ..tensor import Tensor
from .dispatch import check_same_device, expanded
from .elementwise import _into, inplace
from .map_ops import is_number, not_implemented
from .views import expand

_P_RANGE = ("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message be improved?  "
            "If so, please report an enhancement request to PyTorch.)")
_MULTINOMIAL_ERRORS = {
    "bad": "probability tensor contains either `inf`, `nan` or element < 0",
    "zero": "invalid multinomial distribution (sum of probabilities <= 0)",
    "negative": "invalid multinomial distribution (encountering probability entry < 0)",
    "infinite": "invalid multinomial distribution (encountering probability entry = infinity or NaN)",
}
_MAX_CATEGORIES = 2 ** 24  # PyTorch keeps category indices exact in fp32


# ================================================================ bernoulli
class Bernoulli(Function):
    """Samples are not differentiable: as in PyTorch the result still records a node, whose gradient for
    the probabilities (and for the tensor whose shape was filled) is zero."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, input: Tensor, p, u: np.ndarray) -> Tensor:  # noqa: A002
        ctx.meta = [(t._shape, t.dtype, t.device) for t in (input, p) if type(t) is Tensor]
        probs = input if p is None else p
        shape, dtype, device = input._shape, input.dtype, input.device
        if device.type == "cpu":
            if type(probs) is Tensor:
                probs = probs._host()
                if K.bernoulli_invalid_ref(probs):
                    raise RuntimeError(_P_RANGE)
            return Tensor._wrap(K.bernoulli_ref(u, probs, dtype.np))
        out = Tensor._empty(shape, dtype, device)
        draws = Tensor._from_host(u, device)
        tensor_p = type(probs) is Tensor
        code = device_errors.expect(device, RuntimeError, _P_RANGE) if tensor_p else 0
        K.bernoulli(out._dev(), draws._dev(), expanded(probs, shape) if tensor_p else float(probs),
                    device_errors.error_word(device), code)
        if tensor_p:
            device_errors.after_launch(device)
        return out

    @staticmethod
    def backward(ctx, grad):
        grads = [zeros(shape, dtype=dtype, device=device) if n else None
                 for (shape, dtype, device), n in zip(ctx.meta, ctx.needs_input_grad[:2])]
        return (*grads, *([None] * (3 - len(grads))))


def _p_not_implemented(device, dtype: D.dtype) -> RuntimeError:
    return not_implemented(f"bernoulli_tensor_{device.type}_p_", device, dtype, suffix=False)


def _check_p(input: Tensor, p) -> None:  # noqa: A002
    if p is None:
        if not input.dtype.is_floating_point:
            raise _p_not_implemented(input.device, input.dtype)
    elif type(p) is Tensor:
        if not p.dtype.is_floating_point:
            raise _p_not_implemented(p.device, p.dtype)
        check_same_device(input, p)
        expand(p.detach(), input._shape)  # PyTorch's error when p cannot be expanded to input's shape
    elif is_number(p):
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={float(p):g}")
    else:
        raise TypeError(f"bernoulli(): argument 'p' must be float or Tensor, not {type(p).__name__}")


def bernoulli(input: Tensor, p=None, *, generator: Generator | None = None,  # noqa: A002
              out: Tensor | None = None) -> Tensor:
    """0/1 samples in input's shape and dtype: with probabilities `input` (p None, floats only), or with
    probability p (a number in [0, 1], or a float tensor broadcast to input's shape)."""
    if type(input) is not Tensor:
        raise TypeError(f"bernoulli(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _check_p(input, p)
    u = rng(generator).random(input._shape, dtype=np.float32)
    result = Bernoulli.apply(input, p, u)
    return result if out is None else _into(out, result)


def _bernoulli_(self: Tensor, p=0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill self with 0/1 samples with probability p (a number, or a float tensor broadcast to self)."""
    return inplace(bernoulli, self, p, generator=generator)


# ================================================================ multinomial
def _check_multinomial(input: Tensor, num_samples, replacement: bool, out: Tensor | None) -> None:  # noqa: A002
    if type(input) is not Tensor:
        raise TypeError(f"multinomial(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool):
        raise TypeError(f"multinomial(): argument 'num_samples' (position 2) must be int, not "
                        f"{type(num_samples).__name__}")
    if out is not None and out.device != input.device:
        raise RuntimeError("multinomial arguments must have the same device")
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{D.scalar_type_name(input.dtype)}")
    if out is not None and out.dtype is not D.int64:
        raise RuntimeError(f"multinomial expects Long tensor out, got: {D.scalar_type_name(out.dtype)}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > input._shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if input._shape[-1] > _MAX_CATEGORIES:
        raise RuntimeError("number of categories cannot exceed 2^24")


def _sample_cpu(input: Tensor, draws: np.ndarray, num_samples: int, race: bool) -> np.ndarray:  # noqa: A002
    p = input._host()
    problem = K.multinomial_invalid_ref(p, race)
    if problem is not None:
        raise RuntimeError(_MULTINOMIAL_ERRORS[problem])
    return K.multinomial_race_ref(p, draws, num_samples) if race else K.multinomial_cdf_ref(p, draws)


def _sample_cuda(result: Tensor, input: Tensor, draws: np.ndarray, race: bool) -> None:  # noqa: A002
    device = input.device
    d = Tensor._from_host(draws, device)
    word = device_errors.error_word(device)
    codes = [device_errors.expect(device, RuntimeError, _MULTINOMIAL_ERRORS[kind])
             for kind in (("bad", "zero") if race else ("negative", "infinite", "zero"))]
    if race:
        K.multinomial_race(result._dev(), input._dev(), d._dev(), word, *codes)
    else:
        K.multinomial_cdf(result._dev(), input._dev(), d._dev(), word, *codes)
    device_errors.after_launch(device)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,  # noqa: A002
                generator: Generator | None = None, out: Tensor | None = None) -> Tensor:
    """num_samples category indices (int64) per row of a 1-D or 2-D tensor of non-negative weights (rows need
    not sum to 1). Without replacement the categories of a row are distinct, drawn in order; zero-weight
    categories come only after every positive one."""
    _check_multinomial(input, num_samples, replacement, out)
    num_samples = int(num_samples)
    rows, n = (1, input._shape[0]) if input.ndim == 1 else input._shape
    shape = (num_samples,) if input.ndim == 1 else (rows, num_samples)
    if rows == 0:
        result = Tensor._empty(shape, D.int64, input.device)
        return result if out is None else _into(out, result)
    race = not replacement or num_samples == 1
    dt = K.draw_dtype(input.dtype.np)
    g = rng(generator)
    if race:  # Exp(1) draws, kept off 0 so that p / q stays finite
        draws = np.maximum(g.standard_exponential((rows, n), dtype=dt), np.finfo(dt).tiny)
    else:
        draws = g.random(shape, dtype=dt)
    if input.device.type == "cpu":
        result = Tensor._wrap(_sample_cpu(input, draws, num_samples, race).reshape(shape))
    else:
        result = Tensor._empty(shape, D.int64, input.device)
        _sample_cuda(result, input, draws, race)
    return result if out is None else _into(out, result)


__all__ = ["bernoulli", "multinomial"]

METHODS: dict = {"bernoulli": bernoulli, "bernoulli_": _bernoulli_, "multinomial": multinomial}
