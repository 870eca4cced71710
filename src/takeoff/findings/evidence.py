"""Evidence kind findings own: no open critical audit finding on the use case."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.evidence.registry import Evidence, Registry, Subject, batched
from takeoff.findings import service as findings


def no_critical_finding_open(session: Session, s: Subject) -> Evidence:
    """No critical audit finding of the use case is open; a failing verdict names each with its link."""
    key = s.use_case.key
    open_ = batched(s, "findings.open_critical", lambda keys: findings.open_critical_of(session, keys)) or []
    if not open_:
        return Evidence("no_critical_finding_open", "pass", "no open critical audit finding",
                        f"/usecases/{key}#findings")
    items = tuple((f"open critical audit finding: {f.title}", f"/findings?use_case={key}#finding-{f.id}")
                  for f in open_)
    return Evidence("no_critical_finding_open", "fail", "; ".join(t for t, _ in items), items[0][1], items=items)


def register(registry: Registry) -> None:
    registry.provide("no_critical_finding_open", no_critical_finding_open, title="No open critical audit finding",
                     domain="findings")
