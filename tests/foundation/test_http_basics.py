"""HTTP basics: health, readiness, metrics, OpenAPI, the one error shape, body limits."""
from __future__ import annotations


def _is_error(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_health_ready_metrics_openapi(client, admin):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    client.get("/api/v1/me", headers=admin)
    metrics = client.get("/metrics").text
    assert 'takeoff_http_requests_total{method="GET",route="/api/v1/me",status="200"}' in metrics
    assert "takeoff_http_request_duration_seconds_bucket" in metrics
    assert 'takeoff_jobs{status="queued"}' in metrics
    spec = client.get("/openapi.json").json()
    assert "/api/v1/tokens" in spec["paths"]


def test_readyz_reports_pending_migrations(client, engine):
    from sqlalchemy import text

    with engine.begin() as conn:
        heads = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
        conn.execute(text("DELETE FROM alembic_version"))
    try:
        err = _is_error(client.get("/readyz"), 503, "not_ready")
        assert "migrations pending" in err["message"]
    finally:
        with engine.begin() as conn:
            for h in heads:
                conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": h})


def test_unknown_route_and_method_use_error_shape(client, admin):
    _is_error(client.get("/api/v1/nothing-here", headers=admin), 404, "not_found")
    _is_error(client.put("/healthz"), 405, "method_not_allowed")


def test_malformed_json_is_400(client, admin):
    r = client.post("/api/v1/tokens", content=b'{"name": ', headers={**admin, "content-type": "application/json"})
    _is_error(r, 400, "malformed_json")


def test_schema_violation_is_422_listing_fields(client, admin):
    r = client.post("/api/v1/tokens", json={"name": "", "expires_days": 0, "bogus": 1}, headers=admin)
    err = _is_error(r, 422, "invalid")
    fields = {d["field"] for d in err["details"]}
    assert {"name", "expires_days", "bogus"} <= fields
    assert client.get("/api/v1/tokens", headers=admin).json()["items"][0]["name"] == "test"  # nothing written


def test_body_over_limit_is_413(client, admin):
    big = b"x" * 1_100_000
    r = client.post("/api/v1/tokens", content=big, headers={**admin, "content-type": "application/json"})
    _is_error(r, 413, "too_large")


def test_missing_expired_revoked_token_are_401(client, users, factory):
    from datetime import timedelta

    from sqlalchemy import update

    from takeoff.auth.models import ApiToken
    from takeoff.core.db import transaction, utcnow

    _is_error(client.get("/api/v1/me"), 401)
    _is_error(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)
    _is_error(client.get("/api/v1/me", headers={"Authorization": "Bearer tko_not-a-token"}), 401)
    name = users.create("viewer")
    expired = users.token(name, expires_days=1)
    with transaction(factory) as s:
        s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    _is_error(client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}), 401)
    live = users.token(name)
    h = {"Authorization": f"Bearer {live}"}
    assert client.get("/api/v1/me", headers=h).status_code == 200
    tid = client.get("/api/v1/tokens", headers=h).json()["items"][0]["id"]
    assert client.delete(f"/api/v1/tokens/{tid}", headers=h).status_code == 200
    _is_error(client.get("/api/v1/me", headers=h), 401)


def test_token_last_used_recorded_and_secret_never_listed(client, admin):
    created = client.post("/api/v1/tokens", json={"name": "ci", "expires_days": 30}, headers=admin)
    assert created.status_code == 201
    secret = created.json()["token"]
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    listed = client.get("/api/v1/tokens", headers=admin).json()["items"]
    ci = next(t for t in listed if t["name"] == "ci")
    assert ci["last_used_at"] is not None and ci["expires_at"] is not None
    assert secret not in str(listed)


def test_role_without_permission_gets_403_naming_it(client, users):
    h = users.headers("viewer")
    err = _is_error(client.post("/api/v1/users", json={"username": "x1", "roles": ["viewer"]}, headers=h), 403)
    assert "user.admin" in err["message"]
