"""Cost guards: estimate a step's cost from n and d *before* starting it, warn or refuse.

Several components cost super-linearly in the rows n or the features d (MCD, LOF, SVM-SMOTE,
whitening, the data report's label issues and domain classifier). On a wide or large table they
can run for minutes or hours without a word. Each one states its cost model (floating-point
operations, the usual big-O with its constant), the guard turns it into seconds at a nominal
``FLOPS`` rate (a deliberately modest figure for 2 shared cores; the estimate is an order of
magnitude, not a promise) and, before any work:

* above ``WARN_S`` seconds: a warning naming n, d, the estimate and the cheaper alternative;
* above the component's ``max_cost_s`` (a config parameter; ``null`` turns the guard off):
  a :class:`~components.errors.ConfigError` on one line with the same facts, within milliseconds;
  the data report's optional steps take their cheaper fallback instead, with a warning.
"""
from __future__ import annotations

import warnings
from typing import Annotated

from components.errors import ConfigError
from components.registry import Interval

FLOPS = 2e9  # nominal floating-point operations per second on the 2-core machine
WARN_S = 5.0  # estimates above this many seconds are announced
MaxCost = Annotated[float, Interval(0, None, "neither")] | None  # the config type of ``max_cost_s``


class CostWarning(UserWarning):
    """A step is expected to be slow on this table (the message names a cheaper alternative)."""


def estimate_seconds(flops: float) -> float:
    return float(flops) / FLOPS


def guard(
    key: str, what: str, n: int, d: int, flops: float, max_cost_s: float | None, cheaper: str, fallback: str | None = None
) -> bool:
    """Warn or refuse ``what`` (config key ``key``) before it starts.

    Returns True to go ahead. Above ``max_cost_s`` it raises a one-line ConfigError, or, for
    optional steps given a ``fallback`` (the data report's), warns that the fallback is taken
    and returns False.
    """
    seconds = estimate_seconds(flops)
    facts = f"{what} on n={n} rows x d={d} features is estimated at ~{seconds:.3g} s"
    if max_cost_s is not None and seconds > max_cost_s:
        if fallback is not None:
            warnings.warn(f"{facts} (> {key}.max_cost_s={max_cost_s:g}): {fallback} (raise {key}.max_cost_s to keep it).", CostWarning, stacklevel=2)
            return False
        raise ConfigError(f"{key}.max_cost_s: {facts} (> {key}.max_cost_s={max_cost_s:g}). {cheaper}, or raise {key}.max_cost_s.")
    if seconds > WARN_S:
        warnings.warn(f"{facts}; {cheaper}.", CostWarning, stacklevel=2)
    return True
