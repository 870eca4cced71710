"""Release gate on an eval run: pass rate judged with a Wilson interval, plus latency and cost budgets.

A gate never passes silently on thin evidence: when the interval straddles the minimum pass rate the status is
'inconclusive', and the policy setting ``inconclusive_blocks`` decides whether that blocks the release.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from scipy.stats import norm

from takeoff.evals.summary import RunSummary

GateStatus = Literal["pass", "fail", "inconclusive"]


def wilson_interval(passes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a pass rate; honest at small n and near 0 or 1, unlike the normal interval."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError("n must be a positive integer (no cases, no interval)")
    if isinstance(passes, bool) or not isinstance(passes, int) or not 0 <= passes <= n:
        raise ValueError("passes must be an integer between 0 and n")
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError("confidence must be a number strictly between 0 and 1")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = passes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict, whether it blocks the release, and every reason with its figures."""

    status: GateStatus
    blocks: bool
    reasons: list[str] = field(default_factory=list)
    pass_rate: float = 0.0
    interval: tuple[float, float] | None = None
    n: int = 0


def _check_rate(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1")
    return float(value)


def _check_budget(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number >= 0 or None")
    return float(value)


def _judge_budget(statuses: list[GateStatus], reasons: list[str], value: float | None, limit: float, *, unknown: str,
                  figure: str, budget: str) -> None:
    """A per-case budget: unknown is inconclusive (never a silent pass), over the limit fails, else passes."""
    if value is None:
        statuses.append("inconclusive")
        reasons.append(unknown)
    elif value > limit:
        statuses.append("fail")
        reasons.append(f"{figure} exceeds the budget of {budget}")
    else:
        statuses.append("pass")
        reasons.append(f"{figure} within the budget of {budget}")


def judge_gate(
    summary: RunSummary,
    min_pass_rate: float,
    latency_budget_p95_ms: float | None = None,
    cost_budget_per_case: float | None = None,
    inconclusive_blocks: bool = True,
    confidence: float = 0.95,
) -> GateResult:
    """Pass only if the whole interval clears the minimum and budgets hold; fail if any check fails outright."""
    if not isinstance(summary, RunSummary):
        raise ValueError("judge_gate expects a RunSummary")
    min_pass_rate = _check_rate(min_pass_rate, "min_pass_rate")
    latency_budget = _check_budget(latency_budget_p95_ms, "latency_budget_p95_ms")
    cost_budget = _check_budget(cost_budget_per_case, "cost_budget_per_case")
    _check_rate(confidence, "confidence")
    statuses: list[GateStatus] = []
    reasons: list[str] = []
    interval: tuple[float, float] | None = None
    pct = f"{confidence:.0%}"
    if summary.n == 0:
        statuses.append("inconclusive")
        reasons.append("no cases were evaluated: pass rate unknown")
    else:
        low, high = wilson_interval(summary.passed, summary.n, confidence)
        interval = (low, high)
        figures = (f"pass rate {summary.pass_rate:.1%} ({summary.passed}/{summary.n}), {pct} interval "
                   f"[{low:.1%}, {high:.1%}], minimum {min_pass_rate:.1%}")
        if low >= min_pass_rate:
            statuses.append("pass")
            reasons.append(f"{figures}: the whole interval clears the minimum")
        elif high < min_pass_rate:
            statuses.append("fail")
            reasons.append(f"{figures}: the whole interval is below the minimum")
        else:
            statuses.append("inconclusive")
            reasons.append(f"{figures}: the interval straddles the minimum; more cases are needed to decide")
    if latency_budget is not None:
        p95 = summary.latency_p95_ms
        _judge_budget(statuses, reasons, p95, latency_budget,
                      unknown=f"latency p95 unknown (no successful calls), budget {latency_budget:g} ms",
                      figure=f"latency p95 {p95:.0f} ms" if p95 is not None else "", budget=f"{latency_budget:g} ms")
    if cost_budget is not None:
        cpc = summary.cost_per_case_usd
        _judge_budget(statuses, reasons, cpc, cost_budget,
                      unknown=f"cost per case unknown (the target reports no cost), budget ${cost_budget:g}",
                      figure=f"cost per case ${cpc:.6f}" if cpc is not None else "", budget=f"${cost_budget:g}")
    status: GateStatus = "fail" if "fail" in statuses else "inconclusive" if "inconclusive" in statuses else "pass"
    blocks = status == "fail" or (status == "inconclusive" and bool(inconclusive_blocks))
    if status == "inconclusive":
        reasons.append("inconclusive blocks the release (policy)" if blocks
                       else "inconclusive does not block the release (policy), flagged for review")
    return GateResult(status, blocks, reasons, summary.pass_rate, interval, summary.n)
