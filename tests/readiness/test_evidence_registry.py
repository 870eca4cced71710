"""The evidence registry: every declared kind has exactly one provider or is attestation-only, and nothing reaches
evidence through a string-addressed import."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import takeoff
from takeoff.evidence import defaults
from takeoff.evidence.registry import Evidence, Registry, Subject, evidence_kinds
from takeoff.governance.frameworks import load_controls
from takeoff.governance.policy_defaults import DEFAULT_TIER_POLICIES, EVIDENCE_KINDS, validate_tier_policy
from takeoff.readiness import checks

SRC = Path(takeoff.__file__).parent


def declared_kinds() -> set[str]:
    """Every kind something in takeoff names: the policy vocabulary, readiness, default checklists, controls."""
    out = set(EVIDENCE_KINDS) | set(checks.kinds_read())
    out |= {i["evidence_kind"] for p in DEFAULT_TIER_POLICIES.values() for i in p["checklist"]}
    out |= {c.evidence_kind for c in load_controls()}
    return out


def test_every_declared_kind_has_a_provider_or_is_attestation_only():
    assert evidence_kinds.unprovided(declared_kinds()) == []
    for name in declared_kinds():
        kind = evidence_kinds.get(name)
        assert kind is not None and (kind.provider is not None or kind.attestation_only), name


def test_the_check_fails_for_a_kind_nobody_provides():
    fresh = Registry("test", defaults.register)
    assert fresh.unprovided([*declared_kinds(), "pen_test_done"]) == ["pen_test_done"]


def test_automatic_controls_name_kinds_the_system_proves():
    for c in load_controls():
        if c.automatic:
            kind = evidence_kinds.get(c.evidence_kind)
            assert kind is not None and not kind.attestation_only, (c.id, c.evidence_kind)


def test_attestation_controls_name_no_kind_the_system_proves():
    """A control marked attestation whose kind has a provider would ask a person for what takeoff already proves."""
    for c in load_controls():
        if not c.automatic:
            kind = evidence_kinds.get(c.evidence_kind)
            assert kind is None or kind.provider is None, (c.id, c.evidence_kind)


def test_the_readiness_kinds_that_items_read_are_proven_not_attested():
    for name in checks.kinds_read():
        assert not evidence_kinds.get(name).attestation_only, name  # type: ignore[union-attr]


def test_a_kind_has_exactly_one_provider():
    r = Registry("test")
    r.provide("x_done", lambda s, sub: Evidence("x_done", "pass", "ok"), title="X", domain="test")
    with pytest.raises(ValueError, match="already registered by test"):
        r.provide("x_done", lambda s, sub: Evidence("x_done", "fail", "no"), title="X", domain="other")
    with pytest.raises(ValueError, match="already registered"):
        r.attestation_only("x_done", title="X", domain="other")
    with pytest.raises(ValueError, match="lower_snake_case"):
        r.provide("Bad Name", lambda s, sub: Evidence("x", "pass", ""), title="X", domain="test")


def test_gather_checks_what_a_provider_returns_and_memoises_per_subject():
    r = Registry("test")
    calls = []

    def org(session, sub):
        calls.append(1)
        return Evidence("org_ok", "pass", "fine")

    r.provide("org_ok", org, title="Org", domain="test", scope="organization")
    r.provide("bad", lambda s, sub: {"status": "pass"}, title="Bad", domain="test")  # type: ignore[arg-type,return-value]
    r.attestation_only("signed", title="Signed", domain="test")
    cache: dict = {}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    one, two = Subject(type("U", (), {"key": "a"})(), None, now, cache), Subject(type("U", (), {"key": "b"})(), None,
                                                                                 now, cache)
    e = r.gather(None, one, "org_ok")  # type: ignore[arg-type]
    assert e.scope == "organization" and r.gather(None, two, "org_ok") is e and len(calls) == 1  # type: ignore[arg-type]
    assert r.gather(None, one, "signed").status == "no_evidence"  # type: ignore[arg-type]
    assert r.gather(None, one, "nobody").status == "no_evidence"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must return Evidence"):
        r.gather(None, one, "bad")  # type: ignore[arg-type]


def test_a_registered_kind_is_accepted_by_tier_policy_validation():
    policy = {"tier": "low", "approver_roles": ["product_owner"],
              "checklist": [{"id": "CL-PEN", "title": "Pen test", "evidence_kind": "pen_test_done", "mandatory": True}]}
    with pytest.raises(ValueError, match="unknown evidence_kind 'pen_test_done'"):
        validate_tier_policy(policy)
    evidence_kinds.provide("pen_test_done", lambda s, sub: Evidence("pen_test_done", "pass", "ok"),
                           title="Pen test", domain="test")
    try:
        assert validate_tier_policy(policy).checklist[0].evidence_kind == "pen_test_done"
    finally:
        evidence_kinds.remove("pen_test_done")


EVIDENCE_CODE = [SRC / "evidence", SRC / "readiness", *SRC.glob("*/evidence.py")]


def test_no_string_addressed_import_reaches_evidence():
    files = [p for e in EVIDENCE_CODE for p in ([e] if e.is_file() else e.glob("*.py"))]
    assert len(files) > 12
    service = (SRC / "releases" / "approvals.py").read_text()
    checklist = service[service.index("# --- checklist"):service.index("def attest(")]
    for text, name in [(p.read_text(), str(p)) for p in files] + [(checklist, "releases checklist")]:
        assert not re.search(r"importlib|optional\(|capability\(|__import__", text), name
    for module in defaults.MODULES:
        assert callable(module.register), module.__name__
