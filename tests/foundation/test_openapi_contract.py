"""The OpenAPI document as a contract for clients (issue 17.7): every operation has a unique snake_case operation id,
the operations the SDK, the CLI and CI call answer a typed schema, no JSON body is an untyped object, and the typed
answers carry every field the service returns."""
from __future__ import annotations

import re
from typing import Any

import pytest

# The operations the SDK (takeoff.sdk), the CLI (takeoff.commands) and CI scripts call: their ids are API.
CONSUMED = {
    "events_ingest", "feedback_record",
    "releases_create", "releases_get", "releases_list", "releases_promote", "releases_rollback", "releases_evaluate",
    "releases_approve", "releases_active",
    "evalruns_create", "evalruns_get", "evalruns_list",
    "metrics_series", "metrics_get",
    "datasources_check_run", "datasources_check_list",
    "reports_list", "reports_get",
    "usecases_create", "usecases_get", "usecases_list",
    "audit_verify",
}
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    ops: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            oid = op.get("operationId")
            assert oid and SNAKE.match(oid), f"{method.upper()} {path}: operation id {oid!r}"
            assert oid not in ops, f"{method.upper()} {path}: operation id {oid} also names {ops[oid][:2]}"
            ops[oid] = (method, path, op)
    return ops


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.one_backend
def test_operation_ids_are_unique_and_consumed_operations_are_typed(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    ops = _operations(spec)
    assert CONSUMED <= set(ops), CONSUMED - set(ops)
    for oid in sorted(CONSUMED):
        method, path, op = ops[oid]
        ok = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert len(ok) == 1, f"{oid}: {list(ok)}"
        content = next(iter(ok.values()))["content"]
        if oid == "reports_get":  # a report is text: Markdown or HTML, not JSON
            assert set(content) == {"text/markdown", "text/html"}, content
            assert all(c["schema"] == {"type": "string"} for c in content.values())
            continue
        schema = content["application/json"]["schema"]
        assert "$ref" in schema, f"{oid}: {schema}"
        props = _resolve(spec, schema).get("properties")
        assert props, f"{oid}: a bare object"


@pytest.mark.one_backend
def test_no_json_body_is_an_untyped_object(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    for oid, (method, path, op) in _operations(spec).items():
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        schema = _resolve(spec, body["schema"])
        alternatives = [_resolve(spec, s) for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        assert all(s.get("properties") for s in alternatives), f"{oid} ({method.upper()} {path}): {schema}"


def test_typed_answers_keep_every_field(client, admin, factory) -> None:  # type: ignore[no-untyped-def]
    from takeoff.audit import service as audit
    from takeoff.core.db import transaction
    from takeoff.portfolio import service as portfolio

    body = {"key": "typed", "name": "Typed", "purpose": "p", "data_sources": ["d"], "expected_users": 3,
            "risk_tier": "low", "kpis": {"north_star": {"name": "csat", "unit": "score", "direction": "higher_is_better"},
                                         "guardrails": [{"name": "cost", "unit": "USD", "direction": "lower_is_better"},
                                                        {"name": "errors", "unit": "ratio",
                                                         "direction": "lower_is_better"}]}}
    created = client.post("/api/v1/usecases", json=body, headers=admin)
    assert created.status_code == 201, created.text
    with transaction(factory) as s:
        view = portfolio.view(portfolio.get(s, "typed"))
        count, _ = audit.verify_chain(s)
    assert created.json() == view
    assert client.get("/api/v1/usecases/typed", headers=admin).json() == view
    assert client.get("/api/v1/usecases", headers=admin).json() == {"use_cases": [view]}
    assert client.get("/api/v1/audit/verify", headers=admin).json() == {"ok": True, "entries": count, "problem": None}
    active = client.get("/api/v1/usecases/typed/active", headers=admin).json()
    assert active == {"use_case": "typed", "releases": []}
    reports = client.get("/api/v1/reports", headers=admin).json()["reports"]
    assert reports and all(set(r) == {"name", "title"} for r in reports)
