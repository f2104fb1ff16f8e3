"""The hand-written NumPy baselines of bench/test_model_step_bench.py and bench/test_memory_bench.py compute
what tritensor computes: same loss and gradients on the same weights and batch, same Adam update, same losses
over several steps. This is what makes the benchmarks' tritensor/NumPy ratios compare equal work."""

import sys
from pathlib import Path

import numpy as np
import pytest

import tritensor as tt
from tritensor.benchmark.models import cnn_step, gpt_step

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))  # the baselines live with the benchmarks
from numpy_cnn import FlatAdam, numpy_twin_cnn, step_parts, tritensor_train_step  # noqa: E402
from numpy_gpt import numpy_twin_gpt  # noqa: E402

CNN_SIZES = [dict(), dict(batch=3, size=8, hidden=16, seed=1)]  # the benchmark's, and another
GPT_SIZES = [dict(), dict(batch=2, block=16, hidden=16, vocab=11, seed=1)]


def _tt_grads(model, x, y) -> float:
    model.zero_grad()
    out = model(x)
    loss = tt.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    loss.backward()
    return loss.item()


def _check_grads(model, net) -> None:
    for p, g in zip(model.parameters(), net.grads, strict=True):
        scale = float(np.abs(g).max())
        # fp32: the two sum the same terms in different orders, so compare against the tensor's own scale.
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-4, atol=2e-6 * max(scale, 0.1))


@pytest.mark.parametrize("sizes", CNN_SIZES)
def test_cnn_loss_and_gradients_match(sizes):
    model, _, x, y = step_parts(cnn_step("cpu", **sizes))
    net = numpy_twin_cnn(model)
    loss = _tt_grads(model, x, y)
    np.testing.assert_allclose(net.forward_backward(x.numpy(), y.numpy()), loss, rtol=1e-6)
    _check_grads(model, net)
    running = [b.numpy() for name, b in model.named_buffers() if "running_" in name]
    for ours, theirs in zip(net.running, running, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("sizes", GPT_SIZES)
def test_gpt_loss_and_gradients_match(sizes):
    model, _, x, y = step_parts(gpt_step("cpu", **sizes))
    net = numpy_twin_gpt(model)
    loss = _tt_grads(model, x, y)
    np.testing.assert_allclose(net.forward_backward(x.numpy(), y.numpy()), loss, rtol=1e-6)
    _check_grads(model, net)


def test_gpt_shorter_sequence_matches():
    """A batch shorter than the context: only the first positions' embeddings get a gradient."""
    model, _, x, y = step_parts(gpt_step("cpu", batch=3, block=8, hidden=16, vocab=13, seed=2))
    x, y = x[:, :5].contiguous(), y[:, :5].contiguous()
    net = numpy_twin_gpt(model)
    loss = _tt_grads(model, x, y)
    np.testing.assert_allclose(net.forward_backward(x.numpy(), y.numpy()), loss, rtol=1e-6)
    _check_grads(model, net)
    assert not net.grads[1][5:].any()


@pytest.mark.parametrize("build, twin", [(cnn_step, numpy_twin_cnn), (gpt_step, numpy_twin_gpt)])
def test_adam_step_matches(build, twin):
    """FlatAdam on tritensor's own gradients moves every parameter as tt.optim.Adam does, over three steps."""
    model, optimizer, x, y = step_parts(build("cpu"))
    net = twin(model)
    for _ in range(3):
        _tt_grads(model, x, y)
        for g, p in zip(net.grads, model.parameters(), strict=True):
            g[...] = p.grad.numpy()
        optimizer.step()
        net.opt.step()
        for ours, p in zip(net.params, model.parameters(), strict=True):
            np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("build, twin", [(cnn_step, numpy_twin_cnn), (gpt_step, numpy_twin_gpt)])
def test_training_losses_match(build, twin):
    """Five whole steps each (the benchmarks' unit of work) give the same losses."""
    model, optimizer, x, y = step_parts(build("cpu"))
    net = twin(model)
    run = tritensor_train_step(model, optimizer, x, y)
    theirs = [run() for _ in range(5)]
    ours = [net.step(x.numpy(), y.numpy()) for _ in range(5)]
    np.testing.assert_allclose(ours, theirs, rtol=2e-5)
    assert theirs[-1] < theirs[0]


def test_flat_adam_views_share_the_buffers():
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, np.float32)]
    opt = FlatAdam(arrays, lr=0.1)
    for view, a in zip(opt.params, arrays):
        np.testing.assert_array_equal(view, a)
    opt.grads[1][...] = 2.0
    opt.step()
    # first step: m = 0.1 g, v = 0.001 g^2, so the update is lr * g / (|g| + eps / ...) = lr * sign(g)
    np.testing.assert_allclose(opt.params[1], 0.9, rtol=1e-6)
    np.testing.assert_array_equal(opt.params[0], arrays[0])
    assert opt.flat[6:].tolist() == opt.params[1].tolist()


def test_gpt_twin_needs_tied_head():
    model, *_ = step_parts(gpt_step("cpu", batch=1, block=4, hidden=8, vocab=5))
    model.head.weight = tt.nn.Parameter(model.tok_emb.weight.detach().clone())
    with pytest.raises(ValueError, match="tied"):
        numpy_twin_gpt(model)
