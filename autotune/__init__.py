"""Config spaces, the tuner, its on-disk cache, the GPU timer and ahead-of-time compile checks."""
