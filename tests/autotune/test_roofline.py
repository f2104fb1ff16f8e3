"""Peaks from the driver's attributes against the figures NVIDIA publishes, and placing a kernel on the roofline."""

import pytest
from tritensor.autotune.roofline import FLOPS_PER_SM_CLOCK, RooflinePoint, peak_from_properties

# (SMs, boost clock kHz, memory clock kHz, bus bits) as the driver reports them.
A100_SXM = peak_from_properties("NVIDIA A100-SXM4-80GB", (8, 0), 108, 1_410_000, 1_593_000, 5120)
H100_SXM = peak_from_properties("NVIDIA H100 80GB HBM3", (9, 0), 132, 1_980_000, 2_619_000, 5120)


def test_peaks_match_the_published_figures():
    assert A100_SXM.bandwidth / 1e9 == pytest.approx(2039, rel=0.01)  # A100 80GB SXM: 2039 GB/s
    assert A100_SXM.flops["tc16"] / 1e12 == pytest.approx(312, rel=0.01)  # dense fp16 tensor cores
    assert A100_SXM.flops["fp32"] / 1e12 == pytest.approx(19.5, rel=0.01)
    assert H100_SXM.bandwidth / 1e9 == pytest.approx(3352, rel=0.01)
    # 989 TFLOP/s is quoted at 1830 MHz; the driver reports the 1980 MHz boost clock.
    assert H100_SXM.flops["tc16"] / 1e12 == pytest.approx(989 * 1980 / 1830, rel=0.01)
    assert H100_SXM.flops["tf32"] == H100_SXM.flops["tc16"] / 2


def test_an_unlisted_newer_chip_takes_its_nearest_older_architecture():
    peak = peak_from_properties("future", (11, 0), 100, 2_000_000, 2_000_000, 4096)
    assert peak.flops["tc16"] == FLOPS_PER_SM_CLOCK[(10, 0)]["tc16"] * 100 * 2e9


def test_bound_and_percent_of_peak():
    # 16M fp32 adds: 3 x 64 MiB moved, 16M FLOPs -> intensity 1/12, memory-bound.
    n = 1 << 24
    add = RooflinePoint(time_ms=0.1, bytes=12.0 * n, flops=float(n), dtype="fp32")
    assert add.bound(H100_SXM) == "memory"
    assert add.gbps == pytest.approx(12 * n / 0.1e-3 / 1e9)
    assert add.percent_of_peak(H100_SXM) == pytest.approx(100 * add.gbps * 1e9 / H100_SXM.bandwidth)
    # A 4096^3 fp16 matmul: intensity ~1365 FLOP/B, far above the ridge (~320): compute-bound on tensor cores.
    mm = RooflinePoint(time_ms=0.2, bytes=3 * 4096 * 4096 * 2.0, flops=2.0 * 4096**3, dtype="fp16", tensor_cores=True)
    assert mm.bound(H100_SXM) == "compute"
    assert mm.percent_of_peak(H100_SXM) == pytest.approx(100 * mm.tflops * 1e12 / H100_SXM.flops["tc16"])
    fp32_mm = RooflinePoint(0.2, 3 * 4096 * 4096 * 4.0, 2.0 * 4096**3, "fp32")
    assert H100_SXM.ridge("fp32", False) < H100_SXM.ridge("fp16", True)
    assert fp32_mm.percent_of_peak(H100_SXM) == pytest.approx(100 * fp32_mm.tflops * 1e12 / H100_SXM.flops["fp32"])
