"""Portfolio API: use cases (intake, inventory, scale targets), lifecycle, scores, ranking and recommendation."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from takeoff.deps import DB, Allowed, Decides
from takeoff.portfolio import scores, service
from takeoff.portfolio.schemas import ScoreIn, TransitionIn, UseCaseIn, UseCaseListOut, UseCaseOut, UseCasePatch

router = APIRouter(tags=["portfolio"])


@router.get("/usecases", response_model=UseCaseListOut, operation_id="usecases_list")
def list_use_cases(session: DB, actor: Allowed("read"), status: str | None = None) -> dict[str, Any]:
    """Every use case (optionally of one status)."""
    return {"use_cases": [service.view(uc) for uc in service.list_use_cases(session, status)]}


@router.post("/usecases", status_code=201, response_model=UseCaseOut, operation_id="usecases_create")
def create_use_case(session: DB, actor: Allowed("usecase.write"),
                    body: Annotated[UseCaseIn, Body(examples=[{"key": "support-reply", "name": "Support reply assist",
                                                                  "purpose": "Draft replies", "data_sources": ["crm"],
                                                                  "expected_users": 40, "risk_tier": "low"}])]
                    ) -> dict[str, Any]:
    """Register a use case; purpose, data sources, users and risk tier are required."""
    return service.view(service.create(session, actor, body))


@router.get("/usecases/{key}", response_model=UseCaseOut, operation_id="usecases_get")
def get_use_case(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One use case with its allowed transitions."""
    return service.view(service.get(session, key))


@router.patch("/usecases/{key}")
def patch_use_case(key: str, body: UseCasePatch, session: DB, actor: Allowed("usecase.write")) -> dict[str, Any]:
    """Change intake, inventory, scale definition, targets or KPIs."""
    return service.view(service.update(session, actor, key, body))


@router.post("/usecases/{key}/transitions", status_code=201)
def transition(key: str, body: TransitionIn, session: DB,
               actor: Decides("fund_use_cases", when={"to": service.FUNDED_STATUSES})) -> dict[str, Any]:
    """Move a use case through its lifecycle (409 when the move is not allowed)."""
    t = service.transition(session, actor, key, body.to, body.reason)
    return {"use_case": key, "from": t.from_status, "to": t.to_status, "actor": t.actor, "reason": t.reason,
            "at": t.at.isoformat()}


@router.get("/usecases/{key}/transitions")
def transitions(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Lifecycle history: who, when, why."""
    uc = service.get(session, key)
    return {"transitions": [{"from": t.from_status, "to": t.to_status, "actor": t.actor, "reason": t.reason,
                             "at": t.at.isoformat()} for t in service.transitions(session, uc)]}


@router.post("/usecases/{key}/scores", status_code=201)
def add_score(key: str, body: ScoreIn, session: DB, actor: Allowed("usecase.score")) -> dict[str, Any]:
    """Score a use case on value, feasibility and risk (1-5; a lens may be a dict of the seed's criteria)."""
    row, action = scores.add_score(session, actor, key, body)
    return {**scores.score_view(row), "action": action}


@router.get("/usecases/{key}/scores")
def get_scores(key: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Scores, the median per lens with disagreement, and the quarter-over-quarter history."""
    uc = service.get(session, key)
    agg = scores.aggregate(session, uc)
    return {"scores": [scores.score_view(r) for r in scores.scores(session, uc)],
            "aggregate": scores.aggregate_view(agg) if agg else None, "history": scores.history(session, uc)}


@router.get("/portfolio/ranking")
def ranking(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The ranking and the 1-2 near-term + 1 longer-term recommendation with reasons."""
    return scores.ranking(session)


@router.get("/portfolio/inventory")
def inventory(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """The step-1 inventory of every initiative."""
    return {"use_cases": service.inventory(session)}
