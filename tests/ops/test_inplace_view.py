"""PyTorch's refusals of in-place writes into views while autograd records (tritensor/view_meta.py, ops/copy.py
check_inplace): views returned together by one node (unbind, split, chunk), views made in no_grad or in
inference_mode, and views of any of these; PyTorch's messages word for word; the cases where PyTorch allows the
write (no_grad around it, nothing requiring grad, detach()); and ordinary views, whose writes keep their
gradients."""

import re

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]

MULTI = (" This view is the output of a function that returns multiple views. Such functions do not allow the "
         "output views to be modified inplace. You should replace the inplace operation by an out-of-place one.")
NO_GRAD = (" Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
           "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
           "inplace to be tracked) or both outside (if you want the inplace to be tracked).")
INFERENCE = (" Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
             "moving both the view and the inplace either both inside the inference_mode block (if you don't want "
             "the inplace to be tracked) or both outside (if you want the inplace to be tracked).")
MADE_NO_GRAD = "A view was created in no_grad mode and is being modified inplace with grad mode enabled."


def _np(t):
    return t.detach().cpu().numpy()


def _raises(message: str):
    return pytest.raises(RuntimeError, match="^" + re.escape(message) + "$")


@pytest.mark.parametrize("device", DEVICES)
def test_a_view_of_a_multi_output_view_is_refused_too(device):
    leaf = tt.arange(12.0, device=device).reshape(3, 4).requires_grad_()
    x = leaf * 1
    q = x.unbind(0)[0]
    with _raises("Output 0 of SelectBackward0 is a view and is being modified inplace." + MULTI):
        q[0].add_(1)
    with _raises("Output 0 of ViewBackward0 is a view and is being modified inplace." + MULTI):
        q.view(-1).mul_(2)
    with _raises("Output 0 of SliceBackward0 is a view and is being modified inplace." + MULTI):
        q[1:].add_(1)
    with _raises("Output 0 of ViewBackward0 is a view and is being modified inplace." + MULTI):
        q[1:].view(3).zero_()  # the refusal is inherited through any number of views
    a, _ = x.split(2, 0)
    with _raises("Output 0 of ViewBackward0 is a view and is being modified inplace." + MULTI):
        a.view(8).copy_(tt.ones(8, device=device))
    with _raises("Output 0 of ViewBackward0 is a view and is being modified inplace." + MULTI):
        leaf.chunk(3)[1].view(4).fill_(0)  # checked before the view-of-a-leaf refusal, as in PyTorch
    np.testing.assert_array_equal(_np(x), np.arange(12.0).reshape(3, 4))  # refused before anything was written
    np.testing.assert_array_equal(_np(leaf), np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("device", DEVICES)
def test_multi_output_views_are_writable_when_nothing_is_recorded(device):
    x = tt.zeros(3, 4, device=device, requires_grad=True)
    q = (x * 1).unbind(0)[1]
    with tt.no_grad():
        q.view(-1).add_(1)  # no_grad around the write: allowed
    z = tt.zeros(3, 4, device=device)  # nothing requires grad: allowed
    z.unbind(0)[2][1:].add_(5)
    z.split(2, 0)[0].view(-1).add_(2)
    s = tt.zeros(3, device=device)
    s.unbind()[1].add_(4)  # a 0-d view of a 1-d tensor (NumPy would give a scalar copy)
    s[2].sub_(1)
    np.testing.assert_array_equal(_np(s), [0.0, 4.0, -1.0])
    np.testing.assert_array_equal(_np(q), [1.0] * 4)
    np.testing.assert_array_equal(_np(z), [[2, 2, 2, 2], [2, 2, 2, 2], [0, 5, 5, 5]])
    r = (x * 1).unbind(0)[0].detach()  # detach() is no view: its writes are not recorded, so allowed
    r[1:].add_(2)
    np.testing.assert_array_equal(_np(r), [0.0, 2.0, 2.0, 2.0])


@pytest.mark.parametrize("device", DEVICES)
def test_a_multi_output_view_of_a_tensor_without_grad_refuses_an_operand_that_requires_grad(device):
    w = tt.ones(4, device=device, requires_grad=True)
    z = tt.zeros(3, 4, device=device)
    # No node recorded the view (z needs no grad), so PyTorch words it as a view without history.
    with _raises(MADE_NO_GRAD + MULTI):
        z.unbind(0)[0].copy_(w)
    with _raises(MADE_NO_GRAD + MULTI):
        z.unbind(0)[0].view(2, 2).copy_(w.view(2, 2))
    np.testing.assert_array_equal(_np(z), np.zeros((3, 4)))


@pytest.mark.parametrize("device", DEVICES)
def test_iterating_rows_gives_multi_output_views(device):
    y = tt.ones(2, 3, device=device, requires_grad=True) * 2
    for i, row in enumerate(y):
        with _raises(f"Output {i} of UnbindBackward0 is a view and is being modified inplace." + MULTI):
            row.add_(1)


@pytest.mark.parametrize("device", DEVICES)
def test_a_view_made_in_no_grad_is_refused_with_grad_enabled(device):
    w = tt.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = w * 2
    with tt.no_grad():
        v = w[0:2]  # of a leaf: the no_grad refusal comes before the view-of-a-leaf one
        u = y[1:]  # of a non-leaf
        uu = u.view(2, 1)  # a view of it, made in no_grad too
        parts = y.unbind()  # a multi-output node in no_grad: NO_GRAD_MODE, not MULTI_OUTPUT_NODE
    with _raises(MADE_NO_GRAD + NO_GRAD):
        v.add_(1)
    with _raises(MADE_NO_GRAD + NO_GRAD):
        u.mul_(2)
    with _raises(MADE_NO_GRAD + NO_GRAD):
        uu.zero_()
    with _raises(MADE_NO_GRAD + NO_GRAD):
        parts[0].fill_(3)
    np.testing.assert_array_equal(_np(w), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(_np(y), [2.0, 4.0, 6.0])
    with tt.no_grad():  # the view and the write both inside no_grad: allowed, not recorded
        v.add_(1)
        u.mul_(2)
    np.testing.assert_array_equal(_np(w), [2.0, 3.0, 3.0])
    np.testing.assert_array_equal(_np(y), [2.0, 8.0, 12.0])


@pytest.mark.parametrize("device", DEVICES)
def test_no_grad_views_of_tensors_without_grad(device):
    z = tt.zeros(4, device=device)
    with tt.no_grad():
        v = z[1:3]
        d = tt.ones(4, device=device, requires_grad=True).detach()[0:2]
    v.add_(1)  # nothing requires grad: allowed
    d.mul_(3)  # a view of a detached tensor: nothing requires grad
    np.testing.assert_array_equal(_np(z), [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(_np(d), [3.0, 3.0])
    w = tt.ones(2, device=device, requires_grad=True)
    with _raises(MADE_NO_GRAD + NO_GRAD):
        v.copy_(w)  # an operand requires grad: refused, as in PyTorch
    np.testing.assert_array_equal(_np(z), [0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("device", DEVICES)
def test_a_view_made_in_inference_mode(device):
    w = tt.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    with tt.inference_mode():
        v = w[1:]
        v.mul_(1)  # inside inference_mode: allowed
        inner = tt.ones(3, device=device)[1:]
    # A view of a normal tensor is a normal tensor; a view of an inference tensor is an inference tensor.
    assert not v.is_inference() and inner.is_inference()
    with _raises("A view was created in inference mode and is being modified inplace in normal mode." + INFERENCE):
        v.add_(1)
    with tt.no_grad():  # a view of it made in no_grad keeps INFERENCE_MODE (it is never replaced)
        vv = v[0:1]
    with _raises("A view was created in inference mode and is being modified inplace in normal mode." + INFERENCE):
        vv.add_(1)
    np.testing.assert_array_equal(_np(w), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("device", DEVICES)
def test_ordinary_views_keep_recording_writes(device):
    a = tt.tensor([1.0, 2.0, 3.0, 4.0], device=device, requires_grad=True)
    x = a * 1
    x[1:][0:2].view(2, 1).mul_(3)  # a view of a view of a view, made while recording
    x[0].add_(1)
    (x * x).sum().backward()  # x = [a0 + 1, 3 a1, 3 a2, a3]
    np.testing.assert_allclose(_np(a.grad), [2 * 2.0, 18 * 2.0, 18 * 3.0, 2 * 4.0])
    with _raises("a view of a leaf Variable that requires grad is being used in an in-place operation."):
        a[1:].add_(1)
    with _raises("a leaf Variable that requires grad is being used in an in-place operation."):
        a.add_(1)
    b = tt.zeros(3, device=device)[0:2]
    b.requires_grad_()  # a view that is a leaf requiring grad: PyTorch names the view-of-a-leaf rule
    with _raises("a view of a leaf Variable that requires grad is being used in an in-place operation."):
        b.add_(1)


CUSTOM = (" This view was created inside a custom Function (or because an input was returned as-is) and the autograd "
          "logic to handle view+inplace would override the custom backward associated with the custom Function, "
          "leading to incorrect gradients. This behavior is forbidden. You can fix this by cloning the output of the "
          "custom Function.")


class _ViewOut(tt.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view(-1)

    @staticmethod
    def backward(ctx, grad):
        return grad.view(2, 3) * 2


class _SameOut(tt.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


@pytest.mark.parametrize("fn", [_ViewOut, _SameOut])
def test_custom_function_view_output_refuses_inplace_but_clone_keeps_custom_backward(fn):
    a = tt.ones(2, 3, requires_grad=True)
    out = fn.apply(a * 1)
    with pytest.raises(RuntimeError, match=re.escape(f"Output 0 of {fn.__name__}Backward is a view and is being "
                                                     "modified inplace." + CUSTOM)):
        out.add_(1)
    with tt.no_grad():  # PyTorch allows the write with grad mode off
        fn.apply(a * 1).add_(1)
    copy = fn.apply(a * 1).clone()
    copy.add_(1)
    copy.sum().backward()
    np.testing.assert_array_equal(_np(a.grad), np.full((2, 3), 2.0, np.float32))  # the custom backward's 2
