"""Percentiles and medians of measured samples (None: not measured), for the report."""

from __future__ import annotations

import statistics
from typing import Iterable


def pct(samples: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; None for no samples."""
    if not samples:
        return None
    s = sorted(samples)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def med(values: Iterable[float | None]) -> float | None:
    """The median of the values that were measured; None if none was."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None
