"""How releases react to same-floor facts (a judged gate moves the release its run evaluated), and the capability
they offer the evals floor below: starting the eval run of a release (`POST /evalruns` with a release)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from takeoff.evals.models import EvalRun
from takeoff.core.actor import Actor
from takeoff.core.events import START_RELEASE_RUN, GateJudged, provide, subscribe
from takeoff.releases import rollout
from takeoff.releases.schemas import EvalOverrides


def on_gate_judged(session: Session, ev: GateJudged) -> None:
    """A finished run of a release moves it on to approvals, or back to draft when the gate blocks."""
    if ev.release_id is None:
        return
    run = session.get(EvalRun, ev.run_id)
    if run is not None:
        rollout.on_gate(session, run)


def start_eval_run(session: Session, actor: Actor, release_id: str, *, target: dict[str, Any] | None = None,
                   scorers: list[dict[str, Any]] | None = None, repeats: int | None = None,
                   concurrency: int | None = None) -> EvalRun:
    """Start the eval run of a release on the eval set version its bundle names, with optional overrides."""
    return rollout.start_eval(session, actor, release_id, EvalOverrides(target=target, scorers=scorers,
                                                                        repeats=repeats, concurrency=concurrency))


def register() -> None:
    """Subscribe the releases reactions and provide their capabilities (called once by the composition root)."""
    subscribe(GateJudged, on_gate_judged)
    provide(START_RELEASE_RUN, start_eval_run)
