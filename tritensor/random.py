"""Random number generation: a seedable Generator (NumPy's PCG64) and the default generator.

Random tensors are drawn on the host and moved to the target device, so a seed gives the same
values on cpu and cuda.
"""

from __future__ import annotations

import numpy as np


class Generator:
    """A seedable source of random numbers, as torch.Generator, backed by NumPy's PCG64.

    Pass it as `generator=` to `tt.rand`, `tt.randn`, `tt.randint`, `tt.randperm`, `tt.normal` and samplers.
    `device` is recorded only: values are always drawn on the host. `get_state`/`set_state` use the NumPy
    bit generator's state dict, not a ByteTensor as in PyTorch.

    >>> g = tt.Generator().manual_seed(0)
    >>> a = tt.rand(2, generator=g)
    >>> bool((a == tt.rand(2, generator=tt.Generator().manual_seed(0))).all())
    True
    """

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reseeds the generator with `seed` and returns it."""
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseeds the generator from OS entropy and returns the new seed."""
        seed = int(np.random.SeedSequence().entropy) % (2**63)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed last set with `manual_seed` or `seed`."""
        return self._seed

    def get_state(self) -> dict:
        """The current state (NumPy's bit-generator state dict; PyTorch returns a ByteTensor)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restores a state returned by `get_state`."""
        self._rng.bit_generator.state = state

    @property
    def numpy(self) -> np.random.Generator:
        """The underlying `numpy.random.Generator` (not in PyTorch)."""
        return self._rng


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seeds the default generator (used by every random function without `generator=`) and returns it.

    >>> _ = tt.manual_seed(0); a = tt.rand(3)
    >>> _ = tt.manual_seed(0); bool((a == tt.rand(3)).all())
    True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seeds the default generator from OS entropy and returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """The default generator's state (a NumPy bit-generator state dict, not a ByteTensor)."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restores the default generator's state from `get_rng_state()`."""
    default_generator.set_state(state)


def rng(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator behind `generator`, or behind the default generator when it is None (not in PyTorch)."""
    return (generator or default_generator).numpy
