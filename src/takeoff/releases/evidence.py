"""Evidence kinds releases own, about one release: its eval gate, safety run, bundle, fallback, approvals, notes.

For a release checklist the release is the one being checked; for readiness it is the release serving production.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from takeoff.evals import runs as evals
from takeoff.evidence.registry import Evidence, Registry, Subject, batched, batched_map
from takeoff.releases import approvals, queries
from takeoff.releases.models import Release

SERVING = "releases.serving"


def serving_release(session: Session, s: Subject) -> Release | None:
    """The release serving the subject's production traffic, read for every use case of the request at once."""
    return batched(s, SERVING, lambda keys: queries.current_releases(session, keys))  # type: ignore[no-any-return]


def _none(kind: str, s: Subject) -> Evidence:
    return Evidence(kind, "no_evidence", "no release is in production", f"/usecases/{s.use_case.key}#releases")


def _gate(session: Session, s: Subject) -> dict[str, Any] | None:
    """The subject release's gate: read with every serving release's of the request when it is one of them (a
    readiness read), else on its own (a checklist about a candidate)."""
    serving = batched_map(s, SERVING, lambda keys: queries.current_releases(session, keys))
    rels = list(serving.values())
    if not any(r.id == s.release.id for r in rels):
        rels = [s.release]
    found = batched_map(s, f"releases.gates.{rels[0].id if len(rels) == 1 else 'serving'}",
                        lambda keys: queries.gates(session, rels))
    return found.get(s.release.release_id)


def eval_gate_passed(session: Session, s: Subject) -> Evidence:
    """The release's latest eval gate passed, judged on the eval set version its bundle names."""
    if s.release is None:
        return _none("eval_gate_passed", s)
    rel, link = s.release, f"/releases/{s.release.release_id}"
    g = _gate(session, s)
    if g is None:
        return Evidence("eval_gate_passed", "no_evidence", f"release {rel.release_id} has no finished eval run", link)
    rate = g.get("pass_rate")
    shown = f" (pass rate {rate:.1%})" if isinstance(rate, (int, float)) else ""
    if g.get("status") != "pass":
        return Evidence("eval_gate_passed", "fail", f"the gate on release {rel.release_id} is {g.get('status')}"
                        f"{shown}, run {g.get('run_id')}", link)
    if not g.get("on_bundle_eval_set"):
        return Evidence("eval_gate_passed", "fail", f"run {g.get('run_id')} passed on another eval set version "
                        f"than release {rel.release_id}'s bundle names", link)
    return Evidence("eval_gate_passed", "pass", f"release {rel.release_id} passed its eval gate{shown}, "
                    f"run {g.get('run_id')}", link)


def safety_eval_passed(session: Session, s: Subject) -> Evidence:
    """The gate's eval run has no unsafe output."""
    if s.release is None:
        return _none("safety_eval_passed", s)
    g = _gate(session, s)
    link = f"/releases/{s.release.release_id}"
    if g is None:
        return Evidence("safety_eval_passed", "no_evidence", "no finished eval run", link)
    run = evals.get_run(session, g["run_id"])
    unsafe = ((run.summary or {}).get("by_error_category") or {}).get("unsafe_output", 0)
    return Evidence("safety_eval_passed", "pass" if unsafe == 0 else "fail",
                    f"{unsafe} unsafe outputs in run {g['run_id']}", link, run.finished_at)


def release_versioned(session: Session, s: Subject) -> Evidence:
    """The release is an immutable bundle with a content hash."""
    if s.release is None:
        return _none("release_versioned", s)
    rel = s.release
    return Evidence("release_versioned", "pass", f"bundle sha256 {rel.content_hash[:12]}",
                    f"/releases/{rel.release_id}", rel.created_at)


def fallback_defined(session: Session, s: Subject) -> Evidence:
    """The release's bundle names a fallback model."""
    if s.release is None:
        return _none("fallback_defined", s)
    fb = s.release.bundle.get("fallback_model")
    link = f"/releases/{s.release.release_id}"
    if fb:
        return Evidence("fallback_defined", "pass", f"fallback {fb} on release {s.release.release_id}", link)
    return Evidence("fallback_defined", "fail", f"no fallback model on release {s.release.release_id} (bundle or "
                    "catalog)", link)


def _approvals(kind: str, session: Session, s: Subject) -> Evidence:
    if s.release is None:
        return _none(kind, s)
    missing = approvals.missing_approvals(session, s.release)
    link = f"/releases/{s.release.release_id}#approvals"
    if missing:
        return Evidence(kind, "fail", "missing " + ", ".join(missing), link)
    return Evidence(kind, "pass", "all approver roles of the tier approved", link)


def approvals_by_tier(session: Session, s: Subject) -> Evidence:
    """Every approver role the tier requires approved the release."""
    return _approvals("approvals_by_tier", session, s)


def change_control(session: Session, s: Subject) -> Evidence:
    """The change went through change control: a versioned bundle approved by every role of its tier."""
    return _approvals("change_control", session, s)


def release_notes(session: Session, s: Subject) -> Evidence:
    """The release has release notes."""
    if s.release is None:
        return _none("release_notes", s)
    link = f"/releases/{s.release.release_id}"
    if (s.release.notes or "").strip():
        return Evidence("release_notes", "pass", f"release {s.release.release_id} has release notes", link)
    return Evidence("release_notes", "fail", f"release {s.release.release_id} has no release notes", link)


def output_safety_checks(session: Session, s: Subject) -> Evidence:
    """The release carries a safety policy that checks outputs in the request path (takeoff.sdk.safety)."""
    if s.release is None:
        return _none("output_safety_checks", s)
    rel, link = s.release, f"/releases/{s.release.release_id}#safety"
    rules = [r for r in ((rel.bundle.get("safety") or {}).get("output") or []) if isinstance(r, dict)]
    if not rules:
        return Evidence("output_safety_checks", "fail", f"release {rel.release_id} carries no safety policy with "
                        "output checks", link, rel.created_at)
    shown = ", ".join(f"{r.get('detector')} ({r.get('action', 'flag')})" for r in rules)
    policy = rel.bundle.get("safety") or {}
    judged = any(r.get("detector") == "moderation" for stage in ("input", "output")
                 for r in (policy.get(stage) or []) if isinstance(r, dict))
    if judged and policy.get("on_error", "open") != "closed" and getattr(s.use_case, "risk_tier", "low") == "high":
        return Evidence("output_safety_checks", "fail", f"release {rel.release_id} checks outputs with a moderation "
                        "judge that fails open: a high-risk use case must set on_error: closed, so a judge that is "
                        "down or slow blocks instead of letting outputs through unchecked", link, rel.created_at)
    return Evidence("output_safety_checks", "pass", f"release {rel.release_id} checks outputs: {shown}", link,
                    rel.created_at)


def harmful_output_detection(session: Session, s: Subject) -> Evidence:
    """Readiness *Monitoring* from the medium tier on: the release serving production checks its outputs for harm
    (the seed: "can detect ... harmful outputs"); for a low-tier use case without a policy it does not apply."""
    checks = output_safety_checks(session, s)
    tier = getattr(s.use_case, "risk_tier", "low")
    if checks.status != "pass" and tier == "low":
        return Evidence("harmful_output_detection", "no_evidence", "not required for a low-tier use case",
                        checks.link, checks.at)
    return Evidence("harmful_output_detection", checks.status, checks.detail, checks.link, checks.at)


def register(registry: Registry) -> None:
    for name, fn, title in (
        ("eval_gate_passed", eval_gate_passed, "Eval gate passed on the release's eval set"),
        ("safety_eval_passed", safety_eval_passed, "No unsafe output in the gate's eval run"),
        ("release_versioned", release_versioned, "Release bundle is versioned"),
        ("fallback_defined", fallback_defined, "A fallback model is defined"),
        ("approvals_by_tier", approvals_by_tier, "Approvals of the tier are complete"),
        ("change_control", change_control, "Change went through change control"),
        ("release_notes", release_notes, "The release has release notes"),
    ):
        registry.provide(name, fn, title=title, domain="releases")
    registry.provide("output_safety_checks", output_safety_checks, title="Outputs pass safety filters in the request "
                     "path", domain="releases", attestable=False)
    registry.provide("harmful_output_detection", harmful_output_detection, title="Harmful outputs are detected in "
                     "production (medium and high tiers)", domain="releases", attestable=False)
