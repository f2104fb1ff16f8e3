"""The device's roofline: peak DRAM bandwidth and FLOP/s, and how close a timed kernel comes to them.

Bandwidth comes from the memory clock and bus width the driver reports (double data rate). Peak
FLOP/s is SM count x clock x FLOPs per SM per clock, and the last factor is not a device attribute:
it comes from the table below, per architecture and operand type (dense, no sparsity), from
NVIDIA's architecture whitepapers.
"""

from __future__ import annotations

from dataclasses import dataclass

# FLOPs per SM per clock (an FMA counts 2), dense. "tc16": fp16/bf16 tensor cores with fp32
# accumulation; "tf32": TF32 tensor cores; "fp32"/"fp64": the CUDA cores' FMA units.
FLOPS_PER_SM_CLOCK = {
    (8, 0): {"tc16": 2048, "tf32": 1024, "fp32": 128, "fp64": 64},  # A100
    (8, 6): {"tc16": 1024, "tf32": 512, "fp32": 256, "fp64": 4},  # A10 / A40 (GeForce halves tc16)
    (8, 9): {"tc16": 1024, "tf32": 512, "fp32": 256, "fp64": 4},  # L4 / L40S
    (9, 0): {"tc16": 4096, "tf32": 2048, "fp32": 256, "fp64": 128},  # H100 / H200
    (10, 0): {"tc16": 8192, "tf32": 4096, "fp32": 256, "fp64": 128},  # B200
    (12, 0): {"tc16": 1024, "tf32": 512, "fp32": 256, "fp64": 4},  # RTX 50
}
_NEAREST_OLDER = sorted(FLOPS_PER_SM_CLOCK)


@dataclass(frozen=True)
class Peak:
    """What one device can do at most: DRAM bytes/s and FLOP/s per operand class."""

    name: str
    capability: tuple[int, int]
    bandwidth: float  # bytes / s
    flops: dict[str, float]  # operand class ("tc16", "tf32", "fp32", "fp64") -> FLOP / s
    sm_count: int

    def flops_for(self, dtype: str, tensor_cores: bool) -> float:
        """Peak FLOP/s for a kernel on `dtype` operands ("fp16", "bf16", "fp32", "tf32", "fp64", ...)."""
        if tensor_cores and dtype in ("fp16", "bf16", "float16", "bfloat16"):
            return self.flops["tc16"]
        if tensor_cores and dtype == "tf32":
            return self.flops["tf32"]
        return self.flops["fp64" if dtype in ("fp64", "float64") else "fp32"]

    def ridge(self, dtype: str, tensor_cores: bool) -> float:
        """Arithmetic intensity (FLOP/byte) above which a kernel is compute-bound."""
        return self.flops_for(dtype, tensor_cores) / self.bandwidth


def peak_from_properties(name: str, capability: tuple[int, int], sm_count: int, clock_khz: float,
                         memory_clock_khz: float, bus_width_bits: int) -> Peak:
    """A Peak from the driver's attributes (clocks in kHz, as CUDA reports them)."""
    table = FLOPS_PER_SM_CLOCK.get(tuple(capability))
    if table is None:  # a newer or unlisted chip: its closest older architecture's rates
        older = [c for c in _NEAREST_OLDER if c <= tuple(capability)] or _NEAREST_OLDER[:1]
        table = FLOPS_PER_SM_CLOCK[older[-1]]
    bandwidth = 2.0 * memory_clock_khz * 1e3 * bus_width_bits / 8.0
    flops = {k: float(v) * sm_count * clock_khz * 1e3 for k, v in table.items()}
    return Peak(name, tuple(capability), bandwidth, flops, int(sm_count))


# An H100 SXM by its data sheet (132 SMs at the 1830 MHz boost NVIDIA's peak figures use, 5120-bit HBM3 at
# 2619 MHz: 3.35 TB/s, 989 TFLOP/s fp16 dense): the roof a dry run without a GPU places launches under.
REFERENCE_PEAK = peak_from_properties("H100 SXM (data sheet)", (9, 0), 132, 1_830_000, 2_619_000, 5120)


def device_peak(index: int = 0) -> Peak:
    """The Peak of CUDA device `index`, read through cuda.core."""
    from tritensor.cuda import driver

    p = driver.properties(index)
    return peak_from_properties(driver.name(index), driver.capability(index), int(p.multiprocessor_count),
                                float(p.clock_rate), float(p.memory_clock_rate), int(p.global_memory_bus_width))


@dataclass(frozen=True)
class RooflinePoint:
    """One timed launch placed on the roofline."""

    time_ms: float
    bytes: float
    flops: float
    dtype: str
    tensor_cores: bool = False

    @property
    def gbps(self) -> float:
        return self.bytes / self.time_ms / 1e6

    @property
    def tflops(self) -> float:
        return self.flops / self.time_ms / 1e9

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else float("inf")

    def bound(self, peak: Peak) -> str:
        """"memory" or "compute": which roof limits this kernel."""
        return "compute" if self.intensity >= peak.ridge(self.dtype, self.tensor_cores) else "memory"

    def percent_of_peak(self, peak: Peak) -> float:
        """Achieved fraction of the roof that limits this kernel, in percent."""
        if self.bound(peak) == "compute":
            return 100.0 * self.tflops * 1e12 / peak.flops_for(self.dtype, self.tensor_cores)
        return 100.0 * self.gbps * 1e9 / peak.bandwidth
