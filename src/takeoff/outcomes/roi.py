"""ROI and payback period of a use case, with each figure's formula shown with its numbers.

The seed's FAQ: "start with baseline metrics for the workflow, estimate the change you can realistically
drive, and include operational costs like review time and monitoring. Payback is the time it takes for net
benefits to exceed total build and run costs." All money is in one currency, per month unless named total.

    run cost / month      = telemetry cost + infrastructure cost
    quality cost / month  = (review hours + rework hours) × hourly rate + escalations × cost per escalation
    benefit / month       = KPI change from baseline × unit value × monthly volume
                            (change = baseline − current when lower is better, current − baseline otherwise)
    net benefit / month   = benefit − run cost − quality cost
    total cost            = build cost + (run cost + quality cost) × horizon months
    total benefit         = benefit × horizon months
    ROI                   = (total benefit − total cost) / total cost
    payback               = build cost / net benefit per month, or "never" when net benefit <= 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from numbers import Real
from typing import Literal

NEVER = "never"
Direction = Literal["lower_is_better", "higher_is_better"]
DIRECTIONS: tuple[str, ...] = ("lower_is_better", "higher_is_better")


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _num(x: float) -> str:
    return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:,.0f}"


@dataclass(frozen=True)
class RoiInputs:
    """What a use case cost and what it changed; every cost, rate and volume is >= 0."""

    build_cost: float
    telemetry_cost_per_month: float  # model / vendor spend measured from telemetry
    infrastructure_cost_per_month: float
    kpi_baseline: float  # the north-star KPI per task before the use case
    kpi_current: float  # the same KPI now (or the realistic estimate)
    unit_value: float  # money per one unit of KPI change per task (e.g. 0.75 per minute of handle time)
    monthly_volume: float  # tasks per month
    kpi_direction: Direction = "lower_is_better"
    review_hours_per_month: float = 0.0
    rework_hours_per_month: float = 0.0
    hourly_rate: float = 0.0  # loaded cost of an hour of the people who review and rework
    escalations_per_month: float = 0.0
    cost_per_escalation: float = 0.0
    horizon_months: float = 12.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "kpi_direction":
                if v not in DIRECTIONS:
                    raise ValueError(f"kpi_direction must be one of {', '.join(DIRECTIONS)}, got {v!r}")
                continue
            if not isinstance(v, Real) or isinstance(v, bool) or not math.isfinite(float(v)):
                raise ValueError(f"{f.name} must be a finite number, got {v!r}")
            # KPI levels may be negative (e.g. a net promoter score); costs, rates and volumes cannot.
            if f.name not in ("kpi_baseline", "kpi_current") and v < 0:
                raise ValueError(f"{f.name} cannot be negative, got {v!r}")
        if self.horizon_months <= 0:
            raise ValueError(f"horizon_months must be greater than 0, got {self.horizon_months!r}")


@dataclass(frozen=True)
class RoiResult:
    """The figures, ROI and payback, with ``formulas[name]`` showing how each was computed."""

    build_cost: float
    run_cost_per_month: float
    quality_cost_per_month: float
    kpi_change: float
    benefit_per_month: float
    net_benefit_per_month: float
    total_cost: float
    total_benefit: float
    roi: float | None  # ratio (0.5 = 50 %); None when total cost is 0, where ROI is undefined
    payback_months: float | str  # months, or "never"
    horizon_months: float
    formulas: dict[str, str]

    @property
    def roi_percent(self) -> float | None:
        return None if self.roi is None else self.roi * 100.0


def compute_roi(inputs: RoiInputs) -> RoiResult:
    """ROI over the horizon and payback in months (or "never"), each with its formula and numbers."""
    if not isinstance(inputs, RoiInputs):
        raise ValueError(f"compute_roi needs RoiInputs, got {type(inputs).__name__}")
    i = inputs
    h = float(i.horizon_months)
    f: dict[str, str] = {}

    run = i.telemetry_cost_per_month + i.infrastructure_cost_per_month
    f["run_cost_per_month"] = (
        f"telemetry {_money(i.telemetry_cost_per_month)} + infrastructure {_money(i.infrastructure_cost_per_month)}"
        f" = {_money(run)}"
    )

    review = (i.review_hours_per_month + i.rework_hours_per_month) * i.hourly_rate
    escalations = i.escalations_per_month * i.cost_per_escalation
    quality = review + escalations
    f["quality_cost_per_month"] = (
        f"(review {_num(i.review_hours_per_month)} h + rework {_num(i.rework_hours_per_month)} h)"
        f" × {_money(i.hourly_rate)}/h + {_num(i.escalations_per_month)} escalations"
        f" × {_money(i.cost_per_escalation)} = {_money(quality)}"
    )

    if i.kpi_direction == "lower_is_better":
        change = i.kpi_baseline - i.kpi_current
        f["kpi_change"] = f"baseline {_num(i.kpi_baseline)} − current {_num(i.kpi_current)} = {_num(change)}"
    else:
        change = i.kpi_current - i.kpi_baseline
        f["kpi_change"] = f"current {_num(i.kpi_current)} − baseline {_num(i.kpi_baseline)} = {_num(change)}"

    benefit = change * i.unit_value * i.monthly_volume
    f["benefit_per_month"] = (
        f"change {_num(change)} × unit value {_money(i.unit_value)} × volume {_num(i.monthly_volume)}"
        f" = {_money(benefit)}"
    )

    net = benefit - run - quality
    f["net_benefit_per_month"] = f"{_money(benefit)} − {_money(run)} − {_money(quality)} = {_money(net)}"

    total_cost = i.build_cost + (run + quality) * h
    f["total_cost"] = (
        f"build {_money(i.build_cost)} + ({_money(run)} + {_money(quality)}) × {_num(h)} months = {_money(total_cost)}"
    )
    total_benefit = benefit * h
    f["total_benefit"] = f"{_money(benefit)} × {_num(h)} months = {_money(total_benefit)}"

    roi: float | None
    if total_cost > 0:
        roi = (total_benefit - total_cost) / total_cost
        f["roi"] = (
            f"({_money(total_benefit)} − {_money(total_cost)}) / {_money(total_cost)} = {roi * 100:,.1f} %"
        )
    else:
        roi = None
        f["roi"] = "undefined: total cost is 0"

    payback: float | str
    if net <= 0:
        payback = NEVER
        f["payback_months"] = (
            f"never: net benefit per month is {_money(net)} (benefit {_money(benefit)} does not exceed "
            f"run {_money(run)} + quality {_money(quality)})"
        )
    else:
        payback = i.build_cost / net
        f["payback_months"] = f"build {_money(i.build_cost)} / net {_money(net)} per month = {payback:,.2f} months"

    return RoiResult(
        build_cost=float(i.build_cost),
        run_cost_per_month=run,
        quality_cost_per_month=quality,
        kpi_change=change,
        benefit_per_month=benefit,
        net_benefit_per_month=net,
        total_cost=total_cost,
        total_benefit=total_benefit,
        roi=roi,
        payback_months=payback,
        horizon_months=h,
        formulas=f,
    )
