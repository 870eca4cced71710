"""What every telemetry module shares: the input error, the window and key checks, epoch/datetime conversion and
a read's release selection."""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from takeoff.core.errors import Invalid
from takeoff.telemetry.ingest import release_key


class TelemetryInvalid(Invalid, ValueError):
    """Bad telemetry input: a 422 for the API and a ValueError for in-process callers."""


def epoch(dt: datetime) -> float:
    """Unix seconds of an aware datetime."""
    return dt.timestamp()


def dt(x: float) -> datetime:
    """The UTC datetime of Unix seconds."""
    return datetime.fromtimestamp(x, UTC)


@functools.lru_cache(maxsize=4096)
def _second_prefix(sec: int) -> str:
    return datetime.fromtimestamp(sec, UTC).isoformat(" ")[:19] + "."


def sqlite_time(x: float) -> str:
    """SQLAlchemy's SQLite DATETIME text of Unix seconds (every stored event, span and content row's time). A float
    in (0, 1e11) is split as datetime.fromtimestamp splits it (modf, microseconds rounded half to even, carried into
    the seconds) onto a cached per-second prefix: the same text without isoformat's ~3 us a call."""
    if type(x) is not float or not 0.0 < x < 1e11:
        return dt(x).isoformat(" ", "microseconds")[:26]
    frac, whole = math.modf(x)
    us, sec = round(frac * 1e6), int(whole)
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    return f"{_second_prefix(sec)}{us:06d}"


def check_window(start: datetime, end: datetime) -> None:
    """A read's window: timezone-aware and not empty."""
    for name, v in (("start", start), ("end", end)):
        if not isinstance(v, datetime) or v.tzinfo is None:
            raise TelemetryInvalid(f"{name} must be a timezone-aware datetime")
    if end <= start:
        raise TelemetryInvalid("end must be after start")


def check_key(use_case_key: str) -> None:
    """A use-case key as the telemetry tables hold it."""
    if not isinstance(use_case_key, str) or not use_case_key or len(use_case_key) > 64:
        raise TelemetryInvalid("use_case_key must be a non-empty string of at most 64 characters")


# A read's release selection: None = every release, one release id, or several ("" = events without a release).
Releases = str | Sequence[str] | None


def release_is(col: Any, use_case_key: str, release_id: str | Sequence[str]) -> Any:
    """The filter on a release column for one release id or any of several."""
    if isinstance(release_id, str):
        return col == release_key(use_case_key, release_id)
    return col.in_(sorted({release_key(use_case_key, r) for r in release_id}))
