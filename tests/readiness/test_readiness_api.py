"""The readiness API computes the seven items from live evidence and never invents a pass."""
from __future__ import annotations

from tests.outcomes.conftest import KPIS


def test_use_case_readiness_from_live_evidence(client, admin, users):
    owner = users.create("business_owner", username="olivia")
    product = users.create("product_owner", username="pablo")
    body = {"key": "invoice-anomaly", "name": "Invoice anomaly detection", "purpose": "Flag odd invoices",
            "data_sources": ["erp"], "expected_users": 10, "risk_tier": "medium", "kpis": KPIS,
            "business_owner": owner, "product_owner": product}
    assert client.post("/api/v1/usecases", json=body, headers=admin).status_code == 201
    r = client.get("/api/v1/usecases/invoice-anomaly/readiness", headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()
    items = {i["item"]: i for i in out["items"]}
    assert len(items) == 7
    assert items["decision_ownership"]["status"] == "pass"
    assert items["evaluation"]["status"] in ("fail", "no_evidence")
    assert items["monitoring"]["status"] in ("fail", "no_evidence")
    assert out["verdict"]["ready"] is False
    assert all(i["gap"] in ("data and context", "ownership", "reliability", "security and privacy", "adoption")
               for i in out["items"])
    # a usage policy moves change management forward but feedback and notes are still missing
    client.put("/api/v1/usecases/invoice-anomaly/usage-policy",
               json={"approved_uses": ["flag"], "prohibited_uses": ["block payments"], "trust_vs_verify": "verify"},
               headers=admin)
    again = {i["item"]: i for i in client.get("/api/v1/usecases/invoice-anomaly/readiness", headers=admin).json()["items"]}
    assert "no usage policy" not in again["change_management"]["reason"]
    port = client.get("/api/v1/readiness", headers=admin).json()
    assert [u["use_case"] for u in port["use_cases"]] == ["invoice-anomaly"] and port["ready"] == 0
    assert client.get("/api/v1/usecases/nope/readiness", headers=admin).status_code == 404
    assert client.get("/api/v1/readiness").status_code == 401
