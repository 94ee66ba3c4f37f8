"""One job built from stages: the frame, the stages, their caches and the run's provenance."""
