"""Evidence kind the audit trail owns: the hash chain verifies end to end (organization-wide)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.evidence.registry import Evidence, Registry, Subject


def audit_chain_verified(session: Session, s: Subject) -> Evidence:
    """The whole audit chain verifies (once per request: the registry caches organization-wide kinds; only the
    entries appended since the last verification are recomputed, the older ones compared by a digest of their
    rows, so a changed old entry still fails it)."""
    count, problem = audit.verify_chain_incremental(session)
    if problem is not None:
        return Evidence("audit_chain_verified", "fail", f"the audit chain does not verify: {problem}", "/audit",
                        s.now, "organization")
    return Evidence("audit_chain_verified", "pass", f"audit chain of {count} entries verifies", "/audit", s.now,
                    "organization")


def register(registry: Registry) -> None:
    registry.provide("audit_chain_verified", audit_chain_verified, title="Audit trail verifies end to end",
                     domain="audit", scope="organization")
