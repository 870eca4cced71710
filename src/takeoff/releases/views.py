"""Releases as JSON: the detail view (diff to the previous release, gate, comparison, checklist, approvals,
transitions), the export that rebuilds a release on any server, and the diff of two releases."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.evals import production
from takeoff.evals import runs as eval_runs
from takeoff.releases import bundle as bundles
from takeoff.releases.approvals import approvals, checklist
from takeoff.releases.models import Release, ReleaseTransition
from takeoff.releases.queries import bundle_eval_version, gate, get, previous

# --- views --------------------------------------------------------------------------------------------------


def view(session: Session, rel: Release, detail: bool = False) -> dict[str, Any]:
    """JSON form of a release; with detail: diff to the previous one, gate, checklist, approvals, transitions."""
    out: dict[str, Any] = {"id": rel.release_id, "use_case": rel.use_case_key, "version": rel.version,
                           "status": rel.status, "content_hash": rel.content_hash, "tier": rel.tier,
                           "policy_version": rel.policy_version, "canary_weight": rel.canary_weight,
                           "model": rel.bundle.get("model"), "eval_set": eval_set_view(session, rel),
                           "created_by": rel.created_by, "created_at": rel.created_at.isoformat(),
                           "notes": rel.notes}
    if detail:
        prev = previous(session, rel)
        out["bundle"] = rel.bundle
        out["previous"] = prev.release_id if prev else None
        out["diff"] = bundles.diff_bundles(prev.bundle if prev else None, rel.bundle) if prev else []
        out["gate"] = gate(session, rel)
        prev_gate = gate(session, prev) if prev else None
        out["comparison"] = None
        if prev_gate and out["gate"]:
            c = eval_runs.compare(session, prev_gate["run_id"], out["gate"]["run_id"])
            out["comparison"] = {**c, "baseline_run": c["baseline"], "candidate_run": c["candidate"],
                                 "baseline": prev.release_id if prev else None,
                                 "regressions": c["regressions"][:100], "fixes": c["fixes"][:100],
                                 "n_regressions": len(c["regressions"]), "n_fixes": len(c["fixes"])}
        out["from_production"] = _from_production(session, rel)
        out["checklist"] = checklist(session, rel)
        out["approvals"] = [{"username": a.username, "role": a.role, "decision": a.decision, "comment": a.comment,
                             "at": a.at.isoformat()} for a in approvals(session, rel)]
        out["transitions"] = [{"from": t.from_status, "to": t.to_status, "actor": t.actor, "reason": t.reason,
                               "at": t.at.isoformat()} for t in session.scalars(
            select(ReleaseTransition).where(ReleaseTransition.release_pk == rel.id).order_by(ReleaseTransition.id))]
    return out


def eval_set_view(session: Session, rel: Release) -> dict[str, Any]:
    """The bundle's eval set (name, content hash) with this server's version label for that content (or None)."""
    es = dict(rel.bundle.get("eval_set") or {})
    v = bundle_eval_version(session, rel.bundle)
    return {**es, "version": v.version if v is not None else None}


def export(session: Session, release_id: str) -> dict[str, Any]:
    """Everything needed to rebuild the release on any server: the bundle, its hash, a create request naming the
    eval set by content, and this server's version label of that content (to download its cases)."""
    rel = get(session, release_id)
    b = dict(rel.bundle)
    es = b.get("eval_set") or {}
    return {"release": rel.release_id, "content_hash": rel.content_hash, "status": rel.status,
            "created_by": rel.created_by, "created_at": rel.created_at.isoformat(),
            "hash_verifies": bundles.verifies(b, rel.content_hash),
            "reproduces_as": bundles.content_hash(bundles.reproducible(b)),
            "eval_set": eval_set_view(session, rel),
            "bundle": b,
            "create_request": {"use_case": rel.use_case_key, "model": b.get("model"),
                               "parameters": b.get("parameters") or {}, "prompts": b.get("prompts") or {},
                               "retrieval": b.get("retrieval") or {}, "data_snapshot": b.get("data_snapshot"),
                               "eval_set": {"name": es.get("name"), "content_hash": es.get("content_hash")},
                               "eval": b.get("eval"), "code_ref": b.get("code_ref", ""),
                               "fallback_model": b.get("fallback_model"), "notes": rel.notes}}


def diff(session: Session, a: str, b: str) -> dict[str, Any]:
    """Readable diff between any two releases."""
    ra, rb = get(session, a), get(session, b)
    return {"from": ra.release_id, "to": rb.release_id, "changes": bundles.diff_bundles(ra.bundle, rb.bundle)}


def _from_production(session: Session, rel: Release) -> dict[str, Any] | None:
    """The cases of the release's eval set version that came from production (count, the first 50 with request and
    incident), and the newer version's production cases this release is not judged on, if there is one."""
    v = bundle_eval_version(session, rel.bundle)
    if v is None:
        return None
    n, from_incidents, cases = production.production_cases(session, v.id, 50)
    return {"count": n, "from_incidents": from_incidents, "cases": cases,
            "newer": production.newer_from_production(session, v)}
