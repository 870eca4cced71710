"""The default evidence providers: every domain's evidence module, imported explicitly in this one place and
registered through the same `Registry` calls a third party uses."""
from __future__ import annotations

from takeoff.audit import evidence as audit_evidence
from takeoff.auth import evidence as auth_evidence
from takeoff.catalog import evidence as catalog_evidence
from takeoff.data import evidence as data_evidence
from takeoff.evidence.registry import Registry
from takeoff.findings import evidence as findings_evidence
from takeoff.governance import evidence as governance_evidence
from takeoff.incidents import evidence as incidents_evidence
from takeoff.monitoring import evidence as monitoring_evidence
from takeoff.outcomes import evidence as outcomes_evidence
from takeoff.portfolio import evidence as portfolio_evidence
from takeoff.releases import evidence as releases_evidence
from takeoff.review import evidence as review_evidence
from takeoff.telemetry import evidence as telemetry_evidence

MODULES = (auth_evidence, audit_evidence, portfolio_evidence, governance_evidence, catalog_evidence,
           releases_evidence, telemetry_evidence, monitoring_evidence, incidents_evidence, findings_evidence,
           data_evidence, review_evidence, outcomes_evidence)


def register(registry: Registry) -> None:
    """Register every default kind (called once, the first time the registry is read)."""
    for module in MODULES:
        module.register(registry)
