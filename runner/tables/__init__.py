"""Data into arrays: load/split/encode, the preprocessing pipeline, and the streamed path for tables above the memory budget."""
