"""The one definition of a quantile: every median, p10, p90 or p99 the explorer shows is computed here.

Linear interpolation between order statistics (numpy's default, ``statistics.quantiles(method="inclusive")``,
Excel's PERCENTILE.INC): the median of an even count is the mean of the middle two. Backends whose clock
truncates (ONNX Runtime's profiler writes whole microseconds) correct on top of this, never instead of it.
"""

from __future__ import annotations

from typing import Sequence


def sorted_quantiles(values, qs: Sequence[float]):
    """The ``qs`` quantiles (0..1) of an already sorted 1-d numpy array, without numpy's per-call overhead
    (a report computes a few per layer). Returns a numpy array."""
    import numpy as np

    pos = np.asarray(qs, dtype=float) * (values.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, values.size - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def quantiles(values: Sequence[float], qs: Sequence[float]) -> list[float]:
    """The ``qs`` quantiles (0..1) of ``values``; NaN for each when there are none."""
    import numpy as np

    a = np.sort(np.asarray(values, dtype=float))
    if a.size == 0:
        return [float("nan")] * len(qs)
    return sorted_quantiles(a, qs).tolist()


def median(values: Sequence[float]) -> float:
    return quantiles(values, [0.5])[0]


__all__ = ["median", "quantiles", "sorted_quantiles"]
