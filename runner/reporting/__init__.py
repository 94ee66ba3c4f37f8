"""What a person reads: the data report, plots, and the statistics of comparisons."""
