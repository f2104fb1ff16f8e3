"""How a kernels module declares its kernels to the autotuner and the ahead-of-time compile check."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KernelSpec:
    """One Triton kernel, as the AOT check compiles it and the tuner times it.

    Every kernels module lists its kernels in a module-level `SPECS: list[KernelSpec]`.
    """

    name: str  # unique, e.g. "elementwise.map[add]" or "matmul.fp16"
    kernel: object  # the @triton.jit function
    signature: dict[str, str]  # Triton types of the runtime args, e.g. {"x_ptr": "*fp32", "n": "i32"}
    constexprs: dict = field(default_factory=dict)  # constexpr args fixed for this spec (OP, N_IN, ...)
    configs: list[dict] = field(default_factory=list)  # shipped configs: constexprs + num_warps/stages
    space: list[dict] = field(default_factory=list)  # the full tuning space (autotune "max" / AOT --full)
    tensor_cores: bool = False  # must compile to mma (sm_80) / wgmma (sm_90)
    single: str = ""  # why one config is optimal, where `space` and `configs` hold just one
