"""Training and evaluation: the loop, the convex solver, model selection, thresholds, metrics."""
