"""What the one tuning path adds to a kernel launch once a key has been seen: the memo lookup (one dict hit),
the observer check and the launch-depth counter, against calling the launch closure directly.

Target (issue 10): after the first call the config lookup is one dict hit, so a launch through
`tuning.launch` costs a fraction of a microsecond more than a direct call (a Triton launch itself takes
tens of microseconds on a GPU). Compare the means within the group; the machine is shared and noisy.
Run: python -m pytest bench/test_tuning_overhead.py --benchmark-only -q
"""

import pytest
from tritensor.kernels import tuning
from tritensor.kernels.elementwise import MAP_TUNING

from tritensor import autotune


def _noop(config):
    return None


# The elementwise map's own key and sizes for a 4096x4096 fp32 add (kernels/elementwise.py builds them so).
KEY = ("add", "float32", tuning.next_pow2(4096 * 4096))
SIZES = dict(numel=4096 * 4096, itemsizes=12)


@pytest.fixture(scope="module")
def warm_key():
    # What is measured is the path after the choice: choose by the heuristic (a GPU's tuner would time here).
    tuning.install_selector(tuning.heuristic_selector)
    config = tuning.launch(MAP_TUNING, KEY, SIZES, _noop)  # the first call chooses and memoises
    yield config
    tuning.install_selector(autotune.select_for_launch)


@pytest.mark.benchmark(group="launch-path")
def test_direct_call(benchmark, warm_key):
    config = dict(warm_key)
    benchmark(_noop, config)


@pytest.mark.benchmark(group="launch-path")
def test_dict_hit(benchmark, warm_key):
    memo = {(id(MAP_TUNING), KEY): warm_key}
    assert benchmark(memo.get, (id(MAP_TUNING), KEY)) == warm_key


@pytest.mark.benchmark(group="launch-path")
def test_tuning_launch_on_a_warm_key(benchmark, warm_key):
    assert benchmark(tuning.launch, MAP_TUNING, KEY, SIZES, _noop) == warm_key


@pytest.mark.benchmark(group="launch-path")
def test_tuning_launch_with_the_key_built(benchmark, warm_key):
    def launch():  # as the map wrapper does it: the key and sizes are built per launch
        key = ("add", "float32", tuning.next_pow2(4096 * 4096))
        return tuning.launch(MAP_TUNING, key, dict(numel=4096 * 4096, itemsizes=12), _noop)

    assert benchmark(launch) == warm_key
