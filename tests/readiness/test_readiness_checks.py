"""The seven readiness items as pure judgements over evidence kinds, the blocking kinds and the verdict."""
from __future__ import annotations

from dataclasses import replace

import pytest

from takeoff.evidence.registry import Evidence
from takeoff.readiness import checks as c

ORG = {"roles_least_privilege", "tokens_expire", "audit_chain_verified"}


def ready() -> dict[str, Evidence]:
    return {k: Evidence(k, "pass", f"{k} ok", f"/x/{k}", scope="organization" if k in ORG else "use_case")
            for k in c.kinds_read()}


def by_item(ev: dict[str, Evidence], mandatory: frozenset[str] = frozenset(c.ITEMS)) -> dict[str, c.ItemResult]:
    return {i.item: i for i in c.evaluate(ev, mandatory)}


def with_(ev: dict[str, Evidence], kind: str, status: str, detail: str = "", link: str = "",
          items: tuple[tuple[str, str], ...] = ()) -> dict[str, Evidence]:
    return {**ev, kind: replace(ev[kind], status=status, detail=detail or ev[kind].detail,
                                link=link or ev[kind].link, items=items)}


def test_all_evidence_green_is_ready_to_scale():
    items = c.evaluate(ready(), frozenset(c.ITEMS))
    assert [i.item for i in items] == list(c.ITEMS) and len(items) == 7
    assert all(i.status == "pass" for i in items)
    v = c.verdict(items, ready())
    assert v.ready and v.label == "ready to scale" and v.passed == 7 and v.blocking == []
    assert {i.gap for i in items} == set(c.GAPS)


def test_an_item_without_evidence_reads_no_evidence_never_pass():
    r = by_item(with_(ready(), "eval_gate_passed", "no_evidence", "no release is in production"))["evaluation"]
    assert r.status == "no_evidence" and r.reason.startswith("no evidence") and "no release" in r.reason
    v = c.verdict(c.evaluate(with_(ready(), "eval_gate_passed", "no_evidence"), frozenset({"evaluation"})))
    assert not v.ready and "mandatory item Evaluation is without evidence" in v.reasons


def test_one_failing_kind_fails_its_item_and_names_it():
    ev = with_(ready(), "telemetry_flowing", "fail", "no telemetry ever received")
    r = by_item(ev)["monitoring"]
    assert r.status == "fail" and r.reason == "no telemetry ever received" and r.evidence == "/x/telemetry_flowing"
    assert [k["kind"] for k in r.kinds] == ["monitoring_configured", "telemetry_flowing", "harmful_output_detection",
                                            "human_review"]


def test_human_review_counts_where_a_queue_exists():
    r = by_item(with_(ready(), "human_review", "no_evidence", "no annotation queue"))["monitoring"]
    assert r.status == "pass" and "no annotation queue (does not apply)" in r.reason
    r = by_item(with_(ready(), "human_review", "fail", "no review completed in 30 days in replies"))["monitoring"]
    assert r.status == "fail" and r.reason == "no review completed in 30 days in replies"


def test_security_says_what_is_organization_wide_and_judges_the_use_case_own_evidence():
    r = by_item(ready())["security"]
    assert r.status == "pass" and r.scope == "mixed"
    assert "organization-wide: audit_chain_verified ok" in r.reason and "organization-wide: access" not in r.reason
    scopes = {k["kind"]: k["scope"] for k in r.kinds}
    assert scopes["audit_chain_verified"] == "organization" and scopes["access_least_privilege"] == "use_case"
    # a use case without data sources: its access rules do not apply, the item still passes on the rest
    r = by_item(with_(ready(), "access_least_privilege", "no_evidence", "no data source"))["security"]
    assert r.status == "pass" and "no data source (does not apply)" in r.reason
    # its own tokens failing fails its security, whatever the organization shows
    r = by_item(with_(ready(), "use_case_tokens_scoped", "fail", "olivia's token ci carries the admin role"))["security"]
    assert r.status == "fail" and "olivia's token" in r.reason


@pytest.mark.parametrize("kind", c.BLOCKING_KINDS)
def test_every_blocking_kind_blocks_even_when_all_items_pass(kind):
    ev = with_(ready(), kind, "fail", "the thing", "/thing/1", items=(("open thing 1", "/thing/1"),
                                                                      ("open thing 2", "/thing/2")))
    items = c.evaluate(ev, frozenset())
    assert all(i.status == "pass" for i in items)
    v = c.verdict(items, {k: ev[k] for k in c.BLOCKING_KINDS})
    assert not v.ready and v.label == "not ready"
    assert v.blocking == [{"kind": kind, "text": "open thing 1", "link": "/thing/1"},
                          {"kind": kind, "text": "open thing 2", "link": "/thing/2"}]
    assert "open thing 1" in v.reasons and "open thing 2" in v.reasons


def test_blocking_kind_without_evidence_does_not_invent_a_block():
    ev = with_(ready(), "data_sla_met", "no_evidence")
    assert c.verdict(c.evaluate(ev, frozenset()), ev).ready


def test_verdict_needs_most_items_and_every_mandatory_one():
    low = with_(ready(), "fallback_exercised", "fail", "never exercised")
    assert c.verdict(c.evaluate(low, frozenset({"evaluation"}))).ready
    assert not c.verdict(c.evaluate(low, frozenset({"evaluation", "fallbacks"}))).ready
    many = low
    for k in ("data_sla_green", "roles_least_privilege", "usage_policy"):
        many = with_(many, k, "fail")
    v = c.verdict(c.evaluate(many, frozenset()))
    assert not v.ready and "only 3 of 7" in v.reasons[-1]


def test_tier_policy_evidence_kinds_decide_mandatory_items():
    assert c.mandatory_items(["owner_named", "fallback_defined"]) == {"decision_ownership", "fallbacks"}
    assert c.mandatory_items(["audit_chain_verified"]) == {"security"}
    assert c.mandatory_items(None) == frozenset(c.ITEMS)
    with pytest.raises(ValueError):
        c.mandatory_items("owner_named")


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError):
        c.evaluate("nope", frozenset())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="was not gathered"):
        c.evaluate({k: v for k, v in ready().items() if k != "usage_policy"}, frozenset())
    with pytest.raises(ValueError):
        c.verdict([])
