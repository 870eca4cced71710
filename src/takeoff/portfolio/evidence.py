"""Evidence kinds the portfolio owns: the intake record and the named owners of a use case."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject


def intake_complete(session: Session, s: Subject) -> Evidence:
    """Intake has purpose, data sources, users and a risk tier."""
    uc = s.use_case
    gaps = [n for n, ok in (("purpose", uc.purpose), ("data sources", uc.data_sources),
                            ("users", uc.expected_users or uc.user_groups), ("risk tier", uc.risk_tier)) if not ok]
    link = f"/usecases/{uc.key}#intake"
    if gaps:
        return Evidence("intake_complete", "fail", "missing " + ", ".join(gaps), link, uc.updated_at)
    return Evidence("intake_complete", "pass", "intake fields present", link, uc.updated_at)


def owner_named(session: Session, s: Subject) -> Evidence:
    """A business owner (who owns the KPI) and a product owner are named on the use case."""
    uc = s.use_case
    detail = f"business owner {uc.business_owner or '-'}, product owner {uc.product_owner or '-'}"
    ok = bool(uc.business_owner and uc.product_owner)
    return Evidence("owner_named", "pass" if ok else "fail", detail, f"/usecases/{uc.key}#intake", uc.updated_at)


def register(registry: Registry) -> None:
    registry.provide("intake_complete", intake_complete, title="Intake is complete", domain="portfolio")
    registry.provide("owner_named", owner_named, title="Business and product owners are named", domain="portfolio")
