"""Benchmarks run on the cpu path unless a GPU is present; nothing here asserts on time."""
