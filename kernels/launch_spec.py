"""How a kernels module declares its kernels to the autotuner and the ahead-of-time compile check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class KernelSpec:
    """One Triton kernel, as the AOT check compiles it and the tuner times it.

    Every kernels module lists its kernels in a module-level `SPECS: list[KernelSpec]`.

    The AOT check compiles each config twice, as Triton's JIT specialises a launch: "aligned" (every
    pointer 16-byte aligned, every integer argument a multiple of 16 except `indivisible`, the
    `unit_args` equal to 1 and so compile-time constants) and "unaligned" (no such facts). A
    `memory_bound` spec must reach 128-bit global loads or stores in its aligned build.
    """

    name: str  # unique, e.g. "elementwise.map[add]" or "matmul.fp16"
    kernel: object  # the @triton.jit function
    signature: dict[str, str]  # Triton types of the runtime args, e.g. {"x_ptr": "*fp32", "n": "i32"}
    constexprs: dict = field(default_factory=dict)  # constexpr args fixed for this spec (OP, N_IN, ...)
    configs: list[dict] = field(default_factory=list)  # shipped configs: constexprs + num_warps/stages
    space: list[dict] = field(default_factory=list)  # the full tuning space (autotune "max" / AOT --full)
    tensor_cores: bool = False  # must compile to mma (sm_80) / wgmma (sm_90)
    single: str = ""  # why one config is optimal, where `space` and `configs` hold just one
    # Bound by memory traffic: its aligned build must use 128-bit global accesses. None: the default,
    # `not tensor_cores` (a spec that cannot vectorise says False, with a why-comment beside it); a function
    # of the config when only some of its configs can (see `bound_by_memory`).
    memory_bound: bool | Callable[[dict], bool] | None = None
    # Integer args equal to 1 at a contiguous launch (innermost strides, padded size-1 dims): the JIT
    # makes them constants, which is what lets loads vectorise. None: inferred from the argument names
    # (autotune.aot.unit_args); () says none.
    unit_args: tuple[str, ...] | None = None
    # Integer args that are never multiples of 16 at launch (the aligned build gives them no
    # divisibility fact), e.g. an odd constant the wrapper always passes.
    indivisible: tuple[str, ...] = ()
    # The AOT targets this kernel exists for, e.g. ("sm_90",) for a TMA/wgmma-only kernel; () = all.
    targets: tuple[str, ...] = ()
    # Why this spec's sm_90 build may use Ampere's mma instead of wgmma (empty: wgmma is required there), e.g.
    # a tile whose wgmma-sized variant (64 rows per warpgroup) spills.
    mma_on_sm90: str = ""

    def __post_init__(self) -> None:
        if self.memory_bound is None:  # frozen: the derived default is set once, here
            object.__setattr__(self, "memory_bound", not self.tensor_cores)

    def bound_by_memory(self, config: dict) -> bool:
        """Whether `config`'s aligned build must reach 128-bit global accesses (the AOT width rule)."""
        return bool(self.memory_bound(config) if callable(self.memory_bound) else self.memory_bound)
