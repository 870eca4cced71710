"""POST /api/v1/apply: permissions per document kind, dry run, and one transaction for the batch."""
from __future__ import annotations

from sqlalchemy import func, select

from takeoff.core.db import transaction
from takeoff.governance.models import TierPolicyVersion
from takeoff.portfolio.models import UseCase

UC = {"kind": "UseCase", "key": "ap-one", "name": "One", "purpose": "p", "data_sources": ["d"], "expected_users": 3,
      "risk_tier": "low"}
POLICY = {"kind": "TierPolicy", "tier": "low", "approver_roles": ["business_owner"],
          "checklist": [{"id": "A", "title": "Eval", "evidence_kind": "eval_gate_passed", "mandatory": True}]}


def docs(*bodies):  # type: ignore[no-untyped-def]
    return {"documents": [{"file": "x.yaml", "line": 1 + 10 * i, "doc": b} for i, b in enumerate(bodies)]}


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_each_kind_needs_its_permission_and_nothing_is_written(client, users, factory) -> None:
    po = users.headers("product_owner")
    r = client.post("/api/v1/apply", json=docs(UC, POLICY), headers=po)
    assert r.status_code == 403 and "policy.write" in r.json()["error"]["message"]
    assert count(factory, UseCase) == 0
    r = client.post("/api/v1/apply", json=docs(UC), headers=po)
    assert r.status_code == 200 and r.json()["changes"][0]["action"] == "created"


def test_dry_run_writes_nothing_and_a_late_failure_rolls_back_everything(client, admin, factory) -> None:
    r = client.post("/api/v1/apply?dry_run=true", json=docs(UC, POLICY), headers=admin)
    assert r.status_code == 200 and r.json()["summary"] == "2 of 2 documents change"
    assert count(factory, UseCase) == 0 and count(factory, TierPolicyVersion) == 0
    raci = {"kind": "Raci", "use_case": "no-such-uc", "responsible": ["root"], "accountable": ["root"]}
    r = client.post("/api/v1/apply", json=docs(UC, POLICY, raci), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("x.yaml:21:")
    assert count(factory, UseCase) == 0 and count(factory, TierPolicyVersion) == 0
    r = client.post("/api/v1/apply", json=docs({"kind": "Gadget"}), headers=admin)
    assert r.status_code == 422 and "unknown kind 'Gadget'" in r.json()["error"]["message"]
    assert client.post("/api/v1/apply", json={"documents": []}, headers=admin).status_code == 422
