"""The seven readiness items as pure functions over gathered evidence, and the "ready to scale" verdict.

The seed's production-ready checklist: data quality, decision ownership, evaluation, monitoring, security,
change management, fallbacks. Each item maps to one of the five pilot gaps (data and context, ownership,
reliability, security and privacy, adoption). A `Missing` value means the capability that would produce the
evidence is not installed, so the item is "no_evidence" naming it, never a guessed pass or fail.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Status = Literal["pass", "fail", "no_evidence"]
GAPS: tuple[str, ...] = ("data and context", "ownership", "reliability", "security and privacy", "adoption")
ITEMS: tuple[str, ...] = ("data_quality", "decision_ownership", "evaluation", "monitoring", "security",
                          "change_management", "fallbacks")
TITLES: dict[str, str] = {
    "data_quality": "Data quality", "decision_ownership": "Decision ownership", "evaluation": "Evaluation",
    "monitoring": "Monitoring", "security": "Security", "change_management": "Change management",
    "fallbacks": "Fallbacks",
}
GAP_OF: dict[str, str] = {
    "data_quality": "data and context", "decision_ownership": "ownership", "evaluation": "reliability",
    "monitoring": "reliability", "security": "security and privacy", "change_management": "adoption",
    "fallbacks": "reliability",
}
# The tier policy's checklist evidence kind that makes each item mandatory for a tier.
EVIDENCE_KIND_OF: dict[str, str] = {
    "data_quality": "data_sla_green", "decision_ownership": "owner_named", "evaluation": "eval_gate_passed",
    "monitoring": "monitoring_configured", "security": "audit_chain_verified", "change_management": "usage_policy",
    "fallbacks": "fallback_defined",
}
# Used only when the governance capability is absent: the default tier policies' mandatory items.
DEFAULT_MANDATORY: dict[str, frozenset[str]] = {
    "low": frozenset({"decision_ownership", "evaluation", "monitoring"}),
    "medium": frozenset({"decision_ownership", "evaluation", "monitoring", "fallbacks", "change_management",
                         "data_quality"}),
    "high": frozenset(ITEMS),
}
FRESH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Missing:
    """Evidence that cannot be gathered because a capability (module or function) is not in this build."""

    capability: str


@dataclass(frozen=True)
class DataQuality:
    """The data foundation's verdict (takeoff.data.evidence.data_quality_evidence)."""

    status: Status
    reasons: Sequence[str]


@dataclass(frozen=True)
class Ownership:
    business_owner: str | None
    north_star_kpi: str | None
    accountable: Sequence[str] | Missing  # RACI "accountable" people


@dataclass(frozen=True)
class Evaluation:
    eval_sets: int  # eval sets registered for the use case
    current_release: str | None  # production release id
    gate: Mapping[str, Any] | None  # latest gate of that release


@dataclass(frozen=True)
class Monitoring:
    last_event_at: datetime | None
    quality_seen: bool  # a quality score arrived in the last 24 h
    cost_seen: bool  # cost figures arrived in the last 24 h
    quality_rules: int | Missing  # alert rules on a quality metric
    cost_rules: int | Missing  # alert rules on a cost metric


@dataclass(frozen=True)
class Security:
    roles_in_use: Mapping[str, int]  # role -> active people holding it
    tokens_active: int
    tokens_with_expiry: int
    audit_entries: int
    audit_problem: str | None  # first chain problem, None when it verifies


@dataclass(frozen=True)
class ChangeManagement:
    usage_policy: bool
    release_notes: bool | Missing  # the current release has release notes
    feedback_30d: int | Missing


@dataclass(frozen=True)
class Fallbacks:
    fallback_models: Sequence[str] | Missing  # fallback models of the active releases
    fallback_events_30d: int | Missing  # fallbacks seen in telemetry


@dataclass(frozen=True)
class ReadinessEvidence:
    """Everything the diagnostic reads for one use case; each field may be Missing(capability)."""

    use_case: str
    risk_tier: str | None
    now: datetime
    data_quality: DataQuality | Missing
    ownership: Ownership
    evaluation: Evaluation | Missing
    monitoring: Monitoring | Missing
    security: Security
    change_management: ChangeManagement
    fallbacks: Fallbacks
    mandatory: frozenset[str] | None = None  # items the tier's policy makes mandatory (None: defaults)
    links: Mapping[str, str] = field(default_factory=dict)
    critical_findings: Sequence[str] | Missing = ()  # titles of open critical audit findings


@dataclass(frozen=True)
class ItemResult:
    """One readiness item: status, why, where the evidence is, which pilot gap it closes, and if mandatory."""

    item: str
    title: str
    status: Status
    reason: str
    evidence: str
    gap: str
    mandatory: bool


def _no(cap: Missing) -> tuple[Status, str]:
    return "no_evidence", f"no evidence: the {cap.capability} capability is not available in this build"


def check_data_quality(ev: ReadinessEvidence) -> tuple[Status, str]:
    """Critical data sources have owners, quality rules and green latest checks (the data foundation decides)."""
    d = ev.data_quality
    if isinstance(d, Missing):
        return _no(d)
    return d.status, "; ".join(d.reasons) or "no reasons given"


def check_decision_ownership(ev: ReadinessEvidence) -> tuple[Status, str]:
    """A named business owner who is accountable for the north-star KPI."""
    o = ev.ownership
    if not o.business_owner:
        return "fail", "no business owner is named"
    if not o.north_star_kpi:
        return "fail", f"business owner {o.business_owner} is named but no north-star KPI is defined"
    if isinstance(o.accountable, Missing):
        return _no(o.accountable)
    if o.accountable and o.business_owner not in o.accountable:
        return "fail", (f"business owner {o.business_owner} is not accountable in the RACI "
                        f"(accountable: {', '.join(o.accountable)})")
    how = "accountable in the RACI" if o.accountable else "owner of record (no other accountable person in the RACI)"
    return "pass", f"{o.business_owner} owns the north-star KPI '{o.north_star_kpi}', {how}"


def check_evaluation(ev: ReadinessEvidence) -> tuple[Status, str]:
    """An eval set that reflects real tasks and a passing gate on the current production release."""
    e = ev.evaluation
    if isinstance(e, Missing):
        return _no(e)
    if e.eval_sets == 0:
        return "fail", "no eval set is registered for this use case"
    if not e.current_release:
        return "fail", f"{e.eval_sets} eval set(s), but no release is in production"
    if not e.gate:
        return "fail", f"release {e.current_release} has no eval gate result"
    status = e.gate.get("status")
    rate = e.gate.get("pass_rate")
    shown = f" (pass rate {rate:.1%})" if isinstance(rate, (int, float)) else ""
    if status != "pass":
        return "fail", f"the gate on release {e.current_release} is {status}{shown}"
    return "pass", f"release {e.current_release} passed its eval gate{shown}"


def check_monitoring(ev: ReadinessEvidence) -> tuple[Status, str]:
    """Quality and cost metrics received in the last 24 hours, and at least one alert rule on each."""
    m = ev.monitoring
    if isinstance(m, Missing):
        return _no(m)
    problems = []
    if m.last_event_at is None:
        problems.append("no telemetry ever received")
    elif ev.now - m.last_event_at > FRESH_WINDOW:
        problems.append(f"last telemetry at {m.last_event_at:%Y-%m-%d %H:%M} UTC, more than 24 h ago")
    else:
        if not m.quality_seen:
            problems.append("no quality score received in the last 24 h")
        if not m.cost_seen:
            problems.append("no cost figures received in the last 24 h")
    for name, rules in (("quality", m.quality_rules), ("cost", m.cost_rules)):
        if isinstance(rules, Missing):
            if not problems:
                return _no(rules)
            problems.append(f"alert rules unknown ({rules.capability} capability missing)")
        elif rules < 1:
            problems.append(f"no alert rule on a {name} metric")
    if problems:
        return "fail", "; ".join(problems)
    return "pass", (f"quality and cost received in the last 24 h; {m.quality_rules} quality and "
                    f"{m.cost_rules} cost alert rule(s)")


def check_security(ev: ReadinessEvidence) -> tuple[Status, str]:
    """Least-privilege roles in use, API tokens that expire, and an audit chain that verifies."""
    s = ev.security
    problems = []
    people = sum(s.roles_in_use.values())
    admins = s.roles_in_use.get("admin", 0)
    if people == 0:
        problems.append("no active users")
    elif not any(r != "admin" and n for r, n in s.roles_in_use.items()):
        problems.append("every active user is an admin: no least-privilege role in use")
    never = s.tokens_active - s.tokens_with_expiry
    if never > 0:
        problems.append(f"{never} of {s.tokens_active} active API token(s) never expire")
    if s.audit_problem:
        problems.append(f"the audit chain does not verify: {s.audit_problem}")
    if problems:
        return "fail", "; ".join(problems)
    roles = ", ".join(f"{r} {n}" for r, n in sorted(s.roles_in_use.items()) if n)
    return "pass", (f"roles in use: {roles} ({admins} admin); all {s.tokens_active} active token(s) expire; "
                    f"audit chain of {s.audit_entries} entries verifies")


def check_change_management(ev: ReadinessEvidence) -> tuple[Status, str]:
    """A usage policy and release notes exist, and users' feedback flows in."""
    c = ev.change_management
    problems = []
    if not c.usage_policy:
        problems.append("no usage policy (approved and prohibited uses, red flags)")
    for cap in (c.release_notes, c.feedback_30d):
        if isinstance(cap, Missing):
            return ("fail", "; ".join(problems)) if problems else _no(cap)
    if not c.release_notes:
        problems.append("no production release with release notes")
    if not c.feedback_30d:
        problems.append("no user feedback in the last 30 days")
    if problems:
        return "fail", "; ".join(problems)
    return "pass", f"usage policy and release notes exist; {c.feedback_30d} feedback item(s) in 30 days"


def check_fallbacks(ev: ReadinessEvidence) -> tuple[Status, str]:
    """A fallback is defined on the active release and has been exercised (fallback events in telemetry)."""
    f = ev.fallbacks
    if isinstance(f.fallback_models, Missing):
        return _no(f.fallback_models)
    if not f.fallback_models:
        return "fail", "no fallback model is defined on the active release(s)"
    if isinstance(f.fallback_events_30d, Missing):
        return _no(f.fallback_events_30d)
    if f.fallback_events_30d == 0:
        return "fail", f"fallback {', '.join(f.fallback_models)} defined but never exercised in the last 30 days"
    return "pass", f"fallback {', '.join(f.fallback_models)} defined and exercised {f.fallback_events_30d} time(s) in 30 days"


CHECKS: dict[str, Callable[[ReadinessEvidence], tuple[Status, str]]] = {
    "data_quality": check_data_quality, "decision_ownership": check_decision_ownership,
    "evaluation": check_evaluation, "monitoring": check_monitoring, "security": check_security,
    "change_management": check_change_management, "fallbacks": check_fallbacks,
}


def mandatory_items(tier: str | None, evidence_kinds: Iterable[str] | None = None) -> frozenset[str]:
    """Items mandatory for a tier: those whose evidence kind the tier policy marks mandatory (or the defaults)."""
    if evidence_kinds is not None:
        kinds = set(evidence_kinds)
        return frozenset(i for i, k in EVIDENCE_KIND_OF.items() if k in kinds)
    if tier is None:
        return DEFAULT_MANDATORY["high"]  # an unclassified use case is held to the strictest bar
    if tier not in DEFAULT_MANDATORY:
        raise ValueError(f"risk tier must be low, medium or high, got {tier!r}")
    return DEFAULT_MANDATORY[tier]


def evaluate(ev: ReadinessEvidence) -> list[ItemResult]:
    """The seven items in the seed's order, each with status, reason, evidence link, pilot gap and mandatory flag."""
    if not isinstance(ev, ReadinessEvidence):
        raise ValueError(f"evaluate needs ReadinessEvidence, got {type(ev).__name__}")
    mandatory = ev.mandatory if ev.mandatory is not None else mandatory_items(ev.risk_tier)
    out = []
    for item in ITEMS:
        status, reason = CHECKS[item](ev)
        out.append(ItemResult(item, TITLES[item], status, reason, ev.links.get(item, ""), GAP_OF[item],
                              item in mandatory))
    return out


@dataclass(frozen=True)
class Verdict:
    """"ready to scale" or "not ready", with the reasons."""

    ready: bool
    label: str
    passed: int
    total: int
    reasons: list[str]


def verdict(items: Sequence[ItemResult], critical_findings: Sequence[str] | Missing = ()) -> Verdict:
    """Ready to scale when most items pass, no mandatory item of the tier fails or lacks evidence, and no critical
    audit finding is open (an auditor has named something that must be fixed before the use case grows)."""
    if not items or any(not isinstance(i, ItemResult) for i in items):
        raise ValueError("verdict needs the list of ItemResult from evaluate()")
    findings = [] if isinstance(critical_findings, Missing) else list(critical_findings)
    if isinstance(critical_findings, (str, bytes)) or any(not isinstance(t, str) for t in findings):
        raise ValueError("critical_findings must be a list of finding titles")
    passed = sum(1 for i in items if i.status == "pass")
    reasons = []
    blocking = [i for i in items if i.mandatory and i.status != "pass"]
    for i in blocking:
        reasons.append(f"mandatory item {i.title} is {'failing' if i.status == 'fail' else 'without evidence'}")
    for t in findings:
        reasons.append(f"open critical audit finding: {t}")
    most = passed * 2 > len(items)
    if not most:
        reasons.append(f"only {passed} of {len(items)} items pass; most must")
    ready = most and not blocking and not findings
    if ready:
        reasons.append(f"{passed} of {len(items)} items pass and every mandatory item passes")
        if isinstance(critical_findings, Missing):
            reasons.append(f"audit findings unknown ({critical_findings.capability} capability missing)")
    return Verdict(ready, "ready to scale" if ready else "not ready", passed, len(items), reasons)


def gaps(items: Sequence[ItemResult]) -> dict[str, list[str]]:
    """The pilot gaps still open: gap -> titles of the items not passing."""
    out: dict[str, list[str]] = {g: [] for g in GAPS}
    for i in items:
        if i.status != "pass":
            out[i.gap].append(i.title)
    return {g: v for g, v in out.items() if v}
