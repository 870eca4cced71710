"""How releases react to same-floor facts: a judged gate moves the release its run evaluated."""
from __future__ import annotations

from sqlalchemy.orm import Session

from takeoff.evals.models import EvalRun
from takeoff.core.events import GateJudged, subscribe
from takeoff.releases import service


def on_gate_judged(session: Session, ev: GateJudged) -> None:
    """A finished run of a release moves it on to approvals, or back to draft when the gate blocks."""
    if ev.release_id is None:
        return
    run = session.get(EvalRun, ev.run_id)
    if run is not None:
        service.on_gate(session, run)


def register() -> None:
    """Subscribe the releases reactions (called once by the composition root)."""
    subscribe(GateJudged, on_gate_judged)
