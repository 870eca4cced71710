"""Evidence kind the catalog owns: the release's model has its vendor's retention and contract terms recorded."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.catalog import service as catalog
from takeoff.evidence.registry import Evidence, Registry, Subject


def vendor_terms_recorded(session: Session, s: Subject) -> Evidence:
    """The catalog entry of the release's model records data retention and contract terms."""
    if s.release is None:
        return Evidence("vendor_terms_recorded", "no_evidence", "no release is in production",
                        f"/usecases/{s.use_case.key}#releases")
    provider, model = catalog.split_ref(s.release.bundle.get("model", ""))
    entry = catalog.find_model(session, provider, model)
    if entry is None:
        return Evidence("vendor_terms_recorded", "no_evidence", "model not in the catalog", "/catalog")
    ok = bool(entry.data_retention and entry.contract_terms)
    return Evidence("vendor_terms_recorded", "pass" if ok else "fail",
                    f"{entry.provider}/{entry.model}: retention and contract terms recorded" if ok
                    else f"{entry.provider}/{entry.model}: catalog entry lacks retention or contract terms", "/catalog")


def register(registry: Registry) -> None:
    registry.provide("vendor_terms_recorded", vendor_terms_recorded,
                     title="Vendor data-handling and limits are recorded", domain="catalog")
