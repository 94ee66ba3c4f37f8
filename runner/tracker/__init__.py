"""Experiment tracking: the tracker interface over MLflow, the store, credential redaction, the model registry."""
