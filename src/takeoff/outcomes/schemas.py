"""Outcome inputs: KPI measurements, ROI assumptions, usage policies, training, quarterly review decisions."""
from __future__ import annotations

import math
from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from takeoff.core.types import Input

AUDIENCES: tuple[str, ...] = ("executives", "managers", "frontline", "builders")
Audience = Literal["executives", "managers", "frontline", "builders"]


class Strict(Input):
    model_config = ConfigDict(extra="forbid")


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


class MeasurementIn(Strict):
    """One KPI value: which KPI (its name), the value in the KPI's unit, and the day it was measured."""

    kpi: str = Field(min_length=1, max_length=200)
    value: float
    unit: str = Field(min_length=1, max_length=40)
    measured_on: date
    note: str = Field(default="", max_length=2000)

    @field_validator("value")
    @classmethod
    def _finite_value(cls, v: float) -> float:
        return _finite(v)  # type: ignore[return-value]


class MeasurementsIn(Strict):
    """A list of measurements recorded together (all or nothing)."""

    measurements: list[MeasurementIn] = Field(min_length=1, max_length=5000)


class MeasurementsBody(MeasurementsIn):
    """The measurements route's body: `{"measurements": [...]}`, or one measurement object on its own (read as a
    list of one, so a problem is named `measurements.0.<field>` either way)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"description": "A list of measurements, or one "
                                                                 "measurement object on its own"})

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, data: Any) -> Any:
        if isinstance(data, dict) and "measurements" not in data:
            return {"measurements": [data]}
        return data


class RoiAssumptionsIn(Strict):
    """Money figures no system measures; costs, rates and volumes cannot be negative."""

    build_cost: float = Field(ge=0)
    infrastructure_cost_per_month: float = Field(default=0.0, ge=0)
    unit_value: float = Field(ge=0, description="money per one unit of north-star KPI change per task")
    review_hours_per_month: float | None = Field(default=None, ge=0,
                                                 description="default: measured from human review (annotation queues)")
    rework_hours_per_month: float = Field(default=0.0, ge=0)
    hourly_rate: float = Field(default=0.0, ge=0)
    cost_per_escalation: float = Field(default=0.0, ge=0)
    horizon_months: float = Field(default=12.0, gt=0, le=120)
    monthly_volume: float | None = Field(default=None, ge=0, description="tasks per month; default: telemetry or intake")
    telemetry_cost_per_month: float | None = Field(default=None, ge=0, description="default: measured from telemetry")
    escalations_per_month: float | None = Field(default=None, ge=0, description="default: measured from telemetry")
    kpi_current: float | None = Field(default=None, description="default: the latest north-star measurement")

    @field_validator("build_cost", "infrastructure_cost_per_month", "unit_value", "review_hours_per_month",
                     "rework_hours_per_month", "hourly_rate", "cost_per_escalation", "horizon_months",
                     "monthly_volume", "telemetry_cost_per_month", "escalations_per_month", "kpi_current")
    @classmethod
    def _finite_numbers(cls, v: float | None) -> float | None:
        return _finite(v)


class UsagePolicyIn(Strict):
    """Approved uses, prohibited uses, red flags that require escalation, when to trust and when to verify."""

    approved_uses: list[str] = Field(min_length=1, max_length=50)
    prohibited_uses: list[str] = Field(min_length=1, max_length=50)
    red_flags: list[str] = Field(default_factory=list, max_length=50)
    trust_vs_verify: str = Field(min_length=1, max_length=5000)

    @field_validator("approved_uses", "prohibited_uses", "red_flags")
    @classmethod
    def _lines(cls, v: list[str]) -> list[str]:
        out = [" ".join(x.split()) for x in v]
        if any(not x or len(x) > 500 for x in out):
            raise ValueError("each entry must be 1-500 characters")
        return out


class TrainingItemIn(Strict):
    """One enablement item for an audience of a use case."""

    audience: Audience
    title: str = Field(min_length=1, max_length=200)
    url: str = Field(default="", max_length=500)


class CompletionIn(Strict):
    """A person completed a training item (default: the caller)."""

    username: str | None = Field(default=None, min_length=1, max_length=100)


class ReviewIn(Strict):
    """Start a quarterly review (default: the current quarter)."""

    quarter: str | None = Field(default=None, pattern=r"^[1-9]\d{3}-Q[1-4]$",
                                description="e.g. 2026-Q4 (years 1000-9998)")

    @field_validator("quarter")
    @classmethod
    def _bounded(cls, v: str | None) -> str | None:
        if v is not None and int(v[:4]) > 9998:  # the quarter's end (the next one's start) must be a datetime
            raise ValueError("the year must be at most 9998")
        return v


class DecisionIn(Strict):
    """An accountable person's decision for a use case in a review."""

    use_case: str = Field(min_length=1, max_length=64)
    action: Literal["retire", "scale", "fix_guardrail", "revisit_governance", "keep"]
    rationale: str = Field(min_length=1, max_length=2000)


class WidgetFeedbackIn(Strict):
    """Feedback from the widget on the use-case page."""

    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=5000)
    time_saved_s: float | None = Field(default=None, ge=0, le=86400)
