"""Evidence kinds governance owns: risk tier, EU AI Act classification, and KPI accountability in the RACI."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched
from takeoff.governance import people as governance

ATTESTED: tuple[tuple[str, str], ...] = (
    ("human_oversight", "Human oversight rules are defined"),
    ("transparency_notice", "Users are told they interact with AI"),
    ("technical_documentation", "Technical documentation is current"),
    ("impact_assessment", "Impact assessment is signed off"),
    ("risk_management_process", "A risk management process is run"),
    ("decommission_plan", "A decommission plan exists"),
    ("ai_policy", "The organization's AI policy applies"),
    ("gpai_documentation", "General-purpose AI model documentation is kept"),
    ("training_recorded", "Users completed their training"),
    ("data_provenance", "The provenance of training and context data is recorded"),
)


def risk_tier_recorded(session: Session, s: Subject) -> Evidence:
    """The use case has a risk tier."""
    uc = s.use_case
    link = f"/usecases/{uc.key}#risk"
    if uc.risk_tier:
        return Evidence("risk_tier_recorded", "pass", f"tier {uc.risk_tier}", link, uc.updated_at)
    return Evidence("risk_tier_recorded", "fail", "no risk tier", link, uc.updated_at)


def eu_classification_recorded(session: Session, s: Subject) -> Evidence:
    """The use case has an EU AI Act classification."""
    uc = s.use_case
    link = f"/usecases/{uc.key}#risk"
    if uc.eu_category:
        return Evidence("eu_classification_recorded", "pass", f"EU AI Act: {uc.eu_category.replace('_', ' ')}",
                        link, uc.updated_at)
    return Evidence("eu_classification_recorded", "fail", "not classified under the EU AI Act", link, uc.updated_at)


def prohibited_practice_blocked(session: Session, s: Subject) -> Evidence:
    """The classification shows no Article 5 prohibited practice (unclassified: no evidence)."""
    uc = s.use_case
    link = f"/usecases/{uc.key}#risk"
    if not uc.eu_category:
        return Evidence("prohibited_practice_blocked", "no_evidence", "not classified under the EU AI Act", link)
    if uc.eu_category == "prohibited":
        return Evidence("prohibited_practice_blocked", "fail", "classified as a prohibited practice (Article 5)",
                        link, uc.updated_at)
    return Evidence("prohibited_practice_blocked", "pass", f"EU AI Act: {uc.eu_category.replace('_', ' ')}, "
                    "no prohibited practice", link, uc.updated_at)


def kpi_accountable(session: Session, s: Subject) -> Evidence:
    """The business owner owns a defined north-star KPI and is the accountable person in the RACI (when set)."""
    uc = s.use_case
    link = f"/usecases/{uc.key}#raci"
    north = ((uc.kpis or {}).get("north_star") or {}).get("name")
    if not uc.business_owner:
        return Evidence("kpi_accountable", "fail", "no business owner is named", link)
    if not north:
        return Evidence("kpi_accountable", "fail",
                        f"business owner {uc.business_owner} is named but no north-star KPI is defined", link)
    found = batched(s, "governance.raci", lambda keys: governance.raci_many(session, keys))
    accountable = (found or {}).get("accountable", [])
    if accountable and uc.business_owner not in accountable:
        return Evidence("kpi_accountable", "fail", f"business owner {uc.business_owner} is not accountable in "
                        f"the RACI (accountable: {', '.join(accountable)})", link)
    how = "accountable in the RACI" if accountable else "owner of record (no other accountable person in the RACI)"
    return Evidence("kpi_accountable", "pass", f"{uc.business_owner} owns the north-star KPI '{north}', {how}", link)


def register(registry: Registry) -> None:
    registry.provide("risk_tier_recorded", risk_tier_recorded, title="Risk tier is recorded", domain="governance")
    registry.provide("eu_classification_recorded", eu_classification_recorded,
                     title="EU AI Act classification is recorded", domain="governance")
    registry.provide("prohibited_practice_blocked", prohibited_practice_blocked,
                     title="No prohibited practice", domain="governance")
    registry.provide("kpi_accountable", kpi_accountable, title="The business owner is accountable for the KPI",
                     domain="governance")
    for name, title in ATTESTED:
        registry.attestation_only(name, title=title, domain="governance")
