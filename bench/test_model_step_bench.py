"""One training step of the CNN and of the small GPT (tritensor/benchmark/models.py: the models and sizes
`tritensor autotune --model` and `tritensor selftest` run) on the cpu path, against a hand-written NumPy step of
the same math on the same weights and batch (bench/numpy_cnn.py, bench/numpy_gpt.py; tests/bench checks they
compute the same losses and gradients). Issue 21 part 2 reports these ratios like the MLP's (target <= 1.2x).

Groups "cnn-step" and "gpt-step": compare the means within a group. The tritensor test also times both steps
interleaved (alternating runs, so load hits both alike) and records in benchmark.extra_info tritensor_ms,
numpy_ms and ratio (medians) and the same of the minima (tritensor_min_ms, numpy_min_ms, ratio_min). Nothing
asserts on time.

Issue 21 part 2 figures (CPU time, OPENBLAS_NUM_THREADS=1, minimum of 30 steps, tritensor and NumPy steps
alternated; 2d39909 and 2d39909 + the attention/views/linear/conv/pool cpu backward changes alternated as processes
in one run): gpt 6.85-6.94 -> 5.68-5.99 ms against NumPy's 1.66-1.72 ms (4.06x -> 3.42-3.48x); cnn 2.06-2.11 ->
2.01-2.02 ms against 0.76-0.78 ms (2.70-2.76x -> 2.61-2.68x).
Then the fused cpu linear + exact GELU keeping GELU's derivative from its forward (the backward no longer reruns
the erfc fit), Adam stepping a group's small parameters as one flat batch, and the step counts bumped in one pass
(c2e6a26 and c2e6a26 + these alternated as processes, 5 pairs, minimum of 40 steps each, on a machine other jobs
loaded): gpt 3.85-4.30x -> 3.38-3.65x NumPy's step (medians 3.92x -> 3.57x); cnn unchanged within the noise
(2.90-3.42x, 2.52-3.16x). In the same run, one linear + gelu forward and backward (64 x 32 -> 128) took 346-515
-> 249-370 us, and the GPT's Adam step (52 parameters) 1282-1501 -> 665-1062 us.

Run: python -m pytest bench/test_model_step_bench.py bench/test_memory_bench.py --benchmark-only
"""

import time

import numpy as np
import pytest
from numpy_cnn import numpy_twin_cnn, step_parts, tritensor_train_step
from numpy_gpt import numpy_twin_gpt

from tritensor.benchmark.models import cnn_step, gpt_step

MODELS = {"cnn": (cnn_step, numpy_twin_cnn), "gpt": (gpt_step, numpy_twin_gpt)}
ROUNDS = 30
INTERLEAVED = 15  # pairs of (tritensor, NumPy) steps timed alternately for the ratio


def _steps(name: str):
    """(tritensor step, NumPy step) of model `name`, each on its own copy of the same weights and batch."""
    build, twin = MODELS[name]
    model, optimizer, x, y = step_parts(build("cpu"))
    net = twin(model)
    xn, yn = x.numpy(), y.numpy()
    return tritensor_train_step(model, optimizer, x, y), lambda: net.step(xn, yn)


def interleaved_ratio(ours, baseline, pairs: int = INTERLEAVED) -> dict:
    """Median and minimum milliseconds of `ours` and `baseline` timed alternately, and their ratios (on a loaded
    machine the minimum is the steadier figure: load only ever adds time)."""
    times = ([], [])
    for _ in range(pairs):
        for fn, out in zip((ours, baseline), times):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1e3)
    (mine, theirs), (mine_min, theirs_min) = ((float(np.median(t)) for t in times), (min(t) for t in times))
    return {"tritensor_ms": round(mine, 3), "numpy_ms": round(theirs, 3), "ratio": round(mine / theirs, 2),
            "tritensor_min_ms": round(mine_min, 3), "numpy_min_ms": round(theirs_min, 3),
            "ratio_min": round(mine_min / theirs_min, 2)}


@pytest.mark.parametrize("name", list(MODELS))
def test_step_numpy(benchmark, name):
    benchmark.group = f"{name}-step"
    _, numpy_step = _steps(name)
    numpy_step()  # warm-up
    loss = benchmark.pedantic(numpy_step, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert np.isfinite(loss)


@pytest.mark.parametrize("name", list(MODELS))
def test_step_tritensor(benchmark, name):
    benchmark.group = f"{name}-step"
    tt_step, numpy_step = _steps(name)
    tt_step(), numpy_step()  # warm-up
    first = tt_step()
    loss = benchmark.pedantic(tt_step, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert np.isfinite(loss) and loss < first  # it trains
    benchmark.extra_info.update(interleaved_ratio(tt_step, numpy_step))
    print(f"\n{name}-step: {benchmark.extra_info}")
