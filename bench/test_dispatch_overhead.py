"""Per-op dispatch overhead: a one-element add through tritensor against the same add in plain NumPy.

Targets (issue 2): <= 3 us per op without grad, <= 6 us while recording a graph, on the cpu path.
Compare the groups' means in the same run: the machine is shared and noisy.
"""

import numpy as np
import pytest

import tritensor as tt


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
