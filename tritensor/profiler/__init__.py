"""tt.profiler: what a model spends its time on, per op and per kernel launch, as torch.profiler."""
