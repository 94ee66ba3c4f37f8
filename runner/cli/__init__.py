"""Command plumbing shared by the entry points: Hydra composition, the sweep callback, signals, the one-line error exit, the pre-import config check and the fast process end."""
