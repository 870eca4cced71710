"""The seven readiness items as lists of evidence kinds plus a pure judgement, and the "ready to scale" verdict.

The seed's production-ready checklist: data quality, decision ownership, evaluation, monitoring, security,
change management, fallbacks. Each item maps to one of the five pilot gaps and names the evidence kinds it reads
from the evidence registry (takeoff.evidence.registry): the same kinds, with the same meaning, that release
checklists read. Adding an item is one line in ITEM_SPECS (plus a provider if it needs a new kind).

The verdict is never "ready to scale" while a blocking kind fails: an open severity 1 or 2 incident, a canary
never analysed, production features without a drift baseline, an open critical finding, a breached data SLA.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from takeoff.evidence.registry import Evidence

Status = Literal["pass", "fail", "no_evidence"]
GAPS: tuple[str, ...] = ("data and context", "ownership", "reliability", "security and privacy", "adoption")


@dataclass(frozen=True)
class ItemSpec:
    """One readiness item: the evidence kinds it reads, in order, and the kinds whose "no evidence" means "does not
    apply to this use case" (e.g. data access rules when it has no data source) rather than missing evidence."""

    item: str
    title: str
    gap: str
    kinds: tuple[str, ...]
    where_applicable: frozenset[str] = frozenset()


ITEM_SPECS: tuple[ItemSpec, ...] = (
    ItemSpec("data_quality", "Data quality", "data and context", ("data_sla_green",)),
    ItemSpec("decision_ownership", "Decision ownership", "ownership", ("owner_named", "kpi_accountable")),
    ItemSpec("evaluation", "Evaluation", "reliability", ("eval_gate_passed",)),
    ItemSpec("monitoring", "Monitoring", "reliability", ("monitoring_configured", "telemetry_flowing",
                                                         "harmful_output_detection", "human_review"),
             where_applicable=frozenset({"harmful_output_detection", "human_review"})),
    ItemSpec("security", "Security", "security and privacy",
             ("roles_least_privilege", "tokens_expire", "audit_chain_verified", "access_least_privilege",
              "use_case_tokens_scoped"),
             where_applicable=frozenset({"access_least_privilege", "use_case_tokens_scoped"})),
    ItemSpec("change_management", "Change management", "adoption", ("usage_policy", "release_notes",
                                                                     "feedback_collected")),
    ItemSpec("fallbacks", "Fallbacks", "reliability", ("fallback_defined", "fallback_exercised")),
)
# Kinds whose failure blocks "ready to scale" whatever the tier and the items say.
BLOCKING_KINDS: tuple[str, ...] = ("no_severe_incident_open", "canary_analysed", "drift_baseline_set",
                                   "no_critical_finding_open", "data_sla_met")

ITEMS: tuple[str, ...] = tuple(s.item for s in ITEM_SPECS)
TITLES: dict[str, str] = {s.item: s.title for s in ITEM_SPECS}
GAP_OF: dict[str, str] = {s.item: s.gap for s in ITEM_SPECS}
SPEC_OF: dict[str, ItemSpec] = {s.item: s for s in ITEM_SPECS}


def kinds_read() -> list[str]:
    """Every evidence kind readiness reads (items and blockers), without repeats."""
    out: list[str] = []
    for k in [*(k for s in ITEM_SPECS for k in s.kinds), *BLOCKING_KINDS]:
        if k not in out:
            out.append(k)
    return out


@dataclass(frozen=True)
class ItemResult:
    """One readiness item: status, why, where the evidence is, which pilot gap it closes, if mandatory, its scope,
    and each kind's evidence."""

    item: str
    title: str
    status: Status
    reason: str
    evidence: str
    gap: str
    mandatory: bool
    scope: str = "use_case"  # use_case | organization | mixed: whether the item is judged per use case
    kinds: list[dict[str, object]] = field(default_factory=list)


def _label(e: Evidence) -> str:
    return f"organization-wide: {e.detail}" if e.scope == "organization" else e.detail


def judge(spec: ItemSpec, evidence: Mapping[str, Evidence]) -> tuple[Status, str]:
    """Pure judgement of one item: fail when any kind fails, "no evidence" when any lacks evidence (except the
    kinds that only apply where they apply), pass otherwise; the reason names each kind's evidence."""
    missing = [k for k in spec.kinds if k not in evidence]
    if missing:
        raise ValueError(f"item {spec.item}: evidence of {', '.join(missing)} was not gathered")
    evs = [evidence[k] for k in spec.kinds]
    failing = [e for e in evs if e.status == "fail"]
    absent = [e for e in evs if e.status == "no_evidence" and e.kind not in spec.where_applicable]
    if failing:
        return "fail", "; ".join(_label(e) for e in failing + absent)
    if absent:
        return "no_evidence", "no evidence: " + "; ".join(_label(e) for e in absent)
    shown = [_label(e) if e.status == "pass" else f"{e.detail} (does not apply)" for e in evs]
    return "pass", "; ".join(shown)


def _scope(spec: ItemSpec, evidence: Mapping[str, Evidence]) -> str:
    scopes = {evidence[k].scope for k in spec.kinds}
    return scopes.pop() if len(scopes) == 1 else "mixed"


def mandatory_items(mandatory_kinds: Iterable[str] | None) -> frozenset[str]:
    """Items mandatory for a tier: those reading a kind its policy's checklist makes mandatory; every item when the
    use case has no tier yet (an unclassified use case is held to the strictest bar)."""
    if mandatory_kinds is None:
        return frozenset(ITEMS)
    if isinstance(mandatory_kinds, (str, bytes)):
        raise ValueError("mandatory_kinds must be a collection of evidence kind names")
    kinds = set(mandatory_kinds)
    return frozenset(s.item for s in ITEM_SPECS if kinds & set(s.kinds))


def evaluate(evidence: Mapping[str, Evidence], mandatory: frozenset[str]) -> list[ItemResult]:
    """The seven items in the seed's order, each with status, reason, evidence link, gap, mandatory flag, scope."""
    if not isinstance(evidence, Mapping) or any(not isinstance(e, Evidence) for e in evidence.values()):
        raise ValueError("evaluate needs a mapping of evidence kind -> Evidence")
    out = []
    for spec in ITEM_SPECS:
        status, reason = judge(spec, evidence)
        link = next((evidence[k].link for k in spec.kinds if evidence[k].status != "pass" and evidence[k].link),
                    evidence[spec.kinds[0]].link)
        out.append(ItemResult(spec.item, spec.title, status, reason, link, spec.gap, spec.item in mandatory,
                              _scope(spec, evidence), [evidence[k].view() for k in spec.kinds]))
    return out


@dataclass(frozen=True)
class Verdict:
    """"ready to scale" or "not ready", with the reasons and each blocking item with its link."""

    ready: bool
    label: str
    passed: int
    total: int
    reasons: list[str]
    blocking: list[dict[str, str]] = field(default_factory=list)


def blocking_items(blockers: Mapping[str, Evidence]) -> list[dict[str, str]]:
    """Each thing that blocks the verdict (an incident, a canary, a finding, a source...) with its link."""
    out = []
    for kind in BLOCKING_KINDS:
        e = blockers.get(kind)
        if e is None or e.status != "fail":
            continue
        for text, link in e.items or ((e.detail, e.link),):
            out.append({"kind": kind, "text": text, "link": link})
    return out


def verdict(items: Sequence[ItemResult], blockers: Mapping[str, Evidence] | None = None) -> Verdict:
    """Ready to scale when most items pass, no mandatory item fails or lacks evidence, and no blocking kind fails."""
    if not items or any(not isinstance(i, ItemResult) for i in items):
        raise ValueError("verdict needs the list of ItemResult from evaluate()")
    passed = sum(1 for i in items if i.status == "pass")
    reasons = []
    not_passing = [i for i in items if i.mandatory and i.status != "pass"]
    for i in not_passing:
        reasons.append(f"mandatory item {i.title} is {'failing' if i.status == 'fail' else 'without evidence'}")
    blocking = blocking_items(blockers or {})
    reasons.extend(b["text"] for b in blocking)
    most = passed * 2 > len(items)
    if not most:
        reasons.append(f"only {passed} of {len(items)} items pass; most must")
    ready = most and not not_passing and not blocking
    if ready:
        reasons.append(f"{passed} of {len(items)} items pass and every mandatory item passes")
    return Verdict(ready, "ready to scale" if ready else "not ready", passed, len(items), reasons, blocking)


def gaps(items: Sequence[ItemResult]) -> dict[str, list[str]]:
    """The pilot gaps still open: gap -> titles of the items not passing."""
    out: dict[str, list[str]] = {g: [] for g in GAPS}
    for i in items:
        if i.status != "pass":
            out[i.gap].append(i.title)
    return {g: v for g, v in out.items() if v}
