"""Portfolio input/output shapes, including the typed scale targets other floors read as SLOs and gates."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Inputs refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class ScaleTargets(Strict):
    """Measurable targets of the seed's 'cost and performance' and 'risk and trust' dimensions."""

    cost_per_task_usd: float | None = Field(default=None, ge=0)
    latency_p95_ms: float | None = Field(default=None, gt=0)
    uptime_pct: float | None = Field(default=None, gt=0, le=100)
    throughput_per_min: float | None = Field(default=None, gt=0)
    min_eval_pass_rate: float | None = Field(default=None, ge=0, le=1)
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    unacceptable_failures: list[str] = Field(default_factory=list)


class Metric(Strict):
    """A KPI or guardrail: what is measured, in which unit, which way is good, from where to where."""

    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=40)
    direction: Literal["higher_is_better", "lower_is_better"]
    baseline: float | None = None
    target: float | None = None


class Kpis(Strict):
    """One north-star KPI and exactly two guardrails (the seed's rule)."""

    north_star: Metric
    guardrails: list[Metric] = Field(min_length=2, max_length=2)
