"""Per-op overhead and one digits training epoch on the cpu path, for whichever tritensor this interpreter
imports; prints one JSON line. bench/compare_revision.py runs it for two revisions in the same run.

The `*_x` figures are issue 21's dispatch targets, as ratios against a baseline timed in the same process:
one-element `tt.add` / `np.add` (target <= 2.0), the same add recording a graph / `np.add` (<= 3.0), and
the backward of a 20-node graph / that graph's forward (<= 2.0). The `*_backward_us` figures time one backward
of a small graph alone (issue 21's engine cost per backward()).
"""

import json
import time
import timeit

import numpy as np

import tritensor as tt
from tritensor import Tensor, optim
from tritensor.data import DataLoader, TensorDataset
from tritensor.nn import functional as F
from tritensor.train import Config, build_model, load_data

CHAIN = 20  # nodes in the graph whose backward is timed against its forward


def _best_us(fn, number: int, repeat: int = 7) -> float:
    # CPU time of this process, not wall time: on a shared machine the time spent waiting for a core is not
    # the code's (both sides of every ratio are timed the same way).
    return min(timeit.repeat(fn, number=number, repeat=repeat, timer=time.process_time)) / number * 1e6


def _digits_epoch():
    config = Config(dataset="digits", hidden=128, device="cpu")
    x, y, _, _ = load_data(config)
    tt.manual_seed(0)
    model = build_model(config, x[0].numel())
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=tt.Generator().manual_seed(1))

    def epoch():
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


def chain_forward_backward_us(leaf, other, rounds: int = 7, number: int = 200) -> tuple[float, float]:
    """Best time of building a CHAIN-node graph (x + other, CHAIN times) and of its backward alone, in us."""
    seed = tt.ones(1)

    def forward():
        x = leaf
        for _ in range(CHAIN):
            x = x + other
        return x

    forward_us = backward_us = float("inf")
    for _ in range(rounds):
        forward_us = min(forward_us, _best_us(forward, number, repeat=1))
        graphs = iter([forward() for _ in range(number)])
        backward_us = min(backward_us, _best_us(lambda g=graphs: next(g).backward(seed), number, repeat=1))
    return forward_us, backward_us


def small_graph_backward_us(rounds: int = 7, number: int = 300) -> dict:
    """Best time of one backward alone (its graph built beforehand) for issue 21's small graphs, in us: a 1-node
    sum, softmax + sum (2 nodes), cross_entropy, exp * 2 + sum (3 nodes) on a 2x4 leaf that accumulates into
    .grad, and autograd.grad of softmax and cross_entropy (the forms the cpu row-ref benchmarks time)."""
    x, gy, target = tt.randn(2, 4, requires_grad=True), tt.randn(2, 4), tt.tensor([1, 3])
    graphs = {"sum": (lambda: x.sum(), Tensor.backward),
              "softmax_sum": (lambda: F.softmax(x, 1).sum(), Tensor.backward),
              "cross_entropy": (lambda: F.cross_entropy(x, target), Tensor.backward),
              "exp_mul_sum": (lambda: (x.exp() * 2.0).sum(), Tensor.backward),
              "grad_softmax": (lambda: F.softmax(x, 1), lambda y: tt.autograd.grad(y, (x,), gy)),
              "grad_cross_entropy": (lambda: F.cross_entropy(x, target), lambda y: tt.autograd.grad(y, (x,)))}
    best: dict = {}
    for _ in range(rounds):  # interleaved, as main's figures
        for name, (make, run) in graphs.items():
            outputs = iter([make() for _ in range(number)])
            us = _best_us(lambda o=outputs, r=run: r(next(o)), number, repeat=1)
            best[f"{name}_backward_us"] = min(best.get(f"{name}_backward_us", us), us)
    return best


def everyday_ops() -> dict:
    """Everyday small ops (8 or 8x8 float32 elements, *_4096 4096; the transpose's weight and the *_recording
    operands require grad): what a small model's step is made of beyond add. Keys op_<name>_us, timed in the same
    rounds as np.add (main's numpy_add_us)."""
    a, m = tt.ones(8), tt.ones(8, 8)
    # c: the in-place ops' operand (repeated exp_ takes it to inf within five calls and keeps it there, which costs
    # what finite values cost), o: out=, big: a medium tensor (4096 elements).
    c, o, big = tt.zeros(8), tt.empty(8), tt.ones(4096)
    w = tt.ones(16, 8, requires_grad=True)
    p, q = tt.ones(8, requires_grad=True), tt.ones(8, requires_grad=True)
    return {"relu": lambda: F.relu(a), "exp": lambda: tt.exp(a), "mul_scalar": lambda: a * 2.0,
            "add_scalar": lambda: a + 1, "div_scalar": lambda: a / 2.0, "mul_recording": lambda: p * q,
            "mul_scalar_recording": lambda: p * 2.0, "div_recording": lambda: p / q,
            "sum": lambda: a.sum(), "mean": lambda: a.mean(),
            "sum_dim": lambda: m.sum(1), "matmul": lambda: m @ m, "index": lambda: m[0],
            "view": lambda: a.view(2, 4), "transpose_param": lambda: w.t(),
            "log": lambda: tt.log(a), "sqrt": lambda: tt.sqrt(a), "sin": lambda: tt.sin(a), "tanh": lambda: tt.tanh(a),
            "sigmoid": lambda: tt.sigmoid(a), "abs": lambda: tt.abs(a), "exp_method": lambda: a.exp(),
            "exp_inplace": lambda: c.exp_(), "exp_out": lambda: tt.exp(a, out=o), "relu_inplace": lambda: F.relu_(c),
            "exp_4096": lambda: tt.exp(big), "relu_4096": lambda: F.relu(big), "gelu": lambda: F.gelu(a),
            "silu": lambda: F.silu(a), "leaky_relu": lambda: F.leaky_relu(a, 0.1),
            "exp_recording": lambda: tt.exp(p), "relu_recording": lambda: F.relu(p)}


def main() -> None:
    a, b = tt.ones(1), tt.ones(1)
    na, nb = np.ones(1, np.float32), np.ones(1, np.float32)
    ag, bg = tt.ones(1, requires_grad=True), tt.ones(1, requires_grad=True)
    epoch = _digits_epoch()
    epoch()  # warm-up: first-call imports and caches
    figures = {"numpy_add_us": [], "add_us": [], "add_recording_graph_us": []}
    ops = everyday_ops()
    for _ in range(7):  # interleaved, so that each ratio's two sides see the same machine load
        figures["numpy_add_us"].append(_best_us(lambda: np.add(na, nb), 20000, repeat=1))
        figures["add_us"].append(_best_us(lambda: tt.add(a, b), 20000, repeat=1))
        figures["add_recording_graph_us"].append(_best_us(lambda: tt.add(ag, b), 20000, repeat=1))
        for name, fn in ops.items():
            figures.setdefault(f"op_{name}_us", []).append(_best_us(fn, 2000, repeat=1))
    best = {k: min(v) for k, v in figures.items()}
    best.update({k[:-3] + "_x": v / best["numpy_add_us"] for k, v in list(best.items()) if k.startswith("op_")})
    forward_us, backward_us = chain_forward_backward_us(ag, b)
    print(json.dumps({
        **best,
        "add_x": best["add_us"] / best["numpy_add_us"],
        "add_recording_graph_x": best["add_recording_graph_us"] / best["numpy_add_us"],
        "chain_forward_us": forward_us,
        "chain_backward_us": backward_us,
        "chain_backward_x": backward_us / forward_us,
        "add_sum_backward_us": _best_us(lambda: (ag + bg).sum().backward(), 5000),
        **small_graph_backward_us(),
        "digits_adam_epoch_ms": min(timeit.repeat(epoch, number=1, repeat=5)) * 1e3,
    }))


if __name__ == "__main__":
    main()
