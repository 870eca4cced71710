"""A run's aggregate figures: produced by the runner, judged by the pure gate (which must not import the runner's I/O)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunSummary:
    """Aggregate figures of a run: pass rate overall, per tag, per error category, usage, latency percentiles."""

    n: int
    passed: int
    pass_rate: float
    by_tag: dict[str, dict[str, float]]
    by_error_category: dict[str, int]
    tokens: dict[str, int]
    cost_usd: float | None
    cost_per_case_usd: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    mean_pass_share: float
    mean_agreement: float
    low_agreement_cases: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
