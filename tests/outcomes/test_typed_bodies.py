"""Outcome request bodies are models (issue 17.7): a wrong shape is a 422 naming the field and writes nothing; one
measurement on its own is still read as a list of one."""
from __future__ import annotations

from tests.outcomes.conftest import make_use_case


def test_outcome_bodies_name_the_field(client, admin) -> None:  # type: ignore[no-untyped-def]
    make_use_case(client, admin)
    base = "/api/v1/usecases/support-reply"
    one = {"kpi": "handle time", "value": "fast", "unit": "min", "measured_on": "2026-01-05"}
    cases = [
        ("POST", f"{base}/kpis/measurements", one, "measurements.0.value"),
        ("POST", f"{base}/kpis/measurements", {"measurements": [dict(one, value=7.5), one]}, "measurements.1.value"),
        ("PUT", f"{base}/roi", {"build_cost": -1, "unit_value": 2}, "build_cost"),
        ("PUT", f"{base}/usage-policy", {"approved_uses": ["x"], "prohibited_uses": ["y"], "trust_vs_verify": "z",
                                          "vibes": "good"}, "vibes"),
        ("POST", f"{base}/training", {"audience": "aliens", "title": "t"}, "audience"),
        ("POST", f"{base}/feedback", {"rating": 9}, "rating"),
        ("POST", "/api/v1/reviews", {"quarter": "2026-Q5"}, "quarter"),
    ]
    for method, path, payload, field in cases:
        r = client.request(method, path, json=payload, headers=admin)
        assert r.status_code == 422, (path, r.text)
        err = r.json()["error"]
        assert err["details"][0]["field"] == field and field in err["message"], (path, err)
    kpis = client.get(f"{base}/kpis", headers=admin).json()
    assert not any(k.get("measurements") for k in kpis["kpis"]), kpis
    r = client.post(f"{base}/kpis/measurements", json=dict(one, value=7.5), headers=admin)
    assert r.status_code == 201 and r.json()["recorded"] == 1
    assert client.get("/api/v1/reviews", headers=admin).json() == {"reviews": []}
