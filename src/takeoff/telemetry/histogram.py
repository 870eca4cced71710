"""Fixed histograms stored in rollups: a log-scale latency histogram and per-feature histograms on baseline bins.

Every rollup row carries these counts as plain lists / dicts of ints so they serialise to JSON and merge by
addition; drift checks, canary comparisons and latency SLOs then cost the same at 1e3 as at 1e9 events.

Latency layout (fixed forever, so any two rollups can be merged):
    bucket 0                    [0, 1 ms)             underflow
    bucket i, 1 <= i <= N       [E[i-1], E[i])        with E[k] = 1 ms * 10 ** (k / BUCKETS_PER_DECADE)
    bucket N + 1                [E[N], +inf)          overflow (E[N] >= 10 minutes)
Each regular bucket is 10 ** (1/26) - 1 = 9.3 % wide relative to its lower edge, so a quantile read from the
histogram is within one bucket (< 9.3 %) of the exact value.

Numeric feature layout: ``edges`` are the baseline's quantiles including its minimum and maximum (strictly
increasing); ``counts`` has ``len(edges) + 1`` entries: below the baseline minimum, one per edge interval, and
at or above the baseline maximum (the open ends catch values the baseline never saw).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

LATENCY_MIN_MS: float = 1.0
LATENCY_MAX_MS: float = 600_000.0  # 10 minutes: slower calls all land in the overflow bucket
BUCKETS_PER_DECADE: int = 26
_REGULAR_BUCKETS: int = math.ceil(math.log10(LATENCY_MAX_MS / LATENCY_MIN_MS) * BUCKETS_PER_DECADE)
BUCKET_COUNT: int = _REGULAR_BUCKETS + 2  # + underflow + overflow
LATENCY_EDGES_MS: tuple[float, ...] = tuple(
    LATENCY_MIN_MS * 10 ** (k / BUCKETS_PER_DECADE) for k in range(_REGULAR_BUCKETS + 1)
)
RELATIVE_BUCKET_WIDTH: float = 10 ** (1 / BUCKETS_PER_DECADE) - 1.0
DEFAULT_FEATURE_BINS: int = 100


def _check_ms(ms: Any) -> float:
    if isinstance(ms, bool) or not isinstance(ms, (int, float, np.integer, np.floating)):
        raise ValueError(f"latency must be a number of milliseconds, got {ms!r}")
    value = float(ms)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"latency must be a finite number >= 0 ms, got {ms!r}")
    return value


def bucket_index(ms: float) -> int:
    """Index of the fixed latency bucket holding a duration in milliseconds."""
    value = _check_ms(ms)
    # bisect on the stored edges (not log10 arithmetic) so single and batch bucketing agree at the edges
    return bisect.bisect_right(LATENCY_EDGES_MS, value)


def latency_counts(values_ms: Iterable[float] | np.ndarray) -> list[int]:
    """Latency histogram (length BUCKET_COUNT) of many durations at once, vectorised for batch ingestion."""
    arr = np.asarray(values_ms if isinstance(values_ms, np.ndarray) else list(values_ms), dtype=float)
    if arr.ndim != 1:
        raise ValueError("latencies must be a flat sequence of milliseconds")
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0):
        raise ValueError("latencies must be finite numbers >= 0 ms")
    idx = np.searchsorted(np.asarray(LATENCY_EDGES_MS), arr, side="right")
    counts: list[int] = np.bincount(idx, minlength=BUCKET_COUNT).astype(int).tolist()
    return counts


def check_counts(counts: Any, length: int | None = None, what: str = "counts") -> list[int]:
    """Validated copy of a bucket list: non-negative whole numbers, of the given length if one is given."""
    if isinstance(counts, (str, bytes, Mapping)) or not isinstance(counts, (Sequence, np.ndarray)):
        raise ValueError(f"{what} must be a list of non-negative integers")
    # fast path for the common case (a list of plain ints, as decoded from JSON); anything else is checked item by item
    try:
        arr = np.asarray(counts)
    except (TypeError, ValueError):
        arr = np.asarray([], dtype=object)
    if arr.ndim == 1 and arr.dtype.kind in "iu" and (arr.size == 0 or arr.min() >= 0):
        if length is not None and arr.size != length:
            raise ValueError(f"{what} must have {length} buckets, got {arr.size}")
        checked: list[int] = arr.tolist()
        return checked
    out: list[int] = []
    for c in counts:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) and not (
            isinstance(c, (float, np.floating)) and float(c).is_integer()
        ):
            raise ValueError(f"{what} must hold whole numbers, got {c!r}")
        if c < 0:
            raise ValueError(f"{what} must not be negative, got {c!r}")
        out.append(int(c))
    if length is not None and len(out) != length:
        raise ValueError(f"{what} must have {length} buckets, got {len(out)}")
    return out


def check_latency_counts(counts: Any) -> list[int]:
    """Validated copy of a latency histogram: BUCKET_COUNT non-negative whole numbers."""
    return check_counts(counts, BUCKET_COUNT, "latency histogram")


def quantile(counts: Sequence[int], q: float) -> float | None:
    """Latency quantile q (0..1) in ms from a fixed histogram, log-interpolated in its bucket; None if empty."""
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 <= float(q) <= 1.0:
        raise ValueError(f"quantile q must be a number between 0 and 1, got {q!r}")
    c = check_latency_counts(counts)
    total = sum(c)
    if total == 0:
        return None
    target = float(q) * total
    cumulative = 0
    for i, n in enumerate(c):
        if n == 0:
            continue
        if cumulative + n >= target:
            frac = (target - cumulative) / n
            if i == 0:
                return frac * LATENCY_MIN_MS
            if i == BUCKET_COUNT - 1:
                return LATENCY_EDGES_MS[-1]  # overflow: the best honest answer is its lower edge
            lo, hi = LATENCY_EDGES_MS[i - 1], LATENCY_EDGES_MS[i]
            return float(lo * (hi / lo) ** frac)
        cumulative += n
    return LATENCY_EDGES_MS[-1]  # pragma: no cover - unreachable as target <= total


def merge(a: Sequence[int] | Mapping[str, int], b: Sequence[int] | Mapping[str, int]) -> list[int] | dict[str, int]:
    """Sum two histograms of the same layout (lists of equal length, or category-count dicts) to roll them up."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        left, right = check_category_counts(a), check_category_counts(b)
        merged = dict(left)
        for key, n in right.items():
            merged[key] = merged.get(key, 0) + n
        return merged
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        raise ValueError("cannot merge a category-count dict with a bucket list")
    left_l, right_l = check_counts(a, what="histogram"), check_counts(b, what="histogram")
    if len(left_l) != len(right_l):
        raise ValueError(f"cannot merge histograms of different lengths ({len(left_l)} and {len(right_l)})")
    return [x + y for x, y in zip(left_l, right_l)]


def check_category_counts(counts: Any, what: str = "category counts") -> dict[str, int]:
    """Validated copy of categorical counts: string keys, non-negative whole-number values."""
    if not isinstance(counts, Mapping):
        raise ValueError(f"{what} must be a mapping of category -> count")
    out: dict[str, int] = {}
    for key, n in counts.items():
        if not isinstance(key, str):
            raise ValueError(f"{what} keys must be strings, got {key!r}")
        out[key] = check_counts([n], what=what)[0]
    return out


def _as_float_array(values: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of numbers")
    return arr


def baseline_edges(values: Sequence[float] | np.ndarray, n_bins: int = DEFAULT_FEATURE_BINS) -> list[float]:
    """Bin edges for a numeric feature: the baseline's quantiles (min and max included), duplicates dropped."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 1 <= n_bins <= 10_000:
        raise ValueError(f"n_bins must be an integer between 1 and 10000, got {n_bins!r}")
    arr = np.sort(_as_float_array(values, "baseline values"))  # NaN sorts last; numpy's SIMD sort beats quantile
    arr = arr[: arr.size - int(np.count_nonzero(np.isnan(arr)))]
    if arr.size == 0:
        raise ValueError("baseline has no values: cannot derive bin edges")
    if not (np.isfinite(arr[0]) and np.isfinite(arr[-1])):
        raise ValueError("baseline values must be finite")
    # lower order statistic (numpy's 'lower' quantile): edges stay on observed values, so a discrete feature
    # gets one bin per value instead of split midpoints
    ranks = np.floor(np.linspace(0.0, 1.0, n_bins + 1) * (arr.size - 1)).astype(np.int64)
    edges: list[float] = np.unique(arr[ranks]).tolist()
    return edges


def check_edges(edges: Any) -> np.ndarray:
    """Validated numeric bin edges: a non-empty, finite, strictly increasing sequence."""
    arr = _as_float_array(edges, "bin edges")
    if arr.size == 0:
        raise ValueError("bin edges must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError("bin edges must be finite numbers")
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValueError("bin edges must be strictly increasing")
    return arr


def bin_counts(values: Sequence[float] | np.ndarray, edges: Sequence[float]) -> list[int]:
    """Counts of values on baseline edges: len(edges)+1 bins, open below the first and above the last edge."""
    e = check_edges(edges)
    arr = _as_float_array(values, "feature values")
    if arr.size <= 64 * e.size:
        arr = arr[~np.isnan(arr)]  # missing values are counted by the rollup separately, not binned
        binned: list[int] = np.bincount(np.searchsorted(e, arr, side="right"), minlength=e.size + 1).astype(int).tolist()
        return binned
    # large batches: sorting once and locating the edges is faster than locating every value among the edges
    arr = np.sort(arr)
    n = arr.size - int(np.count_nonzero(np.isnan(arr)))  # NaN sorts last and is left out
    below = np.searchsorted(arr[:n], e, side="left")  # values < each edge
    counted: list[int] = np.diff(below, prepend=0, append=n).astype(int).tolist()
    return counted


def category_counts(values: Iterable[Any]) -> dict[str, int]:
    """Counts per category of a categorical feature (values turned to strings so keys serialise to JSON)."""
    if isinstance(values, (str, bytes)):
        raise ValueError("categorical values must be a sequence, not a single string")
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values))
    if arr.ndim != 1:
        raise ValueError("categorical values must be a flat sequence")
    if arr.size == 0:
        return {}
    keys, counts = np.unique(arr.astype(str), return_counts=True)
    return {str(k): int(n) for k, n in zip(keys, counts)}
