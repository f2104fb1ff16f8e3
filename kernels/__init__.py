"""Triton kernels and their NumPy references, one module per op family (installed as tritensor.kernels)."""
