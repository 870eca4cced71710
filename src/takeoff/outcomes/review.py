"""Quarterly review: suggested actions per use case, each with the facts that triggered it.

The seed's quarterly rhythm: re-score the portfolio, retire low-impact efforts, scale the top performers to
new teams or regions, revisit governance controls based on incidents and audit findings; and guardrail
metrics "prevent harm and runaway costs", so a breached guardrail is fixed before anything else grows.
Priority scores are on ``takeoff.portfolio.scoring.priority``'s 0-100 scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Literal
from collections.abc import Sequence

ActionKind = Literal["retire", "scale", "fix_guardrail", "revisit_governance", "keep"]
ACTIONS: tuple[str, ...] = ("fix_guardrail", "revisit_governance", "retire", "scale", "keep")  # urgency order

REVIEW_STATUSES: tuple[str, ...] = ("discovered", "proposed", "pilot", "production", "paused", "retired")
RETIRE_BELOW_PRIORITY = 20.0  # a middling 3/3/3 use case scores 21.6
SCALE_MIN_PRIORITY = 40.0
SCALE_MIN_ADOPTION_TREND = 0.10  # +10 % active users quarter over quarter
FALLING_ADOPTION = -0.25  # −25 %: worth an adoption plan even when the use case is otherwise fine


@dataclass(frozen=True)
class UseCaseFacts:
    """What the quarter showed for one use case."""

    use_case: str
    status: str
    priority_score: float  # 0-100, from the latest re-score
    guardrail_breaches: int = 0  # guardrail metrics breached this quarter
    incidents: int = 0  # incidents opened this quarter
    audit_findings: int = 0  # audit findings open at some time in the quarter
    adoption_trend: float | None = None  # relative change in active users vs last quarter (0.15 = +15 %)
    finding_titles: tuple[str, ...] = ()  # those findings' titles (with severity), shown as reasons

    def __post_init__(self) -> None:
        if not isinstance(self.use_case, str) or not self.use_case.strip():
            raise ValueError("use_case must be a non-empty name")
        if self.status not in REVIEW_STATUSES:
            raise ValueError(f"status of {self.use_case!r} must be one of {', '.join(REVIEW_STATUSES)}, got {self.status!r}")
        p = self.priority_score
        if not isinstance(p, Real) or isinstance(p, bool) or not math.isfinite(float(p)) or not 0 <= p <= 100:
            raise ValueError(f"priority_score of {self.use_case!r} must be a number from 0 to 100, got {p!r}")
        for name in ("guardrail_breaches", "incidents", "audit_findings"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} of {self.use_case!r} must be a whole number >= 0, got {v!r}")
        titles = self.finding_titles
        if not isinstance(titles, tuple) or any(not isinstance(x, str) or not x.strip() for x in titles):
            raise ValueError(f"finding_titles of {self.use_case!r} must be a tuple of non-empty titles")
        if len(titles) > self.audit_findings:
            raise ValueError(f"{self.use_case!r} lists {len(titles)} finding title(s) for {self.audit_findings} finding(s)")
        t = self.adoption_trend
        if t is not None and (not isinstance(t, Real) or isinstance(t, bool) or not math.isfinite(float(t)) or t < -1):
            raise ValueError(f"adoption_trend of {self.use_case!r} must be a change ratio >= -1 (e.g. 0.15), got {t!r}")


@dataclass(frozen=True)
class Action:
    """A suggested action for one use case and the reasons behind it."""

    use_case: str
    action: ActionKind
    reasons: list[str]


def _pct(x: float) -> str:
    return f"{x * 100:+.0f} %"


def _for_one(f: UseCaseFacts) -> list[Action]:
    if f.status == "retired":
        return []
    out: list[Action] = []
    in_use = f.status in ("pilot", "production")
    trend = f.adoption_trend
    retire = f.status != "discovered" and f.priority_score < RETIRE_BELOW_PRIORITY and (trend is None or trend <= 0)
    # Fixing the guardrails of something about to be retired is wasted effort; retiring removes the harm.
    if f.guardrail_breaches and in_use and not retire:
        out.append(
            Action(
                f.use_case,
                "fix_guardrail",
                [f"{f.guardrail_breaches} guardrail breach(es) this quarter: fix before it grows (harm or runaway cost)"],
            )
        )
    gov: list[str] = []
    if f.status == "discovered":
        gov.append("found in telemetry but never registered (shadow AI): register it under governance or retire it")
    if f.incidents:
        gov.append(f"{f.incidents} incident(s) this quarter: review controls, approvals and oversight they slipped past")
    if f.audit_findings:
        gov.append(f"{f.audit_findings} audit finding(s) open during the quarter: update the controls they point at")
        gov.extend(f"audit finding: {t}" for t in f.finding_titles)
    if gov:
        out.append(Action(f.use_case, "revisit_governance", gov))

    if retire:
        why = [f"priority {f.priority_score:.1f} < {RETIRE_BELOW_PRIORITY:g}: low impact for its operational overhead"]
        if f.guardrail_breaches:
            why.append(f"{f.guardrail_breaches} guardrail breach(es) this quarter: retiring ends them")
        why.append("adoption unknown" if trend is None else f"adoption {_pct(trend)}: not growing")
        out.append(Action(f.use_case, "retire", why))
    elif (
        f.status == "production"
        and f.priority_score >= SCALE_MIN_PRIORITY
        and trend is not None
        and trend >= SCALE_MIN_ADOPTION_TREND
        and not f.guardrail_breaches
        and not f.incidents
    ):
        out.append(
            Action(
                f.use_case,
                "scale",
                [
                    f"top performer: priority {f.priority_score:.1f} >= {SCALE_MIN_PRIORITY:g}",
                    f"adoption {_pct(trend)} >= {_pct(SCALE_MIN_ADOPTION_TREND)}",
                    "no guardrail breach or incident this quarter: ready for new teams or regions",
                ],
            )
        )
    if not out:
        why = [f"priority {f.priority_score:.1f}, status {f.status}, no incident or audit finding"]
        if f.guardrail_breaches:
            why.append(f"{f.guardrail_breaches} guardrail breach(es) while {f.status}: fix before it is resumed")
        if trend is not None:
            why.append(f"adoption {_pct(trend)}")
            if trend <= FALLING_ADOPTION:
                why.append("adoption falling: plan training and enablement before the next review")
        if f.status == "production" and f.priority_score >= SCALE_MIN_PRIORITY and (trend is None or trend < SCALE_MIN_ADOPTION_TREND):
            why.append(f"scale once adoption grows {_pct(SCALE_MIN_ADOPTION_TREND)} or more in a quarter")
        out.append(Action(f.use_case, "keep", why))
    return out


def suggest_actions(items: Sequence[UseCaseFacts]) -> list[Action]:
    """Suggested quarterly actions, most urgent first (fix guardrails, revisit governance, retire, scale, keep)."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValueError("items must be a list of UseCaseFacts")
    seen: set[str] = set()
    actions: list[Action] = []
    for i, f in enumerate(items):
        if not isinstance(f, UseCaseFacts):
            raise ValueError(f"items[{i}] must be UseCaseFacts, got {type(f).__name__}")
        if f.use_case in seen:
            raise ValueError(f"use case {f.use_case!r} appears twice in the review")
        seen.add(f.use_case)
        actions.extend(_for_one(f))
    return sorted(actions, key=lambda a: (ACTIONS.index(a.action), a.use_case))
