"""Per-op dispatch overhead on the cpu path, against a baseline in the same run (the machine is shared and noisy).

Issue 21's targets, as ratios of the groups' means: one-element `tt.add` <= 2.0x NumPy's own `np.add`
("add-1-element"), the same add recording a graph <= 3.0x `np.add`, and the backward of a 20-node graph
<= 2x that graph's forward ("graph-20-nodes"). bench/overhead_probe.py prints the same ratios as one JSON line
(CPU time, interleaved), and bench/compare_revision.py compares them against an earlier revision.
"""

import numpy as np
import pytest

import tritensor as tt

CHAIN = 20


@pytest.mark.benchmark(group="add-1-element")
def test_numpy_add(benchmark):
    a, b = np.ones(1, np.float32), np.ones(1, np.float32)
    benchmark(np.add, a, b)


@pytest.mark.benchmark(group="add-1-element")
def test_tritensor_add(benchmark):
    a, b = tt.ones(1), tt.ones(1)
    result = benchmark(tt.add, a, b)
    assert result.tolist() == [2.0]


@pytest.mark.benchmark(group="add-1-element")
def test_tritensor_add_operator(benchmark):
    a, b = tt.ones(1), tt.ones(1)
    result = benchmark(lambda: a + b)
    assert result.tolist() == [2.0]


@pytest.mark.benchmark(group="add-1-element")
def test_tritensor_add_recording_graph(benchmark):
    a, b = tt.ones(1, requires_grad=True), tt.ones(1)
    result = benchmark(tt.add, a, b)
    assert result.grad_fn is not None


@pytest.mark.benchmark(group="add-1-element")
def test_tritensor_add_and_backward(benchmark):
    a, b = tt.ones(1, requires_grad=True), tt.ones(1, requires_grad=True)

    def step():
        (a + b).sum().backward()

    benchmark(step)
    assert a.grad.item() > 0


def _chain(leaf, other):
    x = leaf
    for _ in range(CHAIN):
        x = x + other
    return x


@pytest.mark.benchmark(group="graph-20-nodes")
def test_graph_forward(benchmark):
    leaf, other = tt.ones(1, requires_grad=True), tt.ones(1)
    out = benchmark(_chain, leaf, other)
    assert out.item() == CHAIN + 1


@pytest.mark.benchmark(group="graph-20-nodes")
def test_graph_backward(benchmark):
    leaf, other, seed = tt.ones(1, requires_grad=True), tt.ones(1), tt.ones(1)
    # A fresh graph per round (built outside the timing): backward frees what its nodes saved.
    benchmark.pedantic(lambda out: out.backward(seed), setup=lambda: ((_chain(leaf, other),), {}), rounds=2000)
    assert leaf.grad.item() > 0
