"""Quarterly portfolio reviews: snapshot every use case's re-score, guardrail breaches, incidents, audit findings
and adoption beside last quarter's, suggest actions (the pure rule in `review`), record the accountable people's
decisions. The only writer of the review tables."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Forbidden, Invalid, NotFound
from takeoff.findings import service as findings_svc
from takeoff.governance import service as governance
from takeoff.outcomes import review as review_rules
from takeoff.outcomes import scorecard as rules
from takeoff.outcomes.kpis import kpi_defs, measurements
from takeoff.outcomes.models import QuarterlyReview, ReviewDecision
from takeoff.outcomes.schemas import DecisionIn
from takeoff.core.types import parse_body
from takeoff.outcomes.windows import incidents_between, production
from takeoff.portfolio import scoring
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import window as telemetry
from takeoff.telemetry.metrics import violations_with


def quarter_of(d: date) -> str:
    return scoring.quarter_of(d)


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """[start, end) of a quarter like 2026-Q4, in UTC."""
    try:
        y, q = int(quarter[:4]), int(quarter[-1])
        if quarter[4:6] != "-Q" or not 1 <= q <= 4 or len(quarter) != 7:
            raise ValueError
    except (ValueError, IndexError):
        raise Invalid(f"quarter must look like 2026-Q4, got {quarter!r}") from None
    start = datetime(y, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = datetime(y + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def previous_quarter(quarter: str) -> str:
    start, _ = quarter_bounds(quarter)
    return quarter_of((start - timedelta(days=1)).date())


def _finding_label(f: dict[str, Any]) -> str:
    extra = [f["severity"]] + ([f"control {f['control_id']}"] if f.get("control_id") else [])
    extra += ["new this quarter"] if f.get("new") else []
    extra += [f["status"].replace("_", " ")]
    return f"{f['title']} ({', '.join(extra)})"


def _north_star(session: Session, uc: UseCase, prev_start: datetime, end: datetime, start: datetime) -> dict[str, Any] | None:
    """The north-star KPI's measurements over last quarter and this one, and each quarter's average."""
    defs = [d for d in kpi_defs(uc) if d["role"] == "north_star"]
    if not defs:
        return None
    d = defs[0]
    pts = [(m.measured_on, m.value) for m in measurements(session, uc.key, d["name"])
           if prev_start.date() <= m.measured_on < end.date()]
    this = [v for day, v in pts if day >= start.date()]
    last = [v for day, v in pts if day < start.date()]
    return {"name": d["name"], "unit": d.get("unit"), "direction": d.get("direction"), "target": d.get("target"),
            "points": [[day.isoformat(), v] for day, v in pts],
            "this_quarter": round(sum(this) / len(this), 4) if this else None,
            "last_quarter": round(sum(last) / len(last), 4) if last else None}


def _facts(session: Session, uc: UseCase, quarter: str, notes: list[str]) -> dict[str, Any]:
    start, end = quarter_bounds(quarter)
    hist = portfolio.history(session, uc)
    now_q = {q: v for q, v in hist.items() if q <= quarter}
    cur = now_q[max(now_q)] if now_q else None
    prev_q = previous_quarter(quarter)
    before = {q: v for q, v in hist.items() if q <= prev_q}
    prev = before[max(before)] if before else None
    breaches = 0
    for d in kpi_defs(uc):
        if d["role"] != "guardrail" or d.get("target") is None:
            continue
        for m in measurements(session, uc.key, d["name"]):
            if start.date() <= m.measured_on < end.date() and \
                    rules.kpi_status(d["direction"], m.value, d["target"]) == "off_target":
                breaches += 1
    inc = incidents_between(session, uc.key, start, end)
    findings = findings_svc.for_period(session, uc.key, start, end)
    ps, _ = quarter_bounds(prev_q)
    clip = min(end, utcnow())
    span = clip - start
    a_now = a_prev = violations = 0
    if span.total_seconds() > 0:
        prod = production(session, uc.key, ps, max(clip, start))
        # The same stretch of both quarters (day 1 to today), so a quarter in progress compares like with like.
        now_stats = telemetry.window_stats(session, uc.key, prod, start, clip)
        a_now = now_stats.active_units
        violations = violations_with(now_stats.violations)
        # Quarters differ in length: the previous window never runs into this quarter.
        a_prev = telemetry.window_stats(session, uc.key, prod, ps, min(ps + span, start)).active_units
    trend = rules.change(a_now, a_prev) if a_prev else None
    if not a_prev and not a_now:
        adoption_note = f"no data for {prev_q} or {quarter}"
    elif not a_prev:
        adoption_note = f"no data for {prev_q}"
    else:
        adoption_note = ""
    return {"use_case": uc.key, "name": uc.name, "status": uc.status,
            "priority": cur["priority"] if cur else None, "last_quarter_priority": prev["priority"] if prev else None,
            "value": cur["value"] if cur else None, "feasibility": cur["feasibility"] if cur else None,
            "risk": cur["risk"] if cur else None,
            "last_quarter_value": prev["value"] if prev else None,
            "last_quarter_feasibility": prev["feasibility"] if prev else None,
            "last_quarter_risk": prev["risk"] if prev else None,
            "guardrail_breaches": breaches,
            "incidents": len(inc),
            "policy_violations": violations,
            "audit_findings": len(findings),
            "findings": [_finding_label(f) for f in findings],
            "active_users": a_now, "last_quarter_active_users": a_prev,
            "adoption_trend": trend, "adoption_note": adoption_note,
            "north_star": _north_star(session, uc, ps, end, start)}


def start_review(session: Session, actor: Actor, quarter: str | None = None) -> QuarterlyReview:
    """Snapshot the portfolio for a quarter with re-scores beside last quarter's and suggested actions (409 if it exists)."""
    actor.require("review.write")
    quarter = quarter or quarter_of(utcnow().date())
    quarter_bounds(quarter)
    if session.scalar(select(QuarterlyReview.id).where(QuarterlyReview.quarter == quarter)) is not None:
        raise Conflict(f"the {quarter} review already exists")
    notes: list[str] = []
    snapshot, facts = [], []
    for uc in portfolio.list_use_cases(session):
        f = _facts(session, uc, quarter, notes)
        snapshot.append(f)
        if uc.status == "retired":
            continue
        if f["priority"] is None and uc.status != "discovered":
            notes.append(f"{uc.key} is not scored: no suggestion until it is")
            continue
        facts.append(review_rules.UseCaseFacts(uc.key, uc.status, float(f["priority"] or 0.0),
                                               guardrail_breaches=f["guardrail_breaches"], incidents=f["incidents"] or 0,
                                               audit_findings=f["audit_findings"] or 0,
                                               adoption_trend=f["adoption_trend"], finding_titles=tuple(f["findings"])))
    actions = [{"use_case": a.use_case, "action": a.action, "reasons": a.reasons}
               for a in review_rules.suggest_actions(facts)]
    row = QuarterlyReview(quarter=quarter, snapshot=snapshot, actions=actions, notes=notes, created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "review.start", "quarterly_review", quarter, None,
                 {"use_cases": len(snapshot), "actions": len(actions)})
    return row


def get_review(session: Session, quarter: str) -> QuarterlyReview:
    row = session.scalar(select(QuarterlyReview).where(QuarterlyReview.quarter == quarter))
    if row is None:
        raise NotFound(f"no review for {quarter}")
    return row


def list_reviews(session: Session) -> list[QuarterlyReview]:
    return list(session.scalars(select(QuarterlyReview).order_by(QuarterlyReview.quarter.desc())))


def accountable_for(session: Session, uc: UseCase) -> list[str]:
    """The people accountable for a use case: RACI 'accountable' (when governance has it), else its business owner."""
    people: list[str] = []
    raci = governance.raci
    if raci is not None:
        people = list(raci(session, uc.key).get("accountable", []))
    if uc.business_owner and uc.business_owner not in people:
        people.append(uc.business_owner)
    return people


def decide(session: Session, actor: Actor, quarter: str, data: Any) -> ReviewDecision:
    """Record an accountable person's decision for a use case in a review (403 for anyone else but admins)."""
    actor.require("review.write")
    rev = get_review(session, quarter)
    body = parse_body(DecisionIn, data)
    uc = portfolio.get(session, body.use_case)
    people = accountable_for(session, uc)
    if actor.username not in people and "admin" not in actor.roles:
        raise Forbidden(f"only the people accountable for {uc.key} may decide ({', '.join(people) or 'none named'})",
                        code="not_accountable")
    row = session.scalar(select(ReviewDecision).where(ReviewDecision.review_id == rev.id,
                                                      ReviewDecision.use_case_key == uc.key))
    before = {"action": row.action, "rationale": row.rationale, "by": row.decided_by} if row else None
    if row is None:
        row = ReviewDecision(review_id=rev.id, use_case_key=uc.key, action=body.action, rationale=body.rationale,
                             decided_by=actor.username)
        session.add(row)
    else:
        row.action, row.rationale, row.decided_by, row.decided_at = body.action, body.rationale, actor.username, utcnow()
    session.flush()
    audit.record(session, actor, "review.decide", "quarterly_review", quarter, before,
                 {"use_case": uc.key, "action": body.action, "rationale": body.rationale})
    return row


def review_view(session: Session, rev: QuarterlyReview) -> dict[str, Any]:
    """The review with its decisions and, per use case, the previous review's priority, action and decision."""
    decisions = {d.use_case_key: {"action": d.action, "rationale": d.rationale, "decided_by": d.decided_by,
                                  "decided_at": d.decided_at.isoformat()}
                 for d in session.scalars(select(ReviewDecision).where(ReviewDecision.review_id == rev.id))}
    prev = session.scalar(select(QuarterlyReview).where(QuarterlyReview.quarter < rev.quarter)
                          .order_by(QuarterlyReview.quarter.desc()).limit(1))
    compare: dict[str, Any] = {}
    if prev is not None:
        pdec = {d.use_case_key: d for d in session.scalars(select(ReviewDecision).where(ReviewDecision.review_id == prev.id))}
        psnap = {s["use_case"]: s for s in prev.snapshot}
        for s in rev.snapshot:
            p = psnap.get(s["use_case"])
            d = pdec.get(s["use_case"])
            compare[s["use_case"]] = {"priority": p["priority"] if p else None, "status": p["status"] if p else None,
                                      "decision": d.action if d else None}
    return {"quarter": rev.quarter, "created_by": rev.created_by, "created_at": rev.created_at.isoformat(),
            "snapshot": rev.snapshot, "actions": rev.actions, "notes": rev.notes, "decisions": decisions,
            "previous": prev.quarter if prev else None, "compare": compare}
