"""Portfolio input/output shapes (the use-case view returned), including the typed scale targets other floors read as SLOs and gates."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from takeoff.core.types import Count, Input, Output


class Strict(Input):
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


SLUG = r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$"
BOTTLENECKS = ("data_access", "approvals", "skills", "tooling")


class ScaleDefinition(Strict):
    """The seed's six dimensions of "what scales means", each written down for this use case."""

    users_and_workflows: str | None = Field(default=None, max_length=2000)
    regions_and_regulations: str | None = Field(default=None, max_length=2000)
    breadth: str | None = Field(default=None, max_length=2000)
    model_vendor_set: str | None = Field(default=None, max_length=2000)
    cost_and_performance: str | None = Field(default=None, max_length=2000)
    risk_and_trust: str | None = Field(default=None, max_length=2000)


class TierFactorsIn(Strict):
    """The five answers the risk-tier rule reads."""

    harm_if_wrong: int = Field(ge=1, le=5)
    decision_mode: Literal["assist", "automate"]
    personal_data: bool
    regulated_domain: bool
    external_users: bool


class UseCaseIn(Strict):
    """Intake of a use case (create, or full replace through apply). Required-info checks happen in the service
    so one message can name every missing item."""

    key: str = Field(pattern=SLUG)
    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(default="", max_length=5000)
    team: str = Field(default="", max_length=200)
    workflows: list[str] = Field(default_factory=list)
    expected_users: Count | None = None
    user_groups: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    system_of_record: str = Field(default="", max_length=200)
    data_sources: list[str] = Field(default_factory=list)
    business_owner: str | None = None
    product_owner: str | None = None
    on_call: str | None = Field(default=None, max_length=200)
    biggest_bottleneck: Literal["data_access", "approvals", "skills", "tooling"] | None = None
    risk_constraint: str = Field(default="", max_length=2000)
    monthly_volume: Count | None = None
    scale: ScaleDefinition = Field(default_factory=ScaleDefinition)
    targets: ScaleTargets = Field(default_factory=ScaleTargets)
    kpis: Kpis | None = None
    risk_tier: Literal["low", "medium", "high"] | None = None
    risk_factors: TierFactorsIn | None = None
    risk_justification: str | None = Field(default=None, max_length=2000)


class UseCasePatch(Strict):
    """Partial update of a use case's intake, inventory, scale and targets (risk tier has its own routes)."""

    name: str = Field(default=None, min_length=1, max_length=200)
    purpose: str = Field(default=None, min_length=1, max_length=5000)
    team: str = Field(default=None, max_length=200)
    workflows: list[str] = Field(default=None)
    expected_users: Count | None = None
    user_groups: list[str] = Field(default=None)
    regions: list[str] = Field(default=None)
    languages: list[str] = Field(default=None)
    system_of_record: str = Field(default=None, max_length=200)
    data_sources: list[str] = Field(default=None, min_length=1)
    business_owner: str | None = None
    product_owner: str | None = None
    on_call: str | None = Field(default=None, max_length=200)
    biggest_bottleneck: Literal["data_access", "approvals", "skills", "tooling"] | None = None
    risk_constraint: str = Field(default=None, max_length=2000)
    monthly_volume: Count | None = None
    scale: ScaleDefinition = Field(default=None)
    targets: ScaleTargets = Field(default=None)
    kpis: Kpis | None = None


class TransitionIn(Strict):
    """A lifecycle move with its reason."""

    to: str = Field(min_length=1, max_length=16)
    reason: str = Field(min_length=1, max_length=2000)


LensIn = float | dict[str, float]


class ScoreIn(Strict):
    """One scorer's scores: each lens a 1-5 number or a dict of the seed's criteria (1-5 each)."""

    value: LensIn
    feasibility: LensIn
    risk: LensIn
    scored_on: date | None = None
    scorer: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=2000)


class OverrideIn(Strict):
    """A risk-tier override with its justification."""

    tier: Literal["low", "medium", "high"]
    justification: str = Field(max_length=2000)


class UseCaseOut(Output):
    """A use case as the API returns it: intake, status, risk tier and EU AI Act classification, allowed moves."""

    key: str
    name: str
    purpose: str
    team: str
    workflows: list[Any]
    expected_users: int | None
    user_groups: list[Any]
    regions: list[Any]
    languages: list[Any]
    system_of_record: str
    data_sources: list[Any]
    business_owner: str | None
    product_owner: str | None
    on_call: str | None
    biggest_bottleneck: str | None
    risk_constraint: str
    monthly_volume: int | None
    scale: dict[str, Any]
    targets: dict[str, Any]
    kpis: dict[str, Any]
    status: str
    paused_from: str | None
    discovered: bool
    status_changed_at: str | None
    risk_tier: str | None
    risk_tier_suggested: str | None
    risk_tier_reasons: list[Any]
    risk_factors: dict[str, Any]
    risk_override: dict[str, Any]
    eu_category: str | None
    eu_answers: dict[str, Any]
    eu_result: dict[str, Any]
    created_at: str
    updated_at: str | None
    allowed_transitions: list[str]


class UseCaseListOut(Output):
    """Use cases by key."""

    use_cases: list[UseCaseOut]
