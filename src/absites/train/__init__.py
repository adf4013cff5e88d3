"""Training stage: seeded fits on CPU or CUDA, checkpoints, resume; runs from configs."""
