"""Use-case scores (value, feasibility, risk per scorer and date), their medians and disagreement, the quarterly
history and the ranking with its recommendation (the rules are portfolio.scoring). The only writer of use_case_scores."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Invalid
from takeoff.portfolio import lifecycle, scoring
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase, UseCaseScore
from takeoff.portfolio.schemas import ScoreIn


def _score_input(row: UseCaseScore) -> scoring.ScoreInput:
    crit = row.criteria or {}
    return scoring.ScoreInput(row.scorer, crit.get("value", row.value), crit.get("feasibility", row.feasibility),
                              crit.get("risk", row.risk), row.scored_on)


def validate_score(session: Session, actor: Actor, body: ScoreIn) -> tuple[str, scoring.ScoreInput]:
    """Check one score (1-5 per lens or per criterion, an existing scorer); 422 with the reason."""
    scorer = (body.scorer or actor.username).strip()
    portfolio.check_people(session, {"scorer": scorer})
    try:
        s = scoring.ScoreInput(scorer, body.value, body.feasibility, body.risk, body.scored_on or utcnow().date())
    except ValueError as exc:
        raise Invalid(str(exc), details=[{"field": "score", "message": str(exc)}]) from None
    return scorer, s


def add_score(session: Session, actor: Actor, key: str, body: ScoreIn) -> tuple[UseCaseScore, str]:
    """Record (or replace, same scorer and date) a score; returns (row, created|updated|unchanged)."""
    actor.require("usecase.score")
    uc = portfolio.get(session, key)
    scorer, s = validate_score(session, actor, body)
    criteria = {lens: dict(getattr(body, lens)) for lens in scoring.LENSES if isinstance(getattr(body, lens), dict)}
    vals = {"value": s.lens("value"), "feasibility": s.lens("feasibility"), "risk": s.lens("risk"),
            "criteria": criteria, "note": body.note}
    row = session.scalar(select(UseCaseScore).where(UseCaseScore.use_case_id == uc.id, UseCaseScore.scorer == scorer,
                                                    UseCaseScore.scored_on == s.scored_on))
    if row is not None:
        before = {k: getattr(row, k) for k in vals}
        if before == vals:
            return row, "unchanged"
        for k, v in vals.items():
            setattr(row, k, v)
        session.flush()
        audit.record(session, actor, "usecase.score", "use_case", uc.key, before, {"scorer": scorer, **vals})
        return row, "updated"
    row = UseCaseScore(use_case_id=uc.id, scorer=scorer, scored_on=s.scored_on, **vals)
    session.add(row)
    session.flush()
    audit.record(session, actor, "usecase.score", "use_case", uc.key, None,
                 {"scorer": scorer, "scored_on": s.scored_on.isoformat(), **vals})
    return row, "created"


def scores(session: Session, uc: UseCase) -> list[UseCaseScore]:
    """Every score of a use case, oldest first."""
    return list(session.scalars(select(UseCaseScore).where(UseCaseScore.use_case_id == uc.id)
                                .order_by(UseCaseScore.scored_on, UseCaseScore.id)))


def score_view(row: UseCaseScore) -> dict[str, Any]:
    """A score as JSON."""
    return {"scorer": row.scorer, "scored_on": row.scored_on.isoformat(), "value": row.value,
            "feasibility": row.feasibility, "risk": row.risk, "criteria": row.criteria or {}, "note": row.note}


def aggregate_view(agg: scoring.Aggregate) -> dict[str, Any]:
    """Medians and disagreement as JSON."""
    return {"value": agg.value, "feasibility": agg.feasibility, "risk": agg.risk, "scorers": agg.scorers,
            "scorer_names": list(agg.scorer_names), "contested": list(agg.contested_lenses),
            "disagreement": {lens: {"low": d.low, "high": d.high, "spread": d.spread, "iqr": d.iqr}
                             for lens, d in agg.disagreement.items()}}


def aggregate(session: Session, uc: UseCase) -> scoring.Aggregate | None:
    """Median per lens across scorers (each scorer's latest), or None when unscored."""
    rows = scores(session, uc)
    return scoring.aggregate([_score_input(r) for r in rows]) if rows else None


def history(session: Session, uc: UseCase) -> dict[str, dict[str, Any]]:
    """Aggregate per quarter, oldest first, with the priority of each quarter."""
    rows = scores(session, uc)
    if not rows:
        return {}
    out = {}
    for q, agg in scoring.quarterly_history([_score_input(r) for r in rows]).items():
        out[q] = {**aggregate_view(agg), "priority": scoring.priority(agg.value, agg.feasibility, agg.risk)}
    return out


def ranking(session: Session) -> dict[str, Any]:
    """Ranking of scored, active use cases and the 1-2 near-term + 1 longer-term recommendation with reasons."""
    items, aggs = [], {}
    by_uc: dict[int, list[UseCaseScore]] = {}
    for row in session.scalars(select(UseCaseScore).order_by(UseCaseScore.scored_on, UseCaseScore.id)):
        by_uc.setdefault(row.use_case_id, []).append(row)  # every score in one query, not one per use case
    for uc in portfolio.list_use_cases(session):
        if uc.status in (lifecycle.RETIRED, lifecycle.DISCOVERED) or uc.id not in by_uc:
            continue
        agg = scoring.aggregate([_score_input(r) for r in by_uc[uc.id]])
        if agg is None:
            continue
        aggs[uc.key] = agg
        items.append(scoring.RankItem.from_aggregate(uc.key, agg, uc.monthly_volume))
    if not items:
        return {"formula": scoring.PRIORITY_FORMULA, "ranking": [], "recommendation": None}
    rec = scoring.recommend(items)
    return {
        "formula": scoring.PRIORITY_FORMULA,
        "ranking": [{"position": r.position, "use_case": r.use_case, "priority": r.score, "base": r.priority.base,
                     "formula": r.priority.formula, "monthly_volume": r.item.monthly_volume,
                     **aggregate_view(aggs[r.use_case])} for r in rec.ranking],
        "recommendation": {"near_term": rec.near_term, "long_term": rec.long_term, "reasons": rec.reasons,
                           "notes": rec.notes},
    }
