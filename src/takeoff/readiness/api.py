"""Readiness HTTP API: the seven-item diagnostic per use case and across the portfolio (mounted under /api/v1)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from takeoff.deps import DB, Allowed
from takeoff.readiness import service

router = APIRouter(tags=["readiness"])


@router.get("/usecases/{key}/readiness")
def use_case_readiness(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Each item's status (pass, fail, no_evidence), reason, evidence link, pilot gap, scope and kinds, and the verdict
    with every blocking item (open severe incident, unanalysed canary, missing drift baseline, critical finding,
    breached data SLA) and its link."""
    return service.diagnose(session, key)


@router.get("/readiness")
def portfolio_readiness(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The diagnostic across the portfolio."""
    return service.portfolio_view(session)
