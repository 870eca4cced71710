"""Who may do what in the portfolio and governance: every role against each representative action."""
from __future__ import annotations


def test_permission_matrix(client, admin, assert_matrix) -> None:
    r = client.post("/api/v1/usecases", headers=admin, json={
        "key": "mx", "name": "Matrix", "purpose": "p", "data_sources": ["d"], "expected_users": 1, "risk_tier": "low"})
    assert r.status_code == 201
    just = "Treat as high: it touches regulated customer decisions."
    assert_matrix({
        "read": ("GET", "/api/v1/usecases/mx", None),
        "usecase.write": ("POST", "/api/v1/usecases", {"key": "mx", "name": "dup"}),
        "usecase.transition": ("POST", "/api/v1/usecases/mx/transitions", {"to": "paused", "reason": "matrix"}),
        "usecase.score": ("POST", "/api/v1/usecases/mx/scores", {"value": 3, "feasibility": 3, "risk": 3}),
        "risk.override": ("POST", "/api/v1/usecases/mx/risk/override", {"tier": "high", "justification": just}),
        "risk.classify": ("PUT", "/api/v1/usecases/mx/eu-ai-act", {"interacts_with_people": True}),
        "governance.write": ("PUT", "/api/v1/usecases/mx/raci", {"responsible": ["root"], "accountable": ["root"]}),
        "policy.write": ("PUT", "/api/v1/governance/policies/low", {"approver_roles": []}),
    })
