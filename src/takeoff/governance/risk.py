"""A use case's risk tier and EU AI Act classification: the suggested tier from the five factors, raised to the EU
floor; overrides with a justification (the set_risk_tier decision). Use-case columns are written through portfolio."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.core.errors import invalid
from takeoff.governance import decisions, eu_ai_act
from takeoff.portfolio import service as portfolio
from takeoff.portfolio import tiers
from takeoff.portfolio.models import UseCase


def suggest(factors: Mapping[str, Any]) -> tiers.TierSuggestion:
    """Tier suggestion for the five factors; 422 on bad factors."""
    try:
        return tiers.suggest_tier(factors)
    except ValueError as exc:
        raise invalid(exc, "risk_factors") from None


def _suggestion(factors: Mapping[str, Any] | None, eu_result: Mapping[str, Any] | None) -> dict[str, Any]:
    """The suggested tier and its reasons: the five factors' rule, raised to the EU AI Act floor with the articles
    that raise it (a prohibited or high-risk classification suggests high even with no factors answered)."""
    base = suggest(factors) if factors else None
    tier, reasons = (base.tier, list(base.reasons)) if base else (None, [])
    category = (eu_result or {}).get("category")
    floor = tiers.tier_floor_for_eu(category) if category in tiers.EU_CATEGORIES else "low"
    if floor == "high":
        arts = ", ".join(t.get("article", "") for t in (eu_result or {}).get("triggers", []))
        reasons.append(f"EU AI Act: {str(category).replace('_', ' ')} ({arts}) requires tier high")
        tier = "high"
    return {"risk_tier_suggested": tier, "risk_tier_reasons": reasons}


def set_risk_factors(session: Session, actor: Actor, key: str, factors: Mapping[str, Any]) -> UseCase:
    """Store the tier factors and the suggested tier with reasons; without an override the tier follows it."""
    actor.require("usecase.write")
    uc = portfolio.get(session, key)
    s = suggest(factors)
    fields: dict[str, Any] = {"risk_factors": dict(factors), **_suggestion(factors, uc.eu_result)}
    if not uc.risk_override:
        fields["risk_tier"] = tiers.apply_eu_floor(s.tier, uc.eu_category)
    portfolio.write_fields(session, actor, uc, "risk.suggest", fields)
    return uc


def override_tier(session: Session, actor: Actor, key: str, tier: str, justification: str) -> UseCase:
    """Choose another tier than the suggestion: the set_risk_tier decision (risk.override, and the role the
    organization gave it) and a written justification (recorded)."""
    decisions.require(session, actor, "set_risk_tier")
    uc = portfolio.get(session, key)
    suggested = uc.risk_tier_suggested or uc.risk_tier or tier
    try:
        o = tiers.check_override(suggested, tier, justification, eu_category=uc.eu_category)
    except ValueError as exc:
        raise invalid(exc, "justification" if "justification" in str(exc) else "tier") from None
    record = {"suggested": o.suggested, "chosen": o.chosen, "lowers": o.lowers, "justification": o.justification,
              "by": actor.username, "at": portfolio.now_iso()}
    portfolio.write_fields(session, actor, uc, "risk.override", {"risk_tier": o.chosen, "risk_override": record})
    return uc


def _triggers(ts: tuple[eu_ai_act.Trigger, ...]) -> list[dict[str, str]]:
    return [{"answer": t.answer, "article": t.article, "reason": t.reason} for t in ts]


def classification_view(c: eu_ai_act.EUClassification) -> dict[str, Any]:
    """An EU AI Act classification as JSON (the shape stored in a use case's eu_result)."""
    return {"category": c.category, "triggers": _triggers(c.triggers), "obligations": list(c.obligations),
            "annex_iii_points": list(c.annex_iii_points), "transparency": _triggers(c.transparency),
            "gpai": c.gpai, "gpai_systemic_risk": c.gpai_systemic_risk, "gpai_obligations": list(c.gpai_obligations),
            "gpai_triggers": _triggers(c.gpai_triggers), "art_6_3_assessment": c.art_6_3_assessment,
            "tier_floor": c.tier_floor, "notes": list(c.notes)}


def classify_eu(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Classify questionnaire answers; 422 naming the field on unknown questions, wrong types or contradictions."""
    try:
        return classification_view(eu_ai_act.classify(answers))
    except eu_ai_act.AnswersError as exc:
        raise invalid(exc, exc.field or "eu_answers") from None


def has_transparency_duties(eu_result: Mapping[str, Any] | None) -> bool:
    """Whether a stored classification carries Art. 50 duties (read from its obligations, so older results too)."""
    return any(str(o).startswith("Art.50") for o in (eu_result or {}).get("obligations", []))


def set_eu_answers(session: Session, actor: Actor, key: str, answers: Mapping[str, Any]) -> UseCase:
    """Store the EU AI Act questionnaire and its result; prohibited/high-risk raise the suggested and current tier to
    high, with the articles as the reason."""
    actor.require("risk.classify")
    uc = portfolio.get(session, key)
    result = classify_eu(answers)
    category = result["category"]
    fields: dict[str, Any] = {"eu_answers": dict(answers), "eu_result": result, "eu_category": category,
                              **_suggestion(uc.risk_factors or None, result)}
    if uc.risk_tier:
        fields["risk_tier"] = tiers.apply_eu_floor(uc.risk_tier, category)
    else:
        fields["risk_tier"] = tiers.tier_floor_for_eu(category) if category in ("prohibited", "high_risk") else None
    portfolio.write_fields(session, actor, uc, "risk.eu_classify", fields)
    return uc
